"""``import`` follows the rules of the commands.

An existing subscription's state and an ended collaboration's history change
only through ``start``, ``end`` and ``restore``; a new company must be
consistent. Each refusal is ``conflict`` (or ``invalid-input`` for an item that
contradicts itself) naming the path and the command to use, and changes nothing.
Most cases start from ``export``: the export of a company imports back
unchanged, and the tests change one thing in it.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from company_import import export, import_company, refused
from conftest import CLI
from helpers import log_events, ok, show

OFFICE_A = "556677-8899"


def test_an_export_imports_back_without_a_change(demo: CLI) -> None:
    for number in ("1001", "0042", "1004"):
        events = log_events(demo)
        row = import_company(demo, export(demo, number))
        assert (row["status"], row["exit_code"]) == ("unchanged", 0), row
        assert log_events(demo)[len(events) :] == [
            e for e in log_events(demo)[len(events) :] if e["action"] == "export"
        ]


# -- subscriptions ------------------------------------------------------------------------


def test_a_read_only_subscription_is_not_made_active(demo: CLI) -> None:
    company = export(demo, "0042")  # eekonomi was deactivated
    states = {s["service"]: s for s in company["subscriptions"]}
    assert states["eekonomi"]["state"] == "read-only"
    states["eekonomi"]["state"] = "active"
    error = refused(demo, company)
    index = company["subscriptions"].index(states["eekonomi"])
    assert error["message"] == (
        f"line 1: company.subscriptions[{index}].state: eekonomi of customer 0042 is read-only;"
        " import does not change a subscription's state ('active' given)"
    )
    assert "collabctl start 0042 --service eekonomi --office ORG_NUMBER" in error["hint"]


def test_an_active_subscription_is_not_ended_by_import(demo: CLI) -> None:
    company = export(demo, "1001")
    utlagg = next(s for s in company["subscriptions"] if s["service"] == "utlagg")
    utlagg["state"] = "deleted"  # it has records and an active collaboration
    error = refused(demo, company)
    assert "utlagg of customer 1001 is active" in error["message"]
    assert "collabctl end 1001 --service utlagg --outcome delete" in error["hint"]


def test_an_active_collaboration_needs_an_active_subscription(demo: CLI) -> None:
    company = export(demo, "0042")
    company["collaborations"].append(
        {"service": "eekonomi", "office": OFFICE_A, "state": "active", "started_at": "2025-01-01"}
    )
    error = refused(demo, company)
    index = len(company["collaborations"]) - 1
    assert error["message"].startswith(
        f"line 1: company.collaborations[{index}]: eekonomi of customer 0042 is read-only; "
        "an active collaboration needs an active subscription"
    )
    assert "collabctl start 0042 --service eekonomi" in error["hint"]


# -- ended collaborations -----------------------------------------------------------------


HISTORY_CHANGES = [
    ("outcome", "continue"),
    ("ended_by", "office"),
    ("ended_at", "2020-01-01T00:00:00Z"),
    ("reason", "another reason"),
    ("actor", "someone else"),
]


# one rule for every field: a time and a choice on both backends, the others on SQLite
@pytest.mark.parametrize(
    ("backend", "field", "value"),
    [
        *(("sqlite", *change) for change in HISTORY_CHANGES),
        ("postgres", *HISTORY_CHANGES[0]),
        ("postgres", *HISTORY_CHANGES[2]),
    ],
    indirect=["backend"],
)
def test_an_ended_collaboration_keeps_its_history(demo: CLI, field: str, value: str) -> None:
    company = export(demo, "0042")
    index, ended = next(
        (i, c) for i, c in enumerate(company["collaborations"]) if c["state"] == "ended"
    )
    assert ended.get(field) != value
    ended[field] = value
    error = refused(demo, company)
    assert error["message"].startswith(f"line 1: company.collaborations[{index}].{field}: ")
    assert "an ended collaboration's history does not change" in error["message"]


def test_an_ended_collaboration_is_not_reopened(demo: CLI) -> None:
    company = export(demo, "0042")
    ended = next(c for c in company["collaborations"] if c["state"] == "ended")
    ended["state"] = "active"
    for key in ("ended_at", "ended_by", "outcome"):
        del ended[key]
    error = refused(demo, company)
    assert "import does not reopen it" in error["message"]
    assert "collabctl start 0042 --service eekonomi --office" in error["hint"]


def test_an_active_collaboration_is_not_ended_by_import(demo: CLI) -> None:
    company = export(demo, "1001")
    active = next(c for c in company["collaborations"] if c["service"] == "eekonomi")
    active.update(state="ended", ended_at="2025-01-01", ended_by="office", outcome="deactivate")
    error = refused(demo, company)
    assert "is active; import does not end a collaboration" in error["message"]
    assert error["hint"] == (
        "end it with its checks: "
        "collabctl end 1001 --service eekonomi --outcome deactivate --by office"
    )


def test_the_backup_of_a_deleted_service_is_restored_by_restore_not_import(demo: CLI) -> None:
    ended = demo(
        "end", "1001", "--service", "utlagg", "--outcome", "delete", "--by", "office",
        "--yes", "--force", "--format", "json",
    )  # fmt: skip
    backup = ok(ended)["backup_path"]
    with open(backup, encoding="utf-8") as handle:
        company = json.load(handle)["companies"][0]
    error = refused(demo, company)
    assert "utlagg of customer 1001 is deleted" in error["message"]
    assert "collabctl restore BACKUP_FILE" in error["hint"]
    assert "collabctl start 1001 --service utlagg" in error["hint"]


# -- users --------------------------------------------------------------------------------


def test_an_auditor_is_not_made_main_contact_by_import(demo: CLI) -> None:
    company = export(demo, "1001")
    auditor = next(u for u in company["users"] if u["role"] == "auditor")
    company["users"] = [{"email": auditor["email"], "main_contact": True}]
    error = refused(demo, company, "auditor-cannot-be-main-contact")
    assert "is an auditor, who cannot be the main contact" in error["message"]
    # with a role that may be main contact, it is a change import may make
    company["users"][0]["role"] = "administrator"
    row = import_company(demo, company)
    assert row["status"] == "changed", row
    assert show(demo, "1001")["main_contact"] == auditor["email"]


# -- a new company is consistent ----------------------------------------------------------


def new_company(**extra: Any) -> dict[str, Any]:
    return {"customer_number": "6001", "org_number": "556036-0793", "name": "Ny AB", **extra}


NEW_COMPANY_CONFLICTS = [
    (
        {
            "subscriptions": [{"service": "eekonomi", "state": "read-only"}],
            "collaborations": [
                {"service": "eekonomi", "office": OFFICE_A, "started_at": "2024-01-01"}
            ],
        },
        "collaborations[0]",
        "an active collaboration needs an active subscription (eekonomi is read-only)",
    ),
    (
        {
            "subscriptions": [{"service": "utlagg", "state": "deleted"}],
            "records": [{"id": "R", "service": "utlagg", "kind": "outlay", "status": "draft"}],
        },
        "records[0]",
        "a deleted subscription holds no records",
    ),
]


# one rule for both: the first case on both backends, the second on SQLite
@pytest.mark.parametrize(
    ("backend", "extra", "path", "problem"),
    [
        ("sqlite", *NEW_COMPANY_CONFLICTS[0]),
        ("postgres", *NEW_COMPANY_CONFLICTS[0]),
        ("sqlite", *NEW_COMPANY_CONFLICTS[1]),
    ],
    indirect=["backend"],
)
def test_a_new_company_must_be_consistent(
    demo: CLI, extra: dict[str, Any], path: str, problem: str
) -> None:
    row = import_company(demo, new_company(**extra))
    assert (row["status"], row["exit_code"]) == ("failed", 2)
    assert row["error"]["code"] == "invalid-input"
    assert row["error"]["message"].startswith(f"line 1: company.{path}: {problem}")
    assert demo("show", "6001").exit_code == 1


def test_a_new_read_only_subscription_may_hold_records(demo: CLI) -> None:
    """History (an export of a deactivated service) goes into a new company as it was."""
    company = copy.deepcopy(export(demo, "0042"))
    company["customer_number"] = "6002"
    company["records"] = [
        {"id": "V-1", "service": "eekonomi", "kind": "voucher", "status": "submitted"}
    ]
    row = import_company(demo, company)
    assert row["status"] == "changed", row
    subscriptions = {s["service"]: s for s in show(demo, "6002")["subscriptions"]}
    assert subscriptions["eekonomi"] == {"service": "eekonomi", "state": "read-only", "records": 1}
