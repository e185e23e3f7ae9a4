"""``collabctl log --verify`` over a large audit log: time and peak memory.

    python benchmarks/verify_log.py              # 1 000 000 events, memory also at 100 000
    python benchmarks/verify_log.py --n 100000   # a quicker run

For each size: a fresh embedded database (``collabctl db upgrade``) filled with
that many chained audit events over n/10 companies plus the chain without a
company (written with sqlite3, hashed as collabctl hashes them), then
``collabctl log --verify --format json`` in a fresh process, which must report
every event intact. Prints a Markdown table: wall and CPU time, events per
second and the peak resident memory of the verifying process.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

from collabctl.domain.audit_chain import chain_key, event_hash

VERIFY = [*common.COLLABCTL, "log", "--verify", "--format", "json"]


def fill(home: Path, n: int) -> Path:
    env = common.env_for(home)
    common.run([*common.COLLABCTL, "db", "upgrade"], env=env)
    db = home / "collabctl.db"
    companies = max(n // 10, 1)
    heads: dict[str, str] = {}
    with sqlite3.connect(db) as con:
        rows = []
        for index in range(n):
            number = None if index % 50 == 0 else f"{1_000_000 + index % companies}"
            event = {
                "at": f"2024-01-01T00:00:{index % 60:02d}.{index % 1_000_000:06d}Z",
                "actor": "benchmark",
                "db_user": "benchmark",
                "scope": "agent",
                "action": "end" if number else "import",
                "customer_number": number,
                "service": "eekonomi" if number else None,
                "details": {"outcome": "deactivate", "index": index, "forced": []},
            }
            key = chain_key(number)
            prev = heads.get(key)
            heads[key] = event_hash(event, prev)
            rows.append(
                (
                    event["at"],
                    event["action"],
                    number,
                    event["service"],
                    json.dumps(event["details"]),
                    prev,
                    heads[key],
                )
            )
            if len(rows) == 10_000:
                insert(con, rows)
                rows = []
        insert(con, rows)
    return db


def insert(con: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
    con.executemany(
        "INSERT INTO audit_event (at, actor, scope, action, customer_number, service, details,"
        " db_user, prev_hash, hash) VALUES (?, 'benchmark', 'agent', ?, ?, ?, ?, 'benchmark', ?, ?)",
        rows,
    )


def measure(n: int) -> tuple[int, common.Measured]:
    with common.temp_home() as home:
        fill(home, n)
        result = common.run(VERIFY, env=common.env_for(home))
        report = json.loads(result.stdout)
        if report["events"] != n or not report["intact"]:
            raise SystemExit(f"unexpected verification: {report}")
        return n, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="events (default 1000000)")
    parser.add_argument(
        "--memory-n", type=int, default=None, help="a smaller size to compare memory (n/10)"
    )
    args = parser.parse_args()
    small = args.memory_n or max(args.n // 10, 1)
    print(f"machine: {common.machine()}\n")
    results = [measure(size) for size in sorted({small, args.n})]
    print(
        common.table(
            ("events", "wall s", "CPU s", "events/s (wall)", "peak MB"),
            [
                (
                    f"{n:,}",
                    f"{m.seconds:.2f}",
                    f"{m.cpu_seconds:.2f}",
                    f"{n / m.seconds:,.0f}",
                    f"{m.peak_rss_mb:.1f}",
                )
                for n, m in results
            ],
        )
    )
    (n_small, small_run), (n_big, big_run) = results[0], results[-1]
    growth = big_run.peak_rss_mb / small_run.peak_rss_mb - 1
    print(
        f"\nmemory: {small_run.peak_rss_mb:.1f} MB at {n_small:,} events, "
        f"{big_run.peak_rss_mb:.1f} MB at {n_big:,} ({growth:+.0%}; flat within 10%: "
        f"{'met' if growth <= 0.10 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
