"""`notify send` as real processes: several at once never send one message twice, and a
run killed in the middle loses nothing (a message the server accepted just before
the kill may come again, with the same Message-ID). On both backends, and through
PgBouncer in transaction mode, where one server session serves many runs in turn."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from typing import Any

import pytest

from collabctl.operations.context import now_iso
from collabctl.operations.mail_templates import Notice, to_facts
from collabctl.store import outbox
from collabctl.store.database import Database
from collabctl.store.statements import Statements
from helpers import COLLABCTL, PROCESS_TIMEOUT_S, collabctl_process, db_url
from notify_smtp import SmtpServer, smtp_server
from pgbouncer_fixtures import ALL_BACKENDS

pytestmark = pytest.mark.slow

SENDER = "collabctl@byran.example"
FACTS = to_facts(
    Notice("end", "2024-01-31T09:00:00.000000Z", "1001", "Kund AB", "556677-8899",
           "Exempelbyrån AB", "tester", "office", "eekonomi", "Visma eEkonomi", "continue")
)  # fmt: skip


def queue(db: Database, n: int) -> set[int]:
    with db.session() as session:
        outbox.queue_messages(
            Statements(session),
            at=now_iso(),
            event="end",
            customer_number="1001",
            service="eekonomi",
            language="en",
            messages=[
                outbox.NewMessage("office", f"u{i}@kund.example", "556677-8899", FACTS)
                for i in range(n)
            ],
        )
        session.commit()
    return {m["id"] for m in states(db)}


def states(db: Database) -> list[dict[str, Any]]:
    with db.engine.connect() as conn:
        return list(outbox.list_messages(conn, state=None))


def sender(server: SmtpServer) -> Any:
    env = {
        **os.environ,
        "COLLABCTL_SMTP_URL": server.url(),
        "COLLABCTL_MAIL_FROM": SENDER,
        "COLLABCTL_DATABASE_URL": db_url(),
    }
    return collabctl_process(
        [*COLLABCTL, "notify", "send"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def outbox_ids(server: SmtpServer) -> Counter[int]:
    """How many times the server accepted each outbox message (by its Message-ID)."""
    with server.mailbox.lock:
        ids = [r.message_id for r in server.mailbox.received]
    return Counter(int(mid.split(".")[1]) for mid in ids)


@pytest.mark.parametrize("backend", ALL_BACKENDS, indirect=True)
def test_senders_at_once_deliver_each_message_exactly_once(db: Database) -> None:
    ids = queue(db, 300)
    with smtp_server() as server:
        server.mailbox.delay = 0.002  # long enough for the runs to overlap
        running = [sender(server) for _ in range(3)]
        outputs = [p.communicate(timeout=PROCESS_TIMEOUT_S) for p in running]
        assert [p.returncode for p in running] == [0, 0, 0], outputs
        for _, err in outputs:
            assert "prepared statement" not in err and "Traceback" not in err, err
        delivered = outbox_ids(server)
    assert set(delivered) == ids
    assert max(delivered.values()) == 1, "a message was sent twice"
    assert all(m["state"] == "sent" and m["attempts"] == 1 for m in states(db))
    sent = [int(err.split("notify send: ")[1].split(" sent")[0]) for _, err in outputs]
    assert sum(sent) == 300


@pytest.mark.parametrize(
    "backend",
    [*ALL_BACKENDS, pytest.param("pgbouncer-session", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_a_killed_sender_loses_nothing(db: Database) -> None:
    """Through PgBouncer the killed run's server session lives on in the pool: its
    claims must be seen as abandoned all the same, not held for the whole lease."""
    ids = queue(db, 40)
    with smtp_server() as server:
        server.mailbox.delay = 0.05
        process = sender(server)
        deadline = time.monotonic() + PROCESS_TIMEOUT_S
        while server.mailbox.count() < 10:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the sender made no progress"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait()

        after_kill = states(db)
        assert {m["id"] for m in after_kill} == ids  # nothing gone from the outbox
        assert all(m["state"] in ("sent", "pending") for m in after_kill)

        server.mailbox.delay = 0
        # the claims of the killed run are released as soon as its end is seen (its process
        # here; on PostgreSQL its server session, which ends a moment after the process)
        while any(m["state"] == "pending" for m in states(db)):
            again = sender(server)
            _out, err = again.communicate(timeout=PROCESS_TIMEOUT_S)
            assert again.returncode == 0, err
            assert time.monotonic() < deadline, "the killed run's claims were never released"
        delivered = outbox_ids(server)
    assert set(delivered) == ids, "every message reached the server"
    # at most the message accepted between the server's reply and the sent mark comes twice
    assert sum(delivered.values()) - len(ids) <= 1
    assert all(m["state"] == "sent" for m in states(db))
