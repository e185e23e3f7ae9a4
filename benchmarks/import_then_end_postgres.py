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

Each time runs from starting the process until it exits, start-up included; the
server's CPU time is read from ``/proc`` beside the client's. Client and server
take turns, so on a quiet machine the wall time is about their CPU time together:
items per CPU second is the rate the work allows when the machine is shared. The statistics the
import left are shown (``pg_stat_user_tables``): whether it analysed the tables an
end reads.

Beside each run, as its reference, the same import and end on a second fresh
database with a manual ``ANALYZE`` between them: the end as it runs once the
statistics exist. On a shared machine the ratio of the two (taken minutes apart
at most, under the same load) says more than either time alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
# the throwaway server of the tests, so the benchmark runs on one started the same way
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import bulk_postgres
import common
import import_postgres

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


def manual_analyze(url: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as con:
        con.execute("ANALYZE")


def measure(server: PostgresServer, n: int, label: str, *, analyze: bool) -> dict[str, object]:
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
            if analyze:
                manual_analyze(url)
            out = work / "ended.jsonl"
            before = import_postgres.server_cpu(server)
            ended = common.run(
                [*common.COLLABCTL, *common.BULK_END_ARGS], env=env, stdin=numbers, stdout_to=out
            )
            server_seconds = import_postgres.server_cpu(server) - before
            count = out.read_bytes().count(b'"status":"ended"')
            if count != n:
                raise SystemExit(f"ended {count} of {n} items")
            bulk_postgres.check_database(url, n)
    finally:
        server.drop_database(dbname)
    return {
        "import": imported,
        "end": ended,
        "server": server_seconds,
        "statistics": statistics_left,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="companies (default 20000)")
    parser.add_argument("--repeat", type=int, default=1, help="runs (medians)")
    args = parser.parse_args()

    load_before = os.getloadavg()
    server = PostgresServer(settings=DURABLE).start()
    runs: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
    try:
        version = server.admin().execute("SHOW server_version").fetchone()[0]
        for attempt in range(args.repeat):
            for analyze in (False, True):
                run = measure(server, args.n, f"{attempt}_{int(analyze)}", analyze=analyze)
                runs[analyze].append(run)
                print(
                    f"  {'with' if analyze else 'without'} a manual ANALYZE: import "
                    f"{run['import'].seconds:.2f} s, end {run['end'].seconds:.2f} s",
                    file=sys.stderr,
                )
    finally:
        server.stop()
    load_after = os.getloadavg()

    def med(analyze: bool, kind: str, attr: str | None = None) -> float:
        values = [r[kind] if attr is None else getattr(r[kind], attr) for r in runs[analyze]]
        return float(statistics.median(values))

    print(f"PostgreSQL {version}, durable settings; {common.machine()}")
    print(f"load average (1, 5, 15 min) before: {load_before}, after: {load_after}")
    print(f"`python benchmarks/import_then_end_postgres.py --n {args.n} --repeat {args.repeat}`\n")
    rows = []
    for analyze, label in ((False, "import, then at once"), (True, "import, ANALYZE, then")):
        wall = med(analyze, "end", "seconds")
        rows.append(
            (
                label,
                f"{args.n:,}",
                f"{med(analyze, 'import', 'seconds'):.2f}",
                f"{wall:.2f}",
                f"{med(analyze, 'end', 'cpu_seconds'):.2f}",
                f"{med(analyze, 'server'):.2f}",
                f"{args.n / wall:,.0f}",
                f"{args.n / (med(analyze, 'end', 'cpu_seconds') + med(analyze, 'server')):,.0f}",
            )
        )
    print(
        common.table(
            (
                "run",
                "companies",
                "import wall s",
                "end wall s",
                "end client CPU s",
                "end server CPU s",
                "end items/s",
                "end items per CPU s",
            ),
            rows,
        )
    )
    left = sorted({str(r["statistics"]) for r in runs[False]})
    print(f"\nstatistics after the import: {', '.join(left)}")
    rate = args.n / med(False, "end", "seconds")
    ratio = med(False, "end", "seconds") / med(True, "end", "seconds")

    def busy(analyze: bool) -> float:
        return med(analyze, "end", "cpu_seconds") + med(analyze, "server")

    print(
        f"end right after the import: {rate:,.0f} items/s, start-up included "
        f"(target >= {TARGET:,}): {'met' if rate >= TARGET else 'MISSED'}; "
        f"{ratio:.2f}x the wall time and {busy(False) / busy(True):.2f}x the CPU time "
        "(client and server) of the same end after a manual ANALYZE"
    )


if __name__ == "__main__":
    os.environ.pop("COLLABCTL_DATABASE_URL", None)
    main()
