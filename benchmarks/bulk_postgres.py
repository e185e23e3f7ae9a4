"""Bulk end on PostgreSQL: ``collabctl end --from -`` with one process and with several.

    python benchmarks/bulk_postgres.py                 # 20 000 items
    python benchmarks/bulk_postgres.py --n 2000        # a quick run
    python benchmarks/bulk_postgres.py --processes 1 2 4

Starts a throwaway PostgreSQL server the way the tests do (tests/pg_fixtures.py),
but with durable settings (fsync, synchronous commit, full-page writes on), as a
shared production server has them. For each process count: a fresh database
migrated with ``collabctl db upgrade``, N companies ready to end (written with
plain INSERTs: loading is not what is measured), then that many collabctl
processes started together, each ending its own disjoint share of the customers
from stdin with JSON Lines results. The time runs from starting the processes
until the last one exits, so start-up, output and commits are included.

Prints a Markdown table: processes, items, seconds, items/s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# the throwaway server of the tests, so the benchmark runs on one started the same way
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import common

from pg_fixtures import PostgresServer

SERVICE, OUTCOME = common.BULK_SERVICE, common.BULK_OUTCOME
END = list(common.BULK_END_ARGS)
DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
LOAD_CHUNK = 5000


def load(url: str, n: int) -> list[str]:
    """N companies with a main contact and an active collaboration, in a few INSERTs."""
    from sqlalchemy import insert

    from collabctl.store.database import Database
    from collabctl.store.models import Collaboration, Company, CompanyUser, Office, Subscription

    numbers = [common.customer_number(i) for i in range(n)]
    db = Database(url)
    try:
        with db.engine.begin() as conn:
            conn.execute(insert(Office), [{"org_number": o, "name": m} for o, m in common.OFFICES])
        for start in range(0, n, LOAD_CHUNK):
            chunk = list(enumerate(numbers))[start : start + LOAD_CHUNK]
            with db.engine.begin() as conn:
                conn.execute(
                    insert(Company),
                    [
                        {"customer_number": c, "org_number": common.org_number(i), "name": f"B{i}"}
                        for i, c in chunk
                    ],
                )
                conn.execute(
                    insert(CompanyUser),
                    [
                        {
                            "customer_number": c,
                            "email": f"admin@bolag{i}.se",
                            "email_key": f"admin@bolag{i}.se",
                            "name": f"Admin {i}",
                            "role": "administrator",
                            "main_contact": True,
                            "services": [SERVICE],
                        }
                        for i, c in chunk
                    ],
                )
                conn.execute(
                    insert(Subscription),
                    [
                        {"customer_number": c, "service": SERVICE, "state": "active"}
                        for _, c in chunk
                    ],
                )
                conn.execute(
                    insert(Collaboration),
                    [
                        {
                            "customer_number": c,
                            "service": SERVICE,
                            "office_org_number": common.OFFICES[i % len(common.OFFICES)][0],
                            "state": "active",
                            "started_at": "2024-01-31T09:00:00.000000Z",
                        }
                        for i, c in chunk
                    ],
                )
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    finally:
        db.dispose()
    return numbers


def run_processes(url: str, shares: list[list[str]], work: Path) -> float:
    """Start one ``end --from -`` per share at once; seconds until the last one exits."""
    env = {**common.env_for(work / "home"), "COLLABCTL_DATABASE_URL": url}
    inputs, outputs, procs = [], [], []
    for index, share in enumerate(shares):
        path = work / f"share{index}.txt"
        path.write_text("\n".join(share) + "\n")
        inputs.append(path.open("rb"))
        outputs.append((work / f"out{index}.jsonl").open("wb"))
    started = time.perf_counter()
    try:
        for stdin, stdout in zip(inputs, outputs, strict=True):
            procs.append(
                subprocess.Popen(
                    [*common.COLLABCTL, *END],
                    stdin=stdin,
                    stdout=stdout,
                    stderr=subprocess.PIPE,
                    env=env,
                )
            )
        errors = [proc.communicate()[1] for proc in procs]
        seconds = time.perf_counter() - started
    finally:
        for handle in (*inputs, *outputs):
            handle.close()
    for index, (proc, err) in enumerate(zip(procs, errors, strict=True)):
        if proc.returncode != 0:
            raise SystemExit(f"process {index} exited {proc.returncode}:\n{err.decode()[-2000:]}")
        ended = (work / f"out{index}.jsonl").read_bytes().count(b'"status":"ended"')
        if ended != len(shares[index]):
            raise SystemExit(f"process {index} ended {ended} of {len(shares[index])} items")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="companies to end (default 20000)")
    parser.add_argument(
        "--processes",
        type=int,
        nargs="+",
        default=[1, 4],
        help="process counts to measure (default: 1 4)",
    )
    args = parser.parse_args()

    server = PostgresServer(settings=DURABLE).start()
    rows = []
    try:
        version = server.admin().execute("SHOW server_version").fetchone()[0]
        for run_number, processes in enumerate(args.processes, start=1):
            dbname = f"bench_{run_number}"
            url = server.create_database(dbname)
            with tempfile.TemporaryDirectory(prefix="collabctl-bench-") as tmp:
                work = Path(tmp)
                env = {**common.env_for(work / "home"), "COLLABCTL_DATABASE_URL": url}
                subprocess.run(
                    [*common.COLLABCTL, "db", "upgrade"], env=env, check=True, capture_output=True
                )
                numbers = load(url, args.n)
                # disjoint shares: every customer is ended by exactly one process
                shares = [numbers[i::processes] for i in range(processes)]
                seconds = run_processes(url, shares, work)
            server.drop_database(dbname)
            rows.append((processes, args.n, seconds, args.n / seconds))
            print(f"  {processes} process(es): {seconds:.1f} s", file=sys.stderr, flush=True)
    finally:
        server.stop()

    print(f"PostgreSQL {version}, durable settings; {common.machine()}")
    print(f"`python benchmarks/bulk_postgres.py --n {args.n}`\n")
    print(common.table(("processes", "items", "seconds", "items/s"), rows))


if __name__ == "__main__":
    os.environ.pop("COLLABCTL_DATABASE_URL", None)
    main()
