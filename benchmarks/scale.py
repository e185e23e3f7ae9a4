"""collabctl on SQLite at 100 000 and 1 000 000 companies: import, bulk end, single-company reads.

    python benchmarks/scale.py                              # 100 000 and 1 000 000
    python benchmarks/scale.py --companies 20000 200000     # smaller
    python benchmarks/scale.py --companies 1000000 --end 100000

For each size, in a fresh ``COLLABCTL_HOME``:

1. **import**: a JSON Lines file of three offices and N companies (each with a
   main contact, an eEkonomi subscription and an active collaboration, as in
   bulk_end.py) is written, then loaded with ``collabctl import FILE`` as a
   user runs it: this is also how the database is built;
2. **bulk end** of ``--end`` of them (every N/END-th customer, so they are
   spread over the whole database) with ``collabctl end --from FILE``;
3. **single-company reads** of a company in the middle: the pre-flight of
   ``end --dry-run`` before the bulk end ends it, then ``list --customer``,
   ``show`` and ``log --customer`` after (two audit events: its import and its
   end), each timed three ways: as a process (what a user waits for, start-up included),
   in this process through the command line's entry point (the command without
   Python's start-up: engine, schema check, catalogue and the reads), and each
   SQL statement the command sends, run on its own with sqlite3 (the
   statements are recorded while the command runs).

The plan of each statement (``EXPLAIN QUERY PLAN``) is printed for the largest
size: every growing table is read with ``SEARCH ... USING INDEX``, so the reads
take the same milliseconds at both sizes (tests/test_query_plans.py checks the
plans on both backends). Times are medians; CPU time is the steadier figure on
a shared machine. Disk: about 0.5 KB of input and 1 KB of database per company.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

DEVNULL = Path(os.devnull)
PROCESS_RUNS = 5
IN_PROCESS_RUNS = 21
SQL_RUNS = 51


def write_input(path: Path, n: int) -> Path:
    """Three offices, then n companies ready to end (common.company), as JSON Lines."""
    with path.open("w", encoding="utf-8") as out:
        for org, name in common.OFFICES:
            out.write(json.dumps({"office": {"org_number": org, "name": name}}) + "\n")
        dumps = json.JSONEncoder(ensure_ascii=False).encode
        for index in range(n):
            out.write(dumps({"company": common.company(index)}) + "\n")
    return path


def reads(number: str) -> dict[str, list[str]]:
    return {
        "list --customer": ["list", "--customer", number, "--format", "json"],
        "show": ["show", number, "--format", "json"],
        "log --customer": ["log", "--customer", number, "--format", "json"],
        "end --dry-run (pre-flight)": [
            "end", number, "--service", "eekonomi", "--outcome", "continue",
            "--by", "office", "--dry-run", "--format", "json",
        ],
    }  # fmt: skip


# -- recording the statements a command sends ----------------------------------------------


@contextmanager
def recording() -> Iterator[list[tuple[str, Any]]]:
    """Every statement that reaches the driver while the block runs, with its parameters:
    SQLAlchemy's statements, and the plain SQL of the end path (Statements)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from collabctl.store.statements import Statements

    statements: list[tuple[str, Any]] = []

    def before(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        statements.append((sql, params))

    plain = Statements.execute

    def recorded(self: Statements, sql: str, params: dict[str, Any] | None = None) -> Any:
        statements.append((sql, params or {}))
        return plain(self, sql, params)

    Statements.execute = recorded  # type: ignore[method-assign]
    event.listen(Engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", before)
        Statements.execute = plain  # type: ignore[method-assign]


def queries(statements: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The reads of tables among the recorded statements, once each."""
    seen: set[str] = set()
    out = []
    for sql, params in statements:
        if not re.match(r"\s*SELECT\b", sql) or re.search(r"alembic_version|sqlite_master", sql):
            continue
        if sql not in seen:
            seen.add(sql)
            out.append((sql, params))
    return out


# -- timing ----------------------------------------------------------------------------


def in_process(args: list[str], runs: int) -> tuple[float, list[tuple[str, Any]]]:
    """Median ms of the command run in this process, and the statements it sent."""
    import typer.main
    from click.testing import CliRunner

    from collabctl.cli.app import app

    command, runner = typer.main.get_command(app), CliRunner()
    with recording() as statements:
        first = runner.invoke(command, args)
    if first.exit_code != 0:
        raise SystemExit(f"{' '.join(args)} exited {first.exit_code}: {first.output[-2000:]}")
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        runner.invoke(command, args)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), queries(statements)


def sql_time(db: Path, statements: list[tuple[str, Any]], runs: int) -> float:
    """Median µs of running the statements one after another with sqlite3."""
    times = []
    with closing(sqlite3.connect(db)) as con:
        for _ in range(runs):
            started = time.perf_counter()
            for sql, params in statements:
                con.execute(sql, params or ()).fetchall()
            times.append((time.perf_counter() - started) * 1e6)
    return statistics.median(times)


def plans(db: Path, statements: list[tuple[str, Any]]) -> list[str]:
    lines = []
    with closing(sqlite3.connect(db)) as con:
        for sql, params in statements:
            lines.append("    " + " ".join(sql.split())[:150])
            for row in con.execute("EXPLAIN QUERY PLAN " + sql, params or ()):
                lines.append(f"      {row[3]}")
    return lines


def count(db: Path, sql: str) -> int:
    with closing(sqlite3.connect(db)) as con:
        return int(con.execute(sql).fetchone()[0])


def time_read(db: Path, env: dict[str, str], args: list[str]) -> dict[str, Any]:
    process = sorted(
        (common.run([*common.COLLABCTL, *args], env=env) for _ in range(PROCESS_RUNS)),
        key=lambda m: m.seconds,
    )[PROCESS_RUNS // 2]
    ms, statements = in_process(args, IN_PROCESS_RUNS)
    return {
        "process": process,
        "in_process_ms": ms,
        "sql_us": sql_time(db, statements, SQL_RUNS),
        "statements": statements,
    }


def measure(n: int, end: int, work: Path) -> dict[str, Any]:
    home = work / f"home-{n}"
    env = common.env_for(home)
    os.environ.update({"COLLABCTL_HOME": str(home), "COLLABCTL_ACTOR": "benchmark"})
    started = time.perf_counter()
    source = write_input(work / f"companies-{n}.jsonl", n)
    print(f"  {n:,}: input written in {time.perf_counter() - started:.0f} s", file=sys.stderr)

    imported = common.run([*common.COLLABCTL, "import", str(source)], env=env, stdout_to=DEVNULL)
    source.unlink()
    db = home / "collabctl.db"
    if count(db, "SELECT count(*) FROM collaboration WHERE state = 'active'") != n:
        raise SystemExit(f"import did not import every company: {imported.stderr[-500:]!r}")
    print(f"  {n:,}: imported in {imported.seconds:.0f} s", file=sys.stderr)

    timed = {}
    step = n // min(end, n)
    target = common.customer_number((n // 2 // step) * step)
    # the pre-flight of an end that would go through: before the bulk end ends the target
    preflight = "end --dry-run (pre-flight)"
    timed[preflight] = time_read(db, env, reads(target)[preflight])

    end = min(end, n)
    numbers = work / "numbers.txt"
    numbers.write_text(
        "".join(common.customer_number(i) + "\n" for i in range(0, step * end, step))
    )
    ended = common.run(
        [*common.COLLABCTL, "end", "--from", str(numbers), "--service", common.BULK_SERVICE,
         "--outcome", common.BULK_OUTCOME, "--by", "office", "--yes", "--format", "jsonl"],
        env=env, stdout_to=DEVNULL,
    )  # fmt: skip
    if count(db, "SELECT count(*) FROM collaboration WHERE state = 'ended'") != end:
        raise SystemExit(f"the bulk end did not end every item: {ended.stderr[-500:]!r}")
    print(f"  {n:,}: {end:,} ended in {ended.seconds:.0f} s", file=sys.stderr)

    # the reads of a company that was imported and then ended: two audit events
    for what, args in reads(target).items():
        if what != preflight:
            timed[what] = time_read(db, env, args)
    size_mb = sum(p.stat().st_size for p in home.glob("collabctl.db*")) / 2**20
    return {
        "n": n,
        "end": end,
        "target": target,
        "db": db,
        "size_mb": size_mb,
        "import": imported,
        "ended": ended,
        "reads": timed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--companies",
        type=int,
        nargs="+",
        default=[100_000, 1_000_000],
        help="database sizes (default: 100000 1000000)",
    )
    parser.add_argument(
        "--end", type=int, default=100_000, help="items of the bulk end (default 100000)"
    )
    args = parser.parse_args()
    print(f"machine: {common.machine()}")
    print(
        f"`python benchmarks/scale.py --companies {' '.join(map(str, args.companies))} "
        f"--end {args.end}`\n"
    )
    results = []
    with common.temp_home(prefix="collabctl-scale-") as work:
        for n in sorted(args.companies):
            results.append(measure(n, args.end, work))
            for home in work.glob("home-*"):  # keep the largest only, for its plans
                if home.name != f"home-{n}":
                    for path in home.iterdir():
                        path.unlink()

        rows = []
        for r in results:
            imported, ended = r["import"], r["ended"]
            rows.append(
                (
                    f"{r['n']:,}",
                    f"{r['size_mb']:,.0f}",
                    f"{imported.seconds:.1f} / {imported.cpu_seconds:.1f}",
                    f"{r['n'] / imported.seconds:,.0f}",
                    f"{imported.peak_rss_mb:.1f}",
                    f"{r['end']:,}",
                    f"{ended.seconds:.1f} / {ended.cpu_seconds:.1f}",
                    f"{r['end'] / ended.seconds:,.0f}",
                    f"{ended.peak_rss_mb:.1f}",
                )
            )
        print(
            common.table(
                (
                    "companies",
                    "database MB",
                    "import s (wall / CPU)",
                    "companies/s",
                    "import peak MB",
                    "ended",
                    "bulk end s (wall / CPU)",
                    "items/s",
                    "end peak MB",
                ),
                rows,
            )
        )
        print("\nsingle-company reads (medians):\n")
        read_rows = []
        for what in reads("0"):
            for r in results:
                t = r["reads"][what]
                read_rows.append(
                    (
                        what,
                        f"{r['n']:,}",
                        f"{t['process'].seconds * 1000:.0f} / {t['process'].cpu_seconds * 1000:.0f}",
                        f"{t['in_process_ms']:.1f}",
                        len(t["statements"]),
                        f"{t['sql_us']:.0f}",
                    )
                )
        print(
            common.table(
                (
                    "read",
                    "companies",
                    "process ms (wall / CPU)",
                    "in-process ms",
                    "queries",
                    "SQL µs (all queries)",
                ),
                read_rows,
            )
        )
        largest = results[-1]
        print(f"\nquery plans at {largest['n']:,} companies (customer {largest['target']}):\n")
        for what in reads("0"):
            print(f"  {what}:")
            print("\n".join(plans(largest["db"], largest["reads"][what]["statements"])))


if __name__ == "__main__":
    os.environ.pop("COLLABCTL_DATABASE_URL", None)
    main()
