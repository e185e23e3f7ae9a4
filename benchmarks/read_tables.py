"""``list`` and ``log`` over many rows, as a table and as JSON Lines, against their floor.

    python benchmarks/read_tables.py               # N = 100 000 (also N/20 and N/10)
    python benchmarks/read_tables.py --n 20000     # a quicker run

For each size a fresh embedded database holds N companies, each with one active
collaboration (``common.fill_database``), and N audit events of ended
collaborations with the details collabctl writes (sqlite3, hashed as collabctl
hashes them). Then, each in a fresh process with its output to a file (a table
in a file is the plain, one-row-a-line table; the terminal's fitted table is
laid out the same chunk by chunk):

    collabctl list --format jsonl      collabctl list     (the table)
    collabctl log --format jsonl       collabctl log      (the table)

and the floor of each: the same rows read with the stdlib ``sqlite3`` module in
one process, each written as ``json.dumps`` of the row (SPEC §6), by this script
itself (``--floor list|log DB``).

Printed: wall and CPU time and peak memory per run, the marginal cost per row
((run over N - run over N/20) / (N - N/20), so start-up cancels out) beside the
floor's, their ratio (the bar: 3x), and memory at N against N/10 (the bar:
within 10%).
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

COMMANDS: dict[str, list[str]] = {
    "list jsonl": ["list", "--format", "jsonl"],
    "list table": ["list"],
    "log jsonl": ["log", "--format", "jsonl"],
    "log table": ["log"],
}

#: the SQL of the floor: what collabctl reads for each row, as plainly as sqlite3 can
FLOOR_SQL = {
    "list": (
        "SELECT c.customer_number, co.name, c.service, c.office_org_number, o.name, c.state,"
        " c.started_at, c.ended_at, c.ended_by, c.outcome, c.reason FROM collaboration c"
        " JOIN company co ON co.customer_number = c.customer_number"
        " JOIN office o ON o.org_number = c.office_org_number"
        " WHERE c.state = 'active' ORDER BY c.customer_number, c.service, c.started_at"
    ),
    "log": (
        "SELECT id, at, actor, db_user, scope, action, customer_number, service, details"
        " FROM audit_event ORDER BY id DESC"
    ),
}
FLOOR_KEYS = {
    "list": (
        "customer_number", "company_name", "service", "office_org_number", "office_name",
        "state", "started_at", "ended_at", "ended_by", "outcome", "reason",
    ),
    "log": (
        "id", "at", "actor", "db_user", "scope", "action", "customer_number", "service",
        "details",
    ),
}  # fmt: skip


def floor(kind: str, db: str) -> None:
    """Select every row and write ``json.dumps`` of each: the floor of a read."""
    keys = FLOOR_KEYS[kind]
    out = sys.stdout
    with sqlite3.connect(db) as con:
        for row in con.execute(FLOOR_SQL[kind]):
            record = dict(zip(keys, row, strict=True))
            if kind == "log":
                record["details"] = json.loads(record["details"])
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")


def fill_events(db: Path, n: int) -> None:
    """N audit events of ended collaborations, one per company, chained as collabctl does."""
    from collabctl.domain.audit_chain import chain_key, event_hash

    rows: list[tuple[Any, ...]] = []
    heads: dict[str, str] = {}
    with sqlite3.connect(db) as con:
        for index in range(n):
            number = common.customer_number(index)
            details = {
                "office_org_number": common.OFFICES[index % len(common.OFFICES)][0],
                "ended_by": "office",
                "outcome": "deactivate",
                "reason": None,
                "subscription": {"before": "active", "after": "read-only"},
                "checklist": {},
                "confirmed": [],
                "forced": [],
                "backup_path": None,
                "records_deleted": 0,
            }
            event = {
                "at": f"2024-02-01T09:{index // 60 % 60:02d}:{index % 60:02d}.000000Z",
                "actor": "benchmark",
                "db_user": "benchmark",
                "scope": "agent",
                "action": "end",
                "customer_number": number,
                "service": "eekonomi",
                "details": details,
            }
            key = chain_key(number)
            prev = heads.get(key)
            heads[key] = event_hash(event, prev)
            rows.append((event["at"], number, json.dumps(details), prev, heads[key]))
            if len(rows) == 10_000:
                _insert_events(con, rows)
                rows = []
        _insert_events(con, rows)


def _insert_events(con: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    con.executemany(
        "INSERT INTO audit_event (at, actor, scope, action, customer_number, service, details,"
        " db_user, prev_hash, hash) VALUES (?, 'benchmark', 'agent', 'end', ?, 'eekonomi', ?,"
        " 'benchmark', ?, ?)",
        rows,
    )


def measure(n: int) -> dict[str, common.Measured]:
    """Every command and both floors over one database of n rows."""
    results: dict[str, common.Measured] = {}
    with common.temp_home() as home:
        db = common.fill_database(home, n)
        fill_events(db, n)
        env = common.env_for(home)
        out = home / "out.txt"
        for name, args in COMMANDS.items():
            results[name] = common.run([*common.COLLABCTL, *args], env=env, stdout_to=out)
            lines = sum(1 for _ in out.open("rb"))
            expected = n + (1 if name.endswith("table") else 0)  # the header line
            if lines != expected:
                raise SystemExit(f"{name}: {lines} lines, expected {expected}")
        for kind in ("list", "log"):
            results[f"{kind} floor"] = common.run(
                [common.PYTHON, __file__, "--floor", kind, str(db)], env=env, stdout_to=out
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="rows (default 100000)")
    parser.add_argument("--floor", nargs=2, metavar=("KIND", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        floor(*args.floor)
        return
    n = args.n
    sizes = {"small": max(n // 20, 1), "memory": max(n // 10, 1), "big": n}
    print(f"machine: {common.machine()}\n")
    runs = {label: measure(size) for label, size in sizes.items()}
    extra = sizes["big"] - sizes["small"]

    def marginal(name: str) -> float:  # µs per row
        return (runs["big"][name].seconds - runs["small"][name].seconds) / extra * 1e6

    def marginal_cpu(name: str) -> float:
        return (runs["big"][name].cpu_seconds - runs["small"][name].cpu_seconds) / extra * 1e6

    rows = []
    for name in COMMANDS:
        kind = name.split()[0]
        floor_name = f"{kind} floor"
        big, memory = runs["big"][name], runs["memory"][name]
        growth = big.peak_rss_mb / memory.peak_rss_mb - 1
        rows.append(
            (
                f"`{' '.join(['collabctl', *COMMANDS[name]])}`",
                f"{big.seconds:.2f}",
                f"{big.cpu_seconds:.2f}",
                f"{marginal(name):.1f} / {marginal_cpu(name):.1f}",
                f"{marginal(floor_name):.1f} / {marginal_cpu(floor_name):.1f}",
                f"{marginal(name) / marginal(floor_name):.2f}x / "
                f"{marginal_cpu(name) / marginal_cpu(floor_name):.2f}x",
                f"{memory.peak_rss_mb:.1f} -> {big.peak_rss_mb:.1f} ({growth:+.0%})",
            )
        )
    print(
        common.table(
            (
                f"command (N = {n:,})",
                "wall s",
                "CPU s",
                "µs/row (wall / CPU)",
                "floor µs/row",
                "ratio (wall / CPU)",
                f"peak MB at {sizes['memory']:,} -> {n:,}",
            ),
            rows,
        )
    )


if __name__ == "__main__":
    main()
