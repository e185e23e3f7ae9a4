"""Bulk end on SQLite: ``collabctl end --from -`` against the plain-sqlite3 floor.

    python benchmarks/bulk_end.py              # N = 100 000 (also N/20 and N/10)
    python benchmarks/bulk_end.py --n 20000    # a quicker run

For each size: a database with that many companies ready to end (a main
contact, an active eEkonomi subscription and collaboration), then, from the
same starting copy each time:

- the floor (floor_sqlite.py): the same changes with plain sqlite3 in one
  process and one transaction, audit event and hash chain included;
- the floor with the two notifications an end queues (``--outbox``), the same
  SQL work as collabctl's end;
- collabctl itself reading the customer numbers from stdin and writing JSON
  Lines results (checked: every item ``ended``, every collaboration ended, one
  audit event and two queued notifications each);
- a re-run of the same input (everything ``already-ended``) and a dry run.

The marginal cost per item (SPEC §6) is (time at N - time at N/20) / (N - N/20),
so start-up cancels out; peak memory is compared between N/10 and N. Times are
medians of ``--repeat`` runs; CPU time (user + system of the process) is the
steadier figure on a shared machine. Prints Markdown tables.
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
RUNS = ("floor", "floor_outbox", "end", "rerun", "dry")


def statuses(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            status = json.loads(line)["status"]
            counts[status] = counts.get(status, 0) + 1
    return counts


def check_all_ended(db: Path, n: int, *, messages: int) -> None:
    with sqlite3.connect(db) as con:
        active, events, read_only, queued = con.execute(
            "SELECT (SELECT count(*) FROM collaboration WHERE state = 'active'),"
            " (SELECT count(*) FROM audit_event WHERE action = 'end'),"
            " (SELECT count(*) FROM subscription WHERE state = ?),"
            " (SELECT count(*) FROM outbox WHERE event = 'end')",
            (AFTER,),
        ).fetchone()
    if (active, events, read_only, queued) != (0, n, n, messages):
        raise SystemExit(
            f"unexpected state after the run: {active=} {events=} {read_only=} {queued=}"
        )


def measure(n: int, repeat: int) -> dict[str, Any]:
    with common.temp_home() as home:
        env = common.env_for(home)
        db = common.fill_database(home, n, SERVICE)
        start = common.snapshot(db)
        numbers = common.write_numbers_file(home / "numbers.txt", n)
        out = home / "results.jsonl"
        floor = [common.PYTHON, str(HERE / "floor_sqlite.py"), str(db), SERVICE, OUTCOME, AFTER]
        runs: dict[str, list[common.Measured]] = {key: [] for key in RUNS}
        for _ in range(repeat):
            common.restore(start, db)
            runs["floor"].append(common.run(floor, env=env, stdin=numbers))
            check_all_ended(db, n, messages=0)

            common.restore(start, db)
            runs["floor_outbox"].append(common.run([*floor, "--outbox"], env=env, stdin=numbers))
            check_all_ended(db, n, messages=2 * n)

            common.restore(start, db)
            runs["end"].append(common.run(END, env=env, stdin=numbers, stdout_to=out))
            if statuses(out) != {"ended": n}:
                raise SystemExit(f"collabctl did not end every item: {statuses(out)}")
            check_all_ended(db, n, messages=2 * n)

            runs["rerun"].append(common.run(END, env=env, stdin=numbers, stdout_to=out))
            if statuses(out) != {"already-ended": n}:
                raise SystemExit(f"the re-run did not report already-ended: {statuses(out)}")

            common.restore(start, db)
            runs["dry"].append(
                common.run([*END, "--dry-run"], env=env, stdin=numbers, stdout_to=out)
            )
            if statuses(out) != {"would-end": n}:
                raise SystemExit(f"the dry run did not report would-end: {statuses(out)}")

    def median(measured: list[common.Measured]) -> common.Measured:
        return sorted(measured, key=lambda m: m.seconds)[len(measured) // 2]

    return {"n": n, **{key: median(measured) for key, measured in runs.items()}}


def marginal(low: dict[str, Any], high: dict[str, Any], key: str, clock: str) -> float:
    """µs per item between the two sizes."""
    extra = high["n"] - low["n"]
    return (getattr(high[key], clock) - getattr(low[key], clock)) / extra * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="items to end (default 100000)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (median)")
    args = parser.parse_args()
    sizes = sorted({max(args.n // 20, 1), max(args.n // 10, 1), args.n})
    print(f"machine: {common.machine()}")
    print(f"`python benchmarks/bulk_end.py --n {args.n} --repeat {args.repeat}`\n")
    results = []
    for size in sizes:
        results.append(measure(size, args.repeat))
        print(f"  {size:,} items measured", file=sys.stderr, flush=True)

    def pair(m: common.Measured) -> str:
        return f"{m.seconds:.2f} / {m.cpu_seconds:.2f}"

    rows = [
        (
            f"{r['n']:,}",
            pair(r["floor"]),
            pair(r["floor_outbox"]),
            pair(r["end"]),
            f"{r['n'] / r['end'].seconds:,.0f}",
            pair(r["rerun"]),
            pair(r["dry"]),
            f"{r['floor_outbox'].peak_rss_mb:.1f}",
            f"{r['end'].peak_rss_mb:.1f}",
        )
        for r in results
    ]
    print(
        common.table(
            (
                "items",
                "floor s (wall / CPU)",
                "floor + outbox s",
                "end s (wall / CPU)",
                "items/s",
                "re-run s",
                "dry run s",
                "floor + outbox peak MB",
                "end peak MB",
            ),
            rows,
        )
    )
    low, high = results[0], results[-1]
    print(f"\nmarginal cost per item, {low['n']:,} to {high['n']:,} items:\n")
    marginal_rows = []
    verdicts: list[tuple[str, float, float]] = []
    for label, key in (("end", "end"), ("re-run (already ended)", "rerun"), ("dry run", "dry")):
        for clock, name in (("seconds", "wall"), ("cpu_seconds", "CPU")):
            ours = marginal(low, high, key, clock)
            floor = marginal(low, high, "floor", clock)
            with_outbox = marginal(low, high, "floor_outbox", clock)
            marginal_rows.append(
                (
                    label,
                    name,
                    f"{ours:.1f}",
                    f"{floor:.1f}",
                    f"{ours / floor:.2f}x",
                    f"{with_outbox:.1f}",
                    f"{ours / with_outbox:.2f}x",
                )
            )
            if key == "end":
                verdicts.append((name, ours / floor, ours / with_outbox))
    print(
        common.table(
            (
                "run",
                "clock",
                "collabctl µs/item",
                "floor µs/item",
                "ratio",
                "floor + outbox µs/item",
                "ratio",
            ),
            marginal_rows,
        )
    )
    print()
    for name, ratio, with_outbox in verdicts:
        print(
            f"speed ({name}): {ratio:.2f}x the floor, {with_outbox:.2f}x the floor with the "
            f"notifications (target <= {TARGET_RATIO}x): "
            f"{'met' if ratio <= TARGET_RATIO else 'MISSED'}"
        )
    tenth = next(r for r in results if r["n"] == max(args.n // 10, 1))
    small_mb, large_mb = tenth["end"].peak_rss_mb, high["end"].peak_rss_mb
    flat = large_mb <= small_mb * 1.10
    print(
        f"memory: {small_mb:.1f} MB at {tenth['n']:,} items, {large_mb:.1f} MB at "
        f"{high['n']:,} (flat: within 10%): {'met' if flat else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
