"""A bulk end right after an import, on PostgreSQL: ``collabctl import`` then at once
``collabctl end --from -`` of every imported company, as a pipeline runs them.

    python benchmarks/import_then_end_postgres.py              # 20 000 companies
    python benchmarks/import_then_end_postgres.py --n 2000     # a quick run
    python benchmarks/import_then_end_postgres.py --repeat 3   # medians of three

Starts a throwaway PostgreSQL server the way the tests do (tests/pg_fixtures.py),
with durable settings (fsync, synchronous commit, full-page writes on). For each
run: a fresh database migrated with ``collabctl db upgrade``; ``collabctl import
FILE`` of N companies ready to end (a main contact, an active eEkonomi
subscription and collaboration); then at once, with no ``ANALYZE`` run by hand,
``collabctl end --from -`` of all N customer numbers with JSON Lines results.
Autovacuum is on, as on any server, but its first look comes a minute after the
tables filled (``autovacuum_naptime``), later than the end starts: whatever
statistics the end's plans get, collabctl left them.

Each time runs from starting the process until it exits, start-up included. The
statistics the import left are shown (``pg_stat_user_tables``): when it last
analysed each table, or that nothing has.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# the throwaway server of the tests, so the benchmark runs on one started the same way
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import bulk_postgres
import common

from pg_fixtures import PostgresServer

DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
TARGET = 4000
TABLES = ("company", "company_user", "subscription", "collaboration", "audit_event")


def analysed(url: str) -> str:
    """Which of the tables an end reads have statistics, as one phrase."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as con:
        rows = con.execute(
            "SELECT relname, last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL"
            " FROM pg_stat_user_tables WHERE relname = ANY(%s) ORDER BY relname",
            (list(TABLES),),
        ).fetchall()
    done = [name for name, yes in rows if yes]
    if len(done) == len(TABLES):
        return "all analysed"
    return "none analysed" if not done else "analysed: " + ", ".join(done)


def measure(server: PostgresServer, n: int, label: str) -> dict[str, object]:
    dbname = f"bench_import_end_{label}"
    url = server.create_database(dbname)
    try:
        with tempfile.TemporaryDirectory(prefix="collabctl-bench-") as tmp:
            work = Path(tmp)
            env = {**common.env_for(work / "home"), "COLLABCTL_DATABASE_URL": url}
            common.run([*common.COLLABCTL, "db", "upgrade"], env=env)
            source = common.write_import_file(work / "companies.jsonl", n)
            numbers = common.write_numbers_file(work / "numbers.txt", n)
            imported = common.run([*common.COLLABCTL, "import", str(source)], env=env)
            statistics_left = analysed(url)
            out = work / "ended.jsonl"
            ended = common.run(
                [*common.COLLABCTL, *common.BULK_END_ARGS], env=env, stdin=numbers, stdout_to=out
            )
            count = out.read_bytes().count(b'"status":"ended"')
            if count != n:
                raise SystemExit(f"ended {count} of {n} items")
            bulk_postgres.check_database(url, n)
    finally:
        server.drop_database(dbname)
    return {"import": imported, "end": ended, "statistics": statistics_left}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="companies (default 20000)")
    parser.add_argument("--repeat", type=int, default=1, help="runs (medians)")
    args = parser.parse_args()

    server = PostgresServer(settings=DURABLE).start()
    runs = []
    try:
        version = server.admin().execute("SHOW server_version").fetchone()[0]
        for attempt in range(args.repeat):
            run = measure(server, args.n, str(attempt))
            runs.append(run)
            print(
                f"  import {run['import'].seconds:.2f} s, end {run['end'].seconds:.2f} s",  # type: ignore[attr-defined]
                file=sys.stderr,
            )
    finally:
        server.stop()

    def med(kind: str, attr: str) -> float:
        return statistics.median(getattr(r[kind], attr) for r in runs)

    print(f"PostgreSQL {version}, durable settings; {common.machine()}")
    print(f"load average before: {os.getloadavg()}")
    print(f"`python benchmarks/import_then_end_postgres.py --n {args.n} --repeat {args.repeat}`\n")
    rows = []
    for kind, command in (("import", "collabctl import FILE"), ("end", "collabctl end --from -")):
        wall, cpu = med(kind, "seconds"), med(kind, "cpu_seconds")
        rows.append(
            (command, f"{args.n:,}", f"{wall:.2f}", f"{cpu:.2f}", f"{args.n / wall:,.0f}")
        )
    print(common.table(("command", "items", "wall s", "client CPU s", "items/s"), rows))
    print(f"\nstatistics after the import: {', '.join(sorted({str(r['statistics']) for r in runs}))}")
    rate = args.n / med("end", "seconds")
    print(
        f"end right after the import: {rate:,.0f} items/s, start-up included "
        f"(target >= {TARGET:,}): {'met' if rate >= TARGET else 'MISSED'}"
    )


if __name__ == "__main__":
    os.environ.pop("COLLABCTL_DATABASE_URL", None)
    main()
