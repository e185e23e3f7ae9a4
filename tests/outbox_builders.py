"""Messages in the outbox, built as the notification tests need them: notices of an end,
queued to an office, read back; and SMTP settings for a URL."""

from __future__ import annotations

from typing import Any

from collabctl.operations.context import now_iso
from collabctl.operations.mail_templates import Notice, to_facts
from collabctl.operations.mailer import smtp_settings
from collabctl.operations.smtp_connection import SmtpSettings
from collabctl.store import outbox
from collabctl.store.database import Database
from collabctl.store.statements import Statements

SENDER = "collabctl@byran.example"

#: queued now: a message queued more than notify_expire_hours ago would expire unsent
AT = now_iso()


def notice(i: int, **changes: Any) -> Notice:
    """The end of collaboration ``i``, as an end queues it (in Swedish here)."""
    values: dict[str, Any] = {
        "event": "end",
        "at": AT,
        "customer_number": f"{1000 + i}",
        "company_name": f"Kund {i} AB",
        "office_org_number": "556677-8899",
        "office_name": "Exempelbyrån AB",
        "actor": "tester",
        "behalf": "office",
        "service": "eekonomi",
        "service_name": "Visma eEkonomi",
        "outcome": "deactivate",
        **changes,
    }
    return Notice(**values)


def queue_notices(db: Database, *messages: tuple[str | None, Notice]) -> list[int]:
    """Messages to the office (recipient None: no address) about these notices; their ids."""
    with db.session() as session:
        sql = Statements(session)
        for to, about in messages:
            outbox.queue_messages(
                sql,
                at=about.at,
                event=about.event,
                customer_number=about.customer_number,
                service=about.service,
                language="sv",
                messages=[
                    outbox.NewMessage("office", to, about.office_org_number, to_facts(about))
                ],
            )
        session.commit()
    return [m["id"] for m in rows(db)][-len(messages) :]


def queue(db: Database, *recipients: str | None) -> list[int]:
    """One message per recipient (None: a party without an address); their ids."""
    return queue_notices(db, *((to, notice(i)) for i, to in enumerate(recipients)))


def rows(db: Database) -> list[dict[str, Any]]:
    with db.engine.connect() as conn:
        return list(outbox.list_messages(conn, state=None))


def by_id(db: Database) -> dict[int, dict[str, Any]]:
    return {m["id"]: m for m in rows(db)}


def settings_for(url: str, mail_from: str | None = SENDER) -> SmtpSettings:
    settings = smtp_settings({"smtp_url": url, "mail_from": mail_from}, environ={})
    assert settings is not None
    return settings
