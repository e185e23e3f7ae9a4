"""Bulk end on SQLite: ``collabctl end --from -`` against the plain-sqlite3 floor.

    python benchmarks/bulk_end.py            # 100 000 items, memory at 10 000 and 100 000
    python benchmarks/bulk_end.py --n 5000   # a quick run

For each size: a fresh database with that many companies ready to end, then
(from the same starting copy each time) the floor (floor_sqlite.py: the same
updates with plain sqlite3 in one process), collabctl itself reading the
customer numbers from stdin and writing JSON Lines results, a re-run of the
same input (everything already ended) and a dry run. Prints Markdown tables:
wall time (median of --repeat runs), the ratio to the floor, and the peak
resident memory of each process.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

HERE = Path(__file__).resolve().parent
SERVICE, OUTCOME, AFTER = common.BULK_SERVICE, common.BULK_OUTCOME, "read-only"
END = [*common.COLLABCTL, *common.BULK_END_ARGS]
TARGET_RATIO = 3.0


def statuses(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            status = json.loads(line)["status"]
            counts[status] = counts.get(status, 0) + 1
    return counts


def check_all_ended(db: Path, n: int) -> None:
    with sqlite3.connect(db) as con:
        active = con.execute("SELECT count(*) FROM collaboration WHERE state = 'active'").fetchone()
        events = con.execute("SELECT count(*) FROM audit_event WHERE action = 'end'").fetchone()
        read_only = con.execute(
            "SELECT count(*) FROM subscription WHERE state = ?", (AFTER,)
        ).fetchone()
    if active[0] != 0 or events[0] != n or read_only[0] != n:
        raise SystemExit(
            f"unexpected state after the run: {active[0]=} {events[0]=} {read_only[0]=}"
        )


def measure(n: int, repeat: int) -> dict[str, Any]:
    with common.temp_home() as home:
        env = common.env_for(home)
        db = common.fill_database(home, n, SERVICE)
        start = common.snapshot(db)
        numbers = common.write_numbers_file(home / "numbers.txt", n)
        out = home / "results.jsonl"
        floor_cmd = [common.PYTHON, str(HERE / "floor_sqlite.py"), str(db), SERVICE, OUTCOME, AFTER]
        floors, ends, reruns, dries = [], [], [], []
        for _ in range(repeat):
            common.restore(start, db)
            floors.append(common.run(floor_cmd, env=env, stdin=numbers))
            check_all_ended(db, n)

            common.restore(start, db)
            ends.append(common.run(END, env=env, stdin=numbers, stdout_to=out))
            if statuses(out) != {"ended": n}:
                raise SystemExit(f"collabctl did not end every item: {statuses(out)}")
            check_all_ended(db, n)

            reruns.append(common.run(END, env=env, stdin=numbers, stdout_to=out))
            if statuses(out) != {"already-ended": n}:
                raise SystemExit(f"the re-run did not report already-ended: {statuses(out)}")

            common.restore(start, db)
            dries.append(common.run([*END, "--dry-run"], env=env, stdin=numbers, stdout_to=out))
            if statuses(out) != {"would-end": n}:
                raise SystemExit(f"the dry run did not report would-end: {statuses(out)}")

    def best(runs: list[common.Measured]) -> common.Measured:
        return sorted(runs, key=lambda m: m.seconds)[len(runs) // 2]

    return {
        "n": n,
        "floor": best(floors),
        "end": best(ends),
        "rerun": best(reruns),
        "dry": best(dries),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="items to end (default 100000)")
    parser.add_argument(
        "--memory-n",
        type=int,
        default=None,
        help="a smaller size to compare peak memory with (default n/10)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (median)")
    args = parser.parse_args()
    small = args.memory_n or max(args.n // 10, 1)
    print(f"machine: {common.machine()}\n")
    results = [measure(size, args.repeat) for size in sorted({small, args.n})]
    rows = []
    for r in results:
        floor, end, rerun, dry = r["floor"], r["end"], r["rerun"], r["dry"]
        rows.append(
            (
                f"{r['n']:,}",
                f"{floor.seconds:.2f} / {floor.cpu_seconds:.2f}",
                f"{end.seconds:.2f} / {end.cpu_seconds:.2f}",
                f"{end.seconds / floor.seconds:.2f}x / {end.cpu_seconds / floor.cpu_seconds:.2f}x",
                f"{r['n'] / end.seconds:,.0f}",
                f"{rerun.seconds:.2f} / {rerun.cpu_seconds:.2f}",
                f"{dry.seconds:.2f} / {dry.cpu_seconds:.2f}",
                f"{floor.peak_rss_mb:.1f}",
                f"{end.peak_rss_mb:.1f}",
            )
        )
    print(
        common.table(
            (
                "items",
                "floor s (wall / cpu)",
                "end s (wall / cpu)",
                "ratio (wall / cpu)",
                "items/s",
                "re-run s",
                "dry run s",
                "floor peak MB",
                "end peak MB",
            ),
            rows,
        )
    )
    largest = results[-1]
    wall = largest["end"].seconds / largest["floor"].seconds
    cpu = largest["end"].cpu_seconds / largest["floor"].cpu_seconds
    verdict = "met" if max(wall, cpu) <= TARGET_RATIO else "MISSED"
    print(
        f"\nspeed at {largest['n']:,} items: {wall:.2f}x the floor in wall time, {cpu:.2f}x in "
        f"CPU time (target <= {TARGET_RATIO}x): {verdict}"
    )
    if len(results) > 1:
        low, high = results[0]["end"].peak_rss_mb, largest["end"].peak_rss_mb
        flat = high <= low * 1.10 + 2
        print(
            f"memory: {low:.1f} MB at {results[0]['n']:,} items, {high:.1f} MB at "
            f"{largest['n']:,} (flat: within 10%): {'met' if flat else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
