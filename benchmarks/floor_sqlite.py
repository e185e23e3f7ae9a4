"""The floor for a bulk end: the same changes with plain sqlite3, in one process.

For every customer number on stdin: find the active collaboration of the
service, end it, set the subscription to the outcome's state, and insert an
audit event with the same details collabctl writes. No checks, no output, one
transaction. ``python floor_sqlite.py DB SERVICE OUTCOME STATE < numbers``
"""

from __future__ import annotations

import json
import sqlite3
import sys
from datetime import UTC, datetime


def main() -> None:
    path, service, outcome, after = sys.argv[1:5]
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("BEGIN IMMEDIATE")
    for line in sys.stdin:
        number = line.strip()
        at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        collaboration_id, office = con.execute(
            "SELECT id, office_org_number FROM collaboration"
            " WHERE customer_number = ? AND service = ? AND state = 'active'",
            (number, service),
        ).fetchone()
        con.execute(
            "UPDATE collaboration SET state = 'ended', ended_at = ?, ended_by = 'office',"
            " ended_actor = 'benchmark', outcome = ? WHERE id = ?",
            (at, outcome, collaboration_id),
        )
        con.execute(
            "UPDATE subscription SET state = ? WHERE customer_number = ? AND service = ?",
            (after, number, service),
        )
        details = {
            "office_org_number": office,
            "ended_by": "office",
            "outcome": outcome,
            "reason": None,
            "subscription": {"before": "active", "after": after},
            "checklist": {},
            "confirmed": [],
            "forced": [],
            "backup_path": None,
            "records_deleted": 0,
        }
        con.execute(
            "INSERT INTO audit_event (at, actor, scope, action, customer_number, service, details)"
            " VALUES (?, 'benchmark', 'agent', 'end', ?, ?, ?)",
            (at, number, service, json.dumps(details)),
        )
    con.execute("COMMIT")
    con.close()


if __name__ == "__main__":
    main()
