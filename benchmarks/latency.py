"""Per-command latency: ``list`` and ``show`` on the demo data against the bare import of
their libraries, ``python -c "import sqlalchemy, typer, rich"`` (SPEC 8.5: at most 1.3x).

    python benchmarks/latency.py                      # 21 interleaved runs of each
    python benchmarks/latency.py --runs 7             # a quick run
    python benchmarks/latency.py --before /tmp/old    # also a source tree of an older collabctl

Every command runs as a user runs it, a fresh process, on a temporary
``COLLABCTL_HOME`` loaded with ``collabctl demo``; collabctl as ``python -m
collabctl`` with the source tree on ``PYTHONPATH``, so that ``--before`` (another
tree, e.g. ``git archive REV src | tar -x -C /tmp/old``) runs the same way, on
its own copy of the demo data. The runs of all commands are interleaved, so a
change in the machine's load hits them alike; the table gives the median wall and
CPU (user + system) time of each and its ratio to the baseline. Also shown, as
the floor of any Typer command: a Typer app with six options, doing nothing
(this Typer coerces option values with pydantic, which the bare import does not
load).

Python may write bytecode during the warm-up runs (PYTHONDONTWRITEBYTECODE is
dropped), as it does for anyone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

SOURCE = Path(__file__).resolve().parent.parent / "src"
BASELINE = 'python -c "import sqlalchemy, typer, rich"'
TARGET = 1.3
TYPER_APP = """
from typing import Annotated
import typer, sqlalchemy, rich
app = typer.Typer()
@app.command()
def main(
    a: Annotated[str | None, typer.Option("--a")] = None,
    b: Annotated[str | None, typer.Option("--b")] = None,
    c: Annotated[str | None, typer.Option("--c")] = None,
    d: Annotated[int | None, typer.Option("--d")] = None,
    e: Annotated[bool, typer.Option("--e")] = False,
    f: Annotated[str, typer.Option("--f")] = "x",
) -> None:
    pass
@app.command()
def other() -> None:
    pass
app()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="runs of each command (median)")
    parser.add_argument("--before", type=Path, help="the src directory of another collabctl")
    args = parser.parse_args()
    trees = {"": SOURCE}
    if args.before is not None:
        trees[" (before)"] = args.before.resolve()
    load_before = os.getloadavg()
    with common.temp_home() as tmp:
        commands: list[tuple[str, list[str], dict[str, str]]] = []
        base_env = common.env_for(tmp / "base")
        base_env.pop("PYTHONDONTWRITEBYTECODE", None)
        commands.append(
            (BASELINE, [common.PYTHON, "-c", "import sqlalchemy, typer, rich"], base_env)
        )
        app = tmp / "typer_app.py"
        app.write_text(TYPER_APP)
        commands.append(
            ("a Typer command with six options", [common.PYTHON, str(app), "main"], base_env)
        )
        for suffix, source in trees.items():
            env = common.env_for(tmp / f"home{len(commands)}")
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPATH"] = str(source)
            collabctl = [common.PYTHON, "-m", "collabctl"]
            common.run([*collabctl, "demo"], env=env)
            commands.append((f"collabctl list{suffix}", [*collabctl, "list"], env))
            commands.append((f"collabctl show 1001{suffix}", [*collabctl, "show", "1001"], env))
        for _, command, env in commands:  # warm the file cache and .pyc files
            common.run(command, env=env)
        walls: dict[str, list[float]] = {label: [] for label, *_ in commands}
        cpus: dict[str, list[float]] = {label: [] for label, *_ in commands}
        for _ in range(args.runs):
            for label, command, env in commands:
                measured = common.run(command, env=env)
                walls[label].append(measured.seconds)
                cpus[label].append(measured.cpu_seconds)
    load_after = os.getloadavg()
    wall = {label: statistics.median(values) for label, values in walls.items()}
    cpu = {label: statistics.median(values) for label, values in cpus.items()}
    rows = []
    for label, *_ in commands:
        ratio = (
            "-"
            if label == BASELINE
            else f"{wall[label] / wall[BASELINE]:.2f}x / {cpu[label] / cpu[BASELINE]:.2f}x"
        )
        rows.append((label, f"{wall[label] * 1000:.0f}", f"{cpu[label] * 1000:.0f}", ratio))
    print(f"{common.machine()}")
    print(f"load average (1, 5, 15 min) before: {load_before}, after: {load_after}")
    print(f"`python benchmarks/latency.py --runs {args.runs}`, interleaved, medians\n")
    print(
        common.table(
            ("command", "median wall ms", "median CPU ms", f"ratio to `{BASELINE}` (wall / CPU)"),
            rows,
        )
    )
    print()
    for label in ("collabctl list", "collabctl show 1001"):
        worst = max(wall[label] / wall[BASELINE], cpu[label] / cpu[BASELINE])
        verdict = "met" if worst <= TARGET else "MISSED"
        print(f"{label}: {worst:.2f}x (the larger of wall and CPU), target <= {TARGET}x: {verdict}")


if __name__ == "__main__":
    main()
