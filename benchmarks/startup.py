"""Start-up cost: collabctl's quick commands against the bare import of their libraries.

    python benchmarks/startup.py            # 21 runs of each
    python benchmarks/startup.py --runs 5   # a quick run

Every command runs as a user runs it (the installed console script, a fresh
process) on a temporary COLLABCTL_HOME loaded with the demo data. The runs of
all commands are interleaved, so a change in the machine's load hits them
alike; the table gives the median wall and CPU (user + system) time of each,
and its ratio to the baseline it is held against.

Python may write bytecode during the warm-up runs, as it does for anyone
(PYTHONDONTWRITEBYTECODE is dropped): an installed collabctl has its ``.pyc``
files, and a source file edited since its ``.pyc`` was written would otherwise
be compiled again in every measured run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

IMPORT_TYPER = "python -c 'import typer'"
IMPORT_ALL = "python -c 'import typer, sqlalchemy, sqlmodel, rich'"

#: (label, arguments, baseline label, target ratio or None)
COMMANDS: list[tuple[str, list[str], str | None, float | None]] = [
    (IMPORT_TYPER, [common.PYTHON, "-c", "import typer"], None, None),
    (IMPORT_ALL, [common.PYTHON, "-c", "import typer, sqlalchemy, sqlmodel, rich"], None, None),
    ("collabctl --version", [*common.COLLABCTL, "--version"], IMPORT_TYPER, 1.5),
    ("collabctl --help", [*common.COLLABCTL, "--help"], IMPORT_TYPER, None),
    ("collabctl list", [*common.COLLABCTL, "list"], IMPORT_ALL, 1.3),
    (
        "collabctl list --format jsonl",
        [*common.COLLABCTL, "list", "--format", "jsonl"],
        IMPORT_ALL,
        None,
    ),
    (
        "collabctl end 1001 ... --dry-run",
        [
            *common.COLLABCTL,
            "end",
            "1001",
            "--service",
            "eekonomi",
            "--outcome",
            "continue",
            "--by",
            "office",
            "--dry-run",
        ],
        IMPORT_ALL,
        None,
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="runs of each command (median)")
    args = parser.parse_args()
    print(f"machine: {common.machine()}\n")
    with common.temp_home() as home:
        env = common.env_for(home)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        common.run([*common.COLLABCTL, "demo"], env=env)
        for _, command, _, _ in COMMANDS:  # warm the file cache and .pyc files
            common.run(command, env=env)
        walls: dict[str, list[float]] = {label: [] for label, *_ in COMMANDS}
        cpus: dict[str, list[float]] = {label: [] for label, *_ in COMMANDS}
        for _ in range(args.runs):
            for label, command, _, _ in COMMANDS:
                measured = common.run(command, env=env)
                walls[label].append(measured.seconds)
                cpus[label].append(measured.cpu_seconds)
    wall = {label: statistics.median(values) for label, values in walls.items()}
    cpu = {label: statistics.median(values) for label, values in cpus.items()}
    rows = []
    verdicts = []
    for label, _, baseline, target in COMMANDS:
        ratio_wall = wall[label] / wall[baseline] if baseline else None
        ratio_cpu = cpu[label] / cpu[baseline] if baseline else None
        rows.append(
            (
                label,
                f"{wall[label] * 1000:.0f}",
                f"{cpu[label] * 1000:.0f}",
                baseline or "-",
                f"{ratio_wall:.2f}x / {ratio_cpu:.2f}x" if ratio_wall and ratio_cpu else "-",
                f"<= {target}x" if target else "-",
            )
        )
        if target and ratio_wall and ratio_cpu:
            met = max(ratio_wall, ratio_cpu) <= target
            verdicts.append(
                f"{label}: {ratio_wall:.2f}x (wall) / {ratio_cpu:.2f}x (CPU) of `{baseline}`, "
                f"target <= {target}x: {'met' if met else 'MISSED'}"
            )
    print(
        common.table(
            (
                "command",
                "median wall ms",
                "median CPU ms",
                "baseline",
                "ratio (wall / CPU)",
                "target",
            ),
            rows,
        )
    )
    print(f"\n{args.runs} interleaved runs of each command")
    for verdict in verdicts:
        print(verdict)


if __name__ == "__main__":
    main()
