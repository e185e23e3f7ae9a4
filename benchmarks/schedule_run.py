"""``schedule run`` of N due ends against a bulk ``end --from -`` of the same N.

    python benchmarks/schedule_run.py             # N = 20 000, SQLite
    python benchmarks/schedule_run.py --n 2000    # a quicker run
    python benchmarks/schedule_run.py --postgres  # on a throwaway PostgreSQL server

A database with N companies ready to end (benchmarks/common.py), then:

- ``end --from - --at DATE`` schedules an end for each (timed too: scheduling);
- from the same copy each time: ``schedule run`` with the clock moved past the
  day (libfaketime), and the bulk end of the same customers under the same
  clock, so both pay the same for it: once where all are scheduled (the bulk
  end then settles each scheduled end, as an end by hand does) and once from
  the copy taken before anything was scheduled (the stricter reference).

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
# the throwaway server of the tests (--postgres)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

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
        plain = common.snapshot(db).rename(home / "unscheduled.snapshot")
        scheduling = common.run(
            [*common.COLLABCTL, *common.BULK_END_ARGS, "--at", day], env=env, stdin=numbers
        )
        start = common.snapshot(db)
        late = faked(env, day)
        runs: dict[str, list[common.Measured]] = {"run": [], "end": [], "plain": []}
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
            # the same bulk end where nothing is scheduled (no scheduled end to settle)
            common.restore(plain, db)
            runs["plain"].append(
                common.run([*common.COLLABCTL, *common.BULK_END_ARGS], env=late, stdin=numbers)
            )
            check_all_ended(db, n)
    return _row(n, scheduling.seconds, runs)


def measure_postgres(n: int, repeat: int) -> list[object]:
    """The same on PostgreSQL: a fresh database per run (loaded, then the N ends
    scheduled), one for ``schedule run`` and one for the bulk end."""
    import subprocess

    import bulk_postgres

    from pg_fixtures import PostgresServer

    day = (date.today() + timedelta(days=30)).isoformat()
    server = PostgresServer(settings=bulk_postgres.DURABLE).start()
    runs: dict[str, list[common.Measured]] = {"run": [], "end": [], "plain": []}
    scheduling: list[common.Measured] = []
    try:
        for attempt in range(repeat):
            for kind in ("run", "end", "plain"):
                name = f"bench_schedule_{kind}_{attempt}"
                url = server.create_database(name)
                try:
                    with common.temp_home() as home:
                        env = {**common.env_for(home), "COLLABCTL_DATABASE_URL": url}
                        subprocess.run([*common.COLLABCTL, "db", "upgrade"], env=env, check=True,
                                       capture_output=True)  # fmt: skip
                        numbers = bulk_postgres.load(url, n)
                        path = home / "numbers.txt"
                        path.write_text("\n".join(numbers) + "\n")
                        args = [*common.COLLABCTL, *common.BULK_END_ARGS]
                        if kind != "plain":  # plain: the bulk end where nothing is scheduled
                            scheduling.append(common.run([*args, "--at", day], env=env, stdin=path))
                        late = faked(env, day)
                        if kind == "run":
                            command = [*common.COLLABCTL, "schedule", "run", "--format", "jsonl"]
                            runs[kind].append(common.run(command, env=late))
                        else:
                            runs[kind].append(common.run(args, env=late, stdin=path))
                        bulk_postgres.check_database(url, n)
                finally:
                    server.drop_database(name)
    finally:
        server.stop()
    return _row(n, common.median([m.seconds for m in scheduling]), runs)


def _row(n: int, scheduling: float, runs: dict[str, list[common.Measured]]) -> list[object]:
    run_s = common.median([m.seconds for m in runs["run"]])
    end_s = common.median([m.seconds for m in runs["end"]])
    run_cpu = common.median([m.cpu_seconds for m in runs["run"]])
    end_cpu = common.median([m.cpu_seconds for m in runs["end"]])
    plain_s = common.median([m.seconds for m in runs["plain"]])
    plain_cpu = common.median([m.cpu_seconds for m in runs["plain"]])
    return [
        n, scheduling, plain_s, end_s, run_s, run_s / plain_s, run_s / end_s,
        plain_cpu, end_cpu, run_cpu, run_cpu / plain_cpu, run_cpu / end_cpu,
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="on a throwaway PostgreSQL")
    args = parser.parse_args()
    os.environ.pop("COLLABCTL_DATABASE_URL", None)
    row = (measure_postgres if args.postgres else measure)(args.n, args.repeat)
    print(common.machine())
    print()
    print(
        common.table(
            [
                "N",
                "schedule N (s)",
                "bulk end, none scheduled (s)",
                "bulk end, all scheduled (s)",
                "schedule run (s)",
                "run / end none",
                "run / end all",
                "bulk end none CPU (s)",
                "bulk end all CPU (s)",
                "schedule run CPU (s)",
                "run / end none CPU",
                "run / end all CPU",
            ],
            [row],
        )
    )


if __name__ == "__main__":
    main()
