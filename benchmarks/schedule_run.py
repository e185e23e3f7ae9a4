"""``schedule run`` of N due ends against a bulk ``end --from -`` of the same N, on SQLite.

    python benchmarks/schedule_run.py             # N = 20 000
    python benchmarks/schedule_run.py --n 2000    # a quicker run

A database with N companies ready to end (benchmarks/common.py), then:

- ``end --from - --at DATE`` schedules an end for each (timed too: scheduling);
- from the same copy each time: ``schedule run`` with the clock moved past the
  day (libfaketime), and the bulk end of the same customers under the same
  clock, so both pay the same for it.

Checked after each run: every collaboration ended, one audit event each. The
bar (issue 21): ``schedule run`` within 10% of the bulk end's time. Times are
medians of ``--repeat`` runs, wall and CPU (user + system). Prints Markdown.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

FAKETIME_LIBS = (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
)


def faked(env: dict[str, str], day: str) -> dict[str, str]:
    library = next((p for p in FAKETIME_LIBS if Path(p).exists()), None)
    if library is None:
        raise SystemExit("libfaketime is needed (Debian package faketime)")
    after = (date.fromisoformat(day) + timedelta(days=2)).isoformat()
    return {
        **env,
        "LD_PRELOAD": library,
        "FAKETIME": f"@{after} 12:00:00",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "TZ": "UTC",
    }


def check_all_ended(db: Path, n: int) -> None:
    with sqlite3.connect(db) as con:
        active, events = con.execute(
            "SELECT (SELECT count(*) FROM collaboration WHERE state = 'active'),"
            " (SELECT count(*) FROM audit_event WHERE action = 'end')"
        ).fetchone()
    if (active, events) != (0, n):
        raise SystemExit(f"unexpected state after the run: {active=} {events=}")


def measure(n: int, repeat: int) -> list[object]:
    day = (date.today() + timedelta(days=30)).isoformat()
    with common.temp_home() as home:
        env = common.env_for(home)
        db = common.fill_database(home, n, common.BULK_SERVICE)
        numbers = common.write_numbers_file(home / "numbers.txt", n)
        scheduling = common.run(
            [*common.COLLABCTL, *common.BULK_END_ARGS, "--at", day], env=env, stdin=numbers
        )
        start = common.snapshot(db)
        late = faked(env, day)
        runs: dict[str, list[common.Measured]] = {"run": [], "end": []}
        for _ in range(repeat):
            common.restore(start, db)
            runs["run"].append(
                common.run([*common.COLLABCTL, "schedule", "run", "--format", "jsonl"], env=late)
            )
            check_all_ended(db, n)
            common.restore(start, db)
            runs["end"].append(
                common.run([*common.COLLABCTL, *common.BULK_END_ARGS], env=late, stdin=numbers)
            )
            check_all_ended(db, n)
    run_s = common.median([m.seconds for m in runs["run"]])
    end_s = common.median([m.seconds for m in runs["end"]])
    run_cpu = common.median([m.cpu_seconds for m in runs["run"]])
    end_cpu = common.median([m.cpu_seconds for m in runs["end"]])
    return [
        n,
        scheduling.seconds,
        end_s,
        run_s,
        run_s / end_s,
        end_cpu,
        run_cpu,
        run_cpu / end_cpu,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.pop("COLLABCTL_DATABASE_URL", None)
    row = measure(args.n, args.repeat)
    print(common.machine())
    print()
    print(
        common.table(
            [
                "N",
                "schedule N (s)",
                "bulk end (s)",
                "schedule run (s)",
                "run / end",
                "bulk end CPU (s)",
                "schedule run CPU (s)",
                "run / end CPU",
            ],
            [row],
        )
    )


if __name__ == "__main__":
    main()
