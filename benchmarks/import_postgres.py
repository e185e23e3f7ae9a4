"""``collabctl import`` on PostgreSQL: companies per second from one process.

    python benchmarks/import_postgres.py              # 20 000 companies
    python benchmarks/import_postgres.py --n 5000     # a quick run

Starts a throwaway PostgreSQL server the way the tests do (tests/pg_fixtures.py),
with durable settings (fsync, synchronous commit, full-page writes on), as a
shared production server has them. On a fresh database migrated with
``collabctl db upgrade``: ``collabctl import FILE`` of the same
JSON Lines input as benchmarks/import_sqlite.py (three offices, then companies
with a main contact, two subscriptions and two collaborations), its summary
checked, then the same import again (every item unchanged). The time runs from
starting the process until it exits, start-up included. The CPU time of the
client and of the server processes is measured too: on a shared machine, wall
time also counts waiting for the cores, and companies per CPU second (client and
server together, which take turns) says what the work itself costs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# the throwaway server of the tests, so the benchmark runs on one started the same way
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import common
import import_sqlite

from pg_fixtures import PostgresServer

DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
TARGET = 3000


def server_cpu(server: PostgresServer) -> float:
    """CPU seconds the server has used so far: the postmaster, its live processes, and
    the backends it has reaped (their time is added to its own when they exit)."""
    ticks = os.sysconf("SC_CLK_TCK")
    pid = int((server.data_dir / "postmaster.pid").read_text().split()[0])
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the name: state, parent pid, ...; utime, stime, cutime, cstime are 11 to 14
        if int(proc.name) == pid:
            total += sum(int(f) for f in fields[11:15])
        elif int(fields[1]) == pid:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="companies (default 20000)")
    args = parser.parse_args()
    items = args.n + len(common.OFFICES)

    server = PostgresServer(settings=DURABLE).start()
    rows = []
    try:
        version = server.admin().execute("SHOW server_version").fetchone()[0]
        url = server.create_database("bench_import")
        with tempfile.TemporaryDirectory(prefix="collabctl-bench-") as tmp:
            work = Path(tmp)
            env = {**common.env_for(work / "home"), "COLLABCTL_DATABASE_URL": url}
            common.run([*common.COLLABCTL, "db", "upgrade"], env=env)
            source = import_sqlite.write_input(work / "companies.jsonl", args.n)
            command = [*common.COLLABCTL, "import", str(source)]
            for label, summary in (
                ("import", f"imported {items} items: {items} changed, 0 unchanged, 0 failed"),
                ("re-import", f"imported {items} items: 0 changed, {items} unchanged, 0 failed"),
            ):
                before = server_cpu(server)
                measured = common.run(command, env=env)
                server_seconds = server_cpu(server) - before
                import_sqlite.expect(measured, summary)
                busy = measured.cpu_seconds + server_seconds
                rows.append(
                    (
                        label,
                        f"{args.n:,}",
                        f"{measured.seconds:.2f}",
                        f"{measured.cpu_seconds:.2f}",
                        f"{server_seconds:.2f}",
                        f"{args.n / measured.seconds:,.0f}",
                        f"{args.n / busy:,.0f}",
                        f"{measured.peak_rss_mb:.1f}",
                    )
                )
        server.drop_database("bench_import")
    finally:
        server.stop()

    print(f"PostgreSQL {version}, durable settings; {common.machine()}")
    print(f"`python benchmarks/import_postgres.py --n {args.n}`\n")
    print(
        common.table(
            (
                "run",
                "companies",
                "wall s",
                "client CPU s",
                "server CPU s",
                "companies/s",
                "companies per CPU s",
                "peak MB",
            ),
            rows,
        )
    )
    rate = args.n / float(rows[0][2])
    per_cpu = float(rows[0][6].replace(",", ""))
    print(
        f"\nimport: {rate:,.0f} companies/s wall, {per_cpu:,.0f} per CPU second of client and "
        f"server (target >= {TARGET:,}/s): {'met' if rate >= TARGET else 'MISSED'}"
    )


if __name__ == "__main__":
    os.environ.pop("COLLABCTL_DATABASE_URL", None)
    main()
