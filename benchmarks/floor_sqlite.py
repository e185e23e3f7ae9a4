"""The floor for a bulk end: the same changes with plain sqlite3, in one process.

For every customer number on stdin: find the active collaboration of the
service, end it, set the subscription to the outcome's state, and insert an
audit event with the same details collabctl writes, linked into its company's
hash chain as collabctl links it (collabctl.store.chain: the chain's head, then
SHA-256 of the canonical encoding). No checks, no output, one transaction.
``python floor_sqlite.py DB SERVICE OUTCOME STATE [--outbox] < numbers``

With ``--outbox`` it also queues the two notifications collabctl queues for an
end (store/outbox.py): one row for the main contact and one for the office,
each with the party's address read by the lookup, and the facts as JSON.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import sqlite3
import sys
from datetime import UTC, datetime


def main() -> None:
    path, service, outcome, after = sys.argv[1:5]
    outbox = "--outbox" in sys.argv[5:]
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("BEGIN IMMEDIATE")
    user = getpass.getuser()
    for line in sys.stdin:
        number = line.strip()
        at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if outbox:  # the addresses and names the messages need, in the same lookup
            collaboration_id, office, company, office_name, office_email, contact = con.execute(
                "SELECT c.id, c.office_org_number, co.name, o.name, o.email,"
                " (SELECT email FROM company_user WHERE customer_number = c.customer_number"
                " AND main_contact) FROM collaboration c"
                " JOIN company co ON co.customer_number = c.customer_number"
                " JOIN office o ON o.org_number = c.office_org_number"
                " WHERE c.customer_number = ? AND c.service = ? AND c.state = 'active'",
                (number, service),
            ).fetchone()
        else:
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
        head = con.execute(
            "SELECT hash FROM audit_event WHERE customer_number = ? ORDER BY id DESC LIMIT 1",
            (number,),
        ).fetchone()
        prev = head[0] if head else None
        fields = [at, "benchmark", user, "agent", "end", number, service, details]
        encoded = json.dumps(
            ["collabctl-audit-v1", *fields, prev],
            separators=(",", ":"),
            sort_keys=True,
            ensure_ascii=False,
        )
        con.execute(
            "INSERT INTO audit_event (at, actor, scope, action, customer_number, service, details,"
            " db_user, prev_hash, hash) VALUES (?, 'benchmark', 'agent', 'end', ?, ?, ?, ?, ?, ?)",
            (
                at,
                number,
                service,
                json.dumps(details),
                user,
                prev,
                hashlib.sha256(encoded.encode()).hexdigest(),
            ),
        )
        if outbox:
            facts = json.dumps(
                {
                    "company_name": company,
                    "office_name": office_name,
                    "actor": "benchmark",
                    "behalf": "office",
                    "service_name": "Visma eEkonomi",
                    "outcome": outcome,
                },
                ensure_ascii=False,
                separators=(",", ":"),
            )
            con.execute(
                "INSERT INTO outbox (created_at, event, customer_number, service,"
                " office_org_number, recipient_role, recipient, language, facts, state, attempts)"
                " VALUES (?1, 'end', ?2, ?3, ?4, 'main-contact', ?5, 'en', ?6, ?7, 0),"
                " (?1, 'end', ?2, ?3, ?4, 'office', ?8, 'en', ?6, ?9, 0)",
                (
                    at,
                    number,
                    service,
                    office,
                    contact,
                    facts,
                    "pending" if contact else "no-address",
                    office_email,
                    "pending" if office_email else "no-address",
                ),
            )
    con.execute("COMMIT")
    con.close()


if __name__ == "__main__":
    main()
