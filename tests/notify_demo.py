"""The demo data with addresses, as the notification tests start from it: Exempelbyrån AB
has an e-mail address (the other offices none); its outbox read back, an end of 1001 that
queues messages, and the settings that send to the test SMTP server."""

from __future__ import annotations

from typing import Any

import pytest

from helpers import CLI, import_doc, ok
from notify_smtp import SmtpServer

SENDER = "collabctl@byran.example"
OFFICE = "556677-8899"  # Exempelbyrån AB: eekonomi and utlagg of 1001
OFFICE_MAIL = "info@exempelbyran.example"
MAIN = "anna@kund.se"


@pytest.fixture
def with_addresses(demo: CLI) -> CLI:
    """The demo data, where Exempelbyrån AB has an e-mail address and the other offices none."""
    ok_import = import_doc(
        demo, {"offices": [{"org_number": OFFICE, "name": "Exempelbyrån AB", "email": OFFICE_MAIL}]}
    )
    assert ok_import.exit_code == 0, ok_import.stderr
    return demo


def outbox(cli: CLI, state: str = "all") -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = ok(cli("notify", "list", "--state", state, "--format", "json"))
    return messages


def smtp_env(server: SmtpServer, **extra: str) -> dict[str, str]:
    return {"COLLABCTL_SMTP_URL": server.url(), "COLLABCTL_MAIL_FROM": SENDER, **extra}


def end_1001(cli: CLI, *extra: str) -> None:
    result = cli(
        "end", "1001", "-s", "eekonomi", "-o", "deactivate", "--by", "office", "--yes", *extra
    )
    assert result.exit_code == 0, result.stderr
