"""The test suite's time: the README's test command, run N times, with what the whole
machine's CPUs did meanwhile (from /proc/stat: the suite's workers, the collabctl
processes they start and the PostgreSQL servers all count).

    python benchmarks/suite_time.py --runs 3

Run it on a quiet machine: anything else running counts too.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMAND = [sys.executable, "-m", "pytest", "-n", "auto", "--dist", "worksteal", "-q"]


def cpu_seconds() -> dict[str, float]:
    """The machine's CPU time so far, by kind (user, system, idle, ...), in seconds."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = stat.readline().split()[1:9]
    ticks = os.sysconf("SC_CLK_TCK")
    names = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
    return {name: int(value) / ticks for name, value in zip(names, fields, strict=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    print(f"{'run':>3}  {'wall s':>7}  {'user s':>7}  {'system s':>8}  {'idle s':>7}  tests")
    for run in range(1, args.runs + 1):
        before, start = cpu_seconds(), time.monotonic()
        result = subprocess.run(COMMAND, cwd=ROOT, capture_output=True, text=True, check=False)
        wall, after = time.monotonic() - start, cpu_seconds()
        summary = re.findall(r"^=* ?(\d+ passed.*?) in [\d.]+s", result.stdout, re.MULTILINE)
        if result.returncode != 0:
            sys.exit(f"the suite failed (exit {result.returncode}):\n{result.stdout[-3000:]}")
        used = {kind: after[kind] - before[kind] for kind in after}
        print(
            f"{run:>3}  {wall:7.1f}  {used['user'] + used['nice']:7.1f}  "
            f"{used['system'] + used['irq'] + used['softirq']:8.1f}  {used['idle']:7.1f}  "
            f"{summary[-1] if summary else '?'}"
        )


if __name__ == "__main__":
    main()
