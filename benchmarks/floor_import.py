"""The floor for an import: the same rows with plain sqlite3, in one process.

For every JSON Lines line on stdin: parse it; an office is inserted; for a
company, look it up, then insert the company, its users, subscriptions and
collaborations, and one audit event with the same details collabctl writes,
linked into the company's hash chain as collabctl links it
(collabctl.store.chain). No validation, no comparison, no output, one
transaction.
``python floor_import.py DB < companies.jsonl``
"""

from __future__ import annotations

import getpass
import hashlib
import json
import sqlite3
import sys
from datetime import UTC, datetime


def main() -> None:
    con = sqlite3.connect(sys.argv[1], isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("BEGIN IMMEDIATE")
    login = getpass.getuser()
    for line in sys.stdin:
        item = json.loads(line)
        at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if "office" in item:
            office = item["office"]
            con.execute(
                "INSERT INTO office (org_number, name) VALUES (?, ?)",
                (office["org_number"], office["name"]),
            )
            continue
        company = item["company"]
        number = company["customer_number"]
        if con.execute("SELECT 1 FROM company WHERE customer_number = ?", (number,)).fetchone():
            continue
        changes = [f"created company {number}"]
        con.execute(
            "INSERT INTO company (customer_number, org_number, name) VALUES (?, ?, ?)",
            (number, company["org_number"], company["name"]),
        )
        for user in company["users"]:
            con.execute(
                "INSERT INTO company_user (customer_number, email, email_key, name, role,"
                " main_contact, services) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    number,
                    user["email"],
                    user["email"].casefold(),
                    user["name"],
                    user["role"],
                    user["main_contact"],
                    json.dumps(user["services"]),
                ),
            )
            changes.append(f"created user {user['email']}")
        for sub in company["subscriptions"]:
            con.execute(
                "INSERT INTO subscription (customer_number, service, state) VALUES (?, ?, ?)",
                (number, sub["service"], sub["state"]),
            )
            changes.append(f"created subscription {sub['service']}")
        for collab in company["collaborations"]:
            con.execute(
                "INSERT INTO collaboration (customer_number, service, office_org_number, state,"
                " started_at) VALUES (?, ?, ?, ?, ?)",
                (
                    number,
                    collab["service"],
                    collab["office"],
                    collab["state"],
                    collab["started_at"],
                ),
            )
            changes.append(f"created collaboration {collab['service']}/{collab['office']}")
        details = {"item": "company", "key": number, "changes": changes}
        head = con.execute(
            "SELECT hash FROM audit_event WHERE customer_number = ? ORDER BY id DESC LIMIT 1",
            (number,),
        ).fetchone()
        prev = head[0] if head else None
        fields = ["collabctl-audit-v1", at, "benchmark", login, "agent", "import", number]
        encoded = json.dumps(
            [*fields, None, details, prev],
            separators=(",", ":"),
            sort_keys=True,
            ensure_ascii=False,
        )
        con.execute(
            "INSERT INTO audit_event (at, actor, scope, action, customer_number, service, details,"
            " db_user, prev_hash, hash) VALUES (?, 'benchmark', 'agent', 'import', ?, NULL, ?, ?,"
            " ?, ?)",
            (
                at,
                number,
                json.dumps(details),
                login,
                prev,
                hashlib.sha256(encoded.encode()).hexdigest(),
            ),
        )
    con.execute("COMMIT")
    con.close()


if __name__ == "__main__":
    main()
