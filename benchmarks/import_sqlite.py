"""``collabctl import`` on SQLite against the plain-sqlite3 floor: marginal cost and memory.

    python benchmarks/import_sqlite.py             # N = 100 000 (also N/20 and N/10)
    python benchmarks/import_sqlite.py --n 20000   # a quicker run

Each company of the JSON Lines input has a main contact, two subscriptions
(eEkonomi, Fakturering) and two active collaborations, after three offices.
For each size, on a fresh database made by ``collabctl db upgrade``: the floor
(floor_import.py: the same rows with plain sqlite3, one process, one
transaction), then ``collabctl import FILE`` (its summary checked: every item
changed, and the rows in the database), then the same import again (every
item unchanged: the re-import an office runs after each sync).

The marginal cost per company is (time at N - time at N/20) / (N - N/20), so
start-up cancels out; peak memory is compared between N/10 and N.
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
SERVICES = ("eekonomi", "fakturering")
TARGET_RATIO = 3.0


def company(index: int) -> dict[str, Any]:
    """A company as offices import them: a main contact, two services, two collaborations."""
    office = common.OFFICES[index % len(common.OFFICES)][0]
    return {
        "customer_number": common.customer_number(index),
        "org_number": common.org_number(index),
        "name": f"Bolag {index} AB",
        "users": [
            {
                "email": f"admin@bolag{index}.se",
                "name": f"Admin {index}",
                "role": "administrator",
                "main_contact": True,
                "services": list(SERVICES),
            }
        ],
        "subscriptions": [{"service": s, "state": "active"} for s in SERVICES],
        "collaborations": [
            {
                "service": s,
                "office": office,
                "state": "active",
                "started_at": "2024-01-31T09:00:00Z",
            }
            for s in SERVICES
        ],
    }


def write_input(path: Path, n: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for org, name in common.OFFICES:
            out.write(json.dumps({"office": {"org_number": org, "name": name}}) + "\n")
        for index in range(n):
            out.write(json.dumps({"company": company(index)}, ensure_ascii=False) + "\n")
    return path


def check_database(db: Path, n: int) -> None:
    with sqlite3.connect(db) as con:
        counts = [
            con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("company", "company_user", "subscription", "collaboration")
        ]
        events = con.execute(
            "SELECT count(*) FROM audit_event WHERE action = 'import' AND customer_number IS NOT NULL"
        ).fetchone()[0]
    if counts != [n, n, 2 * n, 2 * n] or events != n:
        raise SystemExit(f"unexpected rows after the import: {counts} and {events} events")


def measure(n: int) -> dict[str, Any]:
    items = n + len(common.OFFICES)
    with common.temp_home() as home:
        env = common.env_for(home)
        source = write_input(home / "companies.jsonl", n)
        common.run([*common.COLLABCTL, "db", "upgrade"], env=env)
        db = home / "collabctl.db"
        empty = common.snapshot(db)
        floor = common.run([common.PYTHON, str(HERE / "floor_import.py"), str(db)], stdin=source)
        check_database(db, n)
        common.restore(empty, db)
        command = [*common.COLLABCTL, "import", str(source)]
        imported = common.run(command, env=env)
        expect(imported, f"imported {items} items: {items} changed, 0 unchanged, 0 failed")
        check_database(db, n)
        again = common.run(command, env=env)
        expect(again, f"imported {items} items: 0 changed, {items} unchanged, 0 failed")
        return {"n": n, "floor": floor, "import": imported, "again": again}


def expect(measured: common.Measured, summary: str) -> None:
    said = measured.stderr.decode()
    if summary not in said:
        raise SystemExit(f"expected {summary!r}, collabctl said: {said[-500:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="companies (default 100000)")
    args = parser.parse_args()
    sizes = sorted({max(args.n // 20, 1), max(args.n // 10, 1), args.n})
    print(f"machine: {common.machine()}")
    print(f"`python benchmarks/import_sqlite.py --n {args.n}`\n")
    results = {size: measure(size) for size in sizes}
    rows = []
    for size, r in results.items():
        floor, imported, again = r["floor"], r["import"], r["again"]
        rows.append(
            (
                f"{size:,}",
                f"{floor.seconds:.2f} / {floor.cpu_seconds:.2f}",
                f"{imported.seconds:.2f} / {imported.cpu_seconds:.2f}",
                f"{size / imported.seconds:,.0f}",
                f"{again.seconds:.2f} / {again.cpu_seconds:.2f}",
                f"{floor.peak_rss_mb:.1f}",
                f"{imported.peak_rss_mb:.1f}",
                f"{again.peak_rss_mb:.1f}",
            )
        )
    print(
        common.table(
            (
                "companies",
                "floor s (wall / CPU)",
                "import s (wall / CPU)",
                "companies/s",
                "re-import s (wall / CPU)",
                "floor peak MB",
                "import peak MB",
                "re-import peak MB",
            ),
            rows,
        )
    )
    low, high = results[sizes[0]], results[sizes[-1]]
    extra = high["n"] - low["n"]
    print()
    marginal_rows = []
    verdicts = []
    for label, key in (("import", "import"), ("re-import (unchanged)", "again")):
        for clock in ("seconds", "cpu_seconds"):
            ours = (getattr(high[key], clock) - getattr(low[key], clock)) / extra * 1e6
            floor = (getattr(high["floor"], clock) - getattr(low["floor"], clock)) / extra * 1e6
            ratio = ours / floor
            name = "wall" if clock == "seconds" else "CPU"
            marginal_rows.append((label, name, f"{ours:.1f}", f"{floor:.1f}", f"{ratio:.2f}x"))
            if key == "import":
                verdicts.append(ratio)
    print(
        common.table(
            ("run", "clock", "collabctl µs/company", "floor µs/company", "ratio"), marginal_rows
        )
    )
    verdict = "met" if max(verdicts) <= TARGET_RATIO else "MISSED"
    print(
        f"\nmarginal cost from {low['n']:,} to {high['n']:,} companies: "
        f"{verdicts[0]:.2f}x wall, {verdicts[1]:.2f}x CPU (target <= {TARGET_RATIO}x): {verdict}"
    )
    tenth = results[sizes[-2]] if len(sizes) > 2 else low
    for label, key in (("import", "import"), ("re-import", "again")):
        a, b = tenth[key].peak_rss_mb, high[key].peak_rss_mb
        flat = b <= a * 1.10
        print(
            f"{label} memory: {a:.1f} MB at {tenth['n']:,}, {b:.1f} MB at {high['n']:,} "
            f"(within 10%): {'met' if flat else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
