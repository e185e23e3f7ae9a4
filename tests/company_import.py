"""A company exported and imported back, one item at a time, as the tests of import's
rules use it: ``export`` gives the company as ``collabctl export`` writes it,
``import_company`` imports one company line, and ``refused`` imports one that must be
refused whole and checks that nothing changed."""

from __future__ import annotations

import json
from typing import Any

from helpers import CLI, log_events, show


def export(cli: CLI, customer: str) -> dict[str, Any]:
    run = cli("export", customer, "-o", "-")
    assert run.exit_code == 0, run.stderr
    document: dict[str, Any] = run.json()
    return document["companies"][0]


def import_company(cli: CLI, company: dict[str, Any]) -> dict[str, Any]:
    """Import one company line; its result."""
    run = cli("import", "-", "--format", "jsonl", input=json.dumps({"company": company}) + "\n")
    assert "Traceback" not in run.stderr and "error[internal]" not in run.stderr
    (row,) = run.jsonl()
    row["exit_code"] = run.exit_code
    return row


def refused(cli: CLI, company: dict[str, Any], code: str = "conflict") -> dict[str, Any]:
    """Import a company that must be refused whole: its error, after checking that
    nothing changed (the company as shown, the audit log)."""
    number = company["customer_number"]
    before, events = show(cli, number), log_events(cli)
    row = import_company(cli, company)
    assert row["status"] == "failed", row
    assert row["key"] == number
    error: dict[str, Any] = row["error"]
    assert error["code"] == code, error
    assert row["exit_code"] == (2 if code == "invalid-input" else 1)
    assert error["hint"], error
    assert show(cli, number) == before
    assert log_events(cli) == events
    return error
