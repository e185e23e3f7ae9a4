"""``collabctl import``: JSON documents and JSON Lines, upsert by key, per-item rejection."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from collabctl.cli.app import app
from collabctl.operations.importing import reader as item_reader
from collabctl.operations.importing.reader import iter_items
from conftest import CLI, Run
from helpers import sqlite_only

OFFICE_A = "556677-8899"
OFFICE_B = "559123-4561"

DOCUMENT: dict[str, Any] = {
    "offices": [
        {"org_number": OFFICE_A, "name": "Exempelbyrån AB"},
        {"org_number": "5591234561", "name": "Siffror AB"},  # no dash: stored with one
    ],
    "companies": [
        {
            "customer_number": "1001",
            "org_number": "556036-0793",
            "name": "Kund AB",
            "users": [
                {
                    "email": "anna@kund.se",
                    "name": "Anna",
                    "role": "administrator",
                    "main_contact": True,
                    "services": ["eekonomi", "utlagg"],
                },
                {"email": "erik@kund.se", "name": "Erik", "role": "user", "services": ["utlagg"]},
            ],
            "subscriptions": [{"service": "eekonomi", "state": "active"}, {"service": "utlagg"}],
            "collaborations": [
                {
                    "service": "eekonomi",
                    "office": OFFICE_A,
                    "state": "active",
                    "started_at": "2024-01-31T09:00:00Z",
                },
                {
                    "service": "utlagg",
                    "office": OFFICE_B,
                    "state": "ended",
                    "started_at": "2023-01-01T00:00:00Z",
                    "ended_at": "2023-12-31T00:00:00Z",
                    "ended_by": "office",
                    "outcome": "continue",
                    "reason": "moved",
                },
            ],
            "records": [
                {
                    "id": "R-1",
                    "service": "utlagg",
                    "kind": "expense-report",
                    "owner": "erik@kund.se",
                    "status": "draft",
                    "payload": {"amount_sek": 120, "note": "Tåg"},
                }
            ],
        },
        {
            "customer_number": "0042",
            "org_number": "5567890123",
            "name": "Café Hörnet HB",
            "collaborations": [
                {"service": "fakturering", "office": OFFICE_B, "started_at": "2019-05-01"}
            ],
        },
    ],
}


def as_jsonl(document: dict[str, Any]) -> str:
    lines = [json.dumps({"office": o}) for o in document.get("offices", [])]
    lines += [json.dumps({"company": c}, ensure_ascii=False) for c in document["companies"]]
    return "\n".join(lines) + "\n"


def snapshot(cli: CLI, *customers: str) -> dict[str, Any]:
    """Everything a user can see of the imported data, to compare before and after."""
    listed = cli("list", "--state", "all", "--format", "json")
    assert listed.exit_code == 0, listed.stderr
    shown = {}
    for number in customers:
        result = cli("show", number, "--format", "json")
        assert result.exit_code == 0, result.stderr
        shown[number] = result.json()
    return {"list": listed.json(), "show": shown}


def events(cli: CLI) -> list[dict[str, Any]]:
    result = cli("log", "--reverse", "--format", "json")
    assert result.exit_code == 0, result.stderr
    return result.json()


def import_text(cli: CLI, tmp_path: Path, text: str, *extra: str) -> Run:
    path = tmp_path / "input.json"
    path.write_text(text, encoding="utf-8")
    return cli("import", str(path), *extra)


# -- the accepted forms -----------------------------------------------------------------

FORMS = {
    "pretty-document": lambda d: json.dumps(d, indent=2, ensure_ascii=False),
    "one-line-document": lambda d: json.dumps(d),
    "json-lines": as_jsonl,
    "json-lines-with-blank-lines": lambda d: "\n\n" + as_jsonl(d).replace("\n", "\n\n"),
    "document-on-one-jsonl-line": lambda d: (
        json.dumps({"offices": d["offices"]})
        + "\n"
        + json.dumps({"companies": d["companies"]})
        + "\n"
    ),
}


# the forms differ before any SQL runs: one on both backends, the others on SQLite
@pytest.mark.parametrize(
    ("backend", "form", "via"),
    [("postgres", "pretty-document", "file")]
    + [("sqlite", form, "file") for form in FORMS]
    + [("sqlite", "pretty-document", "stdin"), ("sqlite", "json-lines", "stdin")],
    indirect=["backend"],
)
def test_every_form_imports_the_same_data(cli: CLI, tmp_path: Path, form: str, via: str) -> None:
    text = FORMS[form](DOCUMENT)
    stdin = via == "stdin"
    result = cli("import", "-", input=text) if stdin else import_text(cli, tmp_path, text)
    assert result.exit_code == 0, result.stderr
    assert "imported 4 items: 4 changed, 0 unchanged, 0 failed" in result.stderr
    assert result.stdout == ""  # table format: the summary is a message, not data

    rows = cli("list", "--state", "all", "--format", "json").json()
    assert [
        (r["customer_number"], r["service"], r["office_org_number"], r["state"]) for r in rows
    ] == [
        ("0042", "fakturering", OFFICE_B, "active"),
        ("1001", "eekonomi", OFFICE_A, "active"),
        ("1001", "utlagg", OFFICE_B, "ended"),
    ]
    ended = rows[2]
    assert (ended["ended_by"], ended["outcome"], ended["reason"]) == ("office", "continue", "moved")
    assert ended["started_at"].startswith("2023-01-01T00:00:00")
    assert rows[0]["started_at"].startswith("2019-05-01T00:00:00")  # a date means midnight UTC

    company = cli("show", "1001", "--format", "json").json()
    assert company["main_contact"] == "anna@kund.se"
    assert company["org_number"] == "556036-0793"
    assert [(u["email"], u["role"], u["main_contact"]) for u in company["users"]] == [
        ("anna@kund.se", "administrator", True),
        ("erik@kund.se", "user", False),
    ]
    assert company["subscriptions"] == [
        {"service": "eekonomi", "state": "active", "records": 0},
        {"service": "utlagg", "state": "active", "records": 1},
    ]
    cafe = cli("show", "0042", "--format", "json").json()
    assert cafe["customer_number"] == "0042"
    assert cafe["org_number"] == "556789-0123"
    # a collaboration without a listed subscription creates an active one
    assert cafe["subscriptions"] == [{"service": "fakturering", "state": "active", "records": 0}]


def test_import_output_formats(cli: CLI, tmp_path: Path) -> None:
    text = as_jsonl(DOCUMENT)
    lines = import_text(cli, tmp_path, text, "--format", "jsonl")
    assert lines.exit_code == 0, lines.stderr
    rows = lines.jsonl()
    assert [(r["line"], r["kind"], r["key"], r["status"]) for r in rows] == [
        (1, "office", OFFICE_A, "changed"),
        (2, "office", OFFICE_B, "changed"),
        (3, "company", "1001", "changed"),
        (4, "company", "0042", "changed"),
    ]
    assert all(set(r) == {"line", "kind", "key", "status", "changes", "error"} for r in rows)
    assert "created company 1001" in rows[2]["changes"]
    assert "imported 4 items: 4 changed, 0 unchanged, 0 failed" in lines.stderr

    summary = import_text(cli, tmp_path, text, "--format", "json")
    assert summary.json() == {"changed": 0, "unchanged": 4, "failed": 0, "items": 4}


# refused before the database is read: one case on both backends, the others on SQLite
@pytest.mark.parametrize(
    ("backend", "text"),
    [("postgres", ""), *(("sqlite", text) for text in ["", "\n\n", "  \n\t\n", "\ufeff"])],
    indirect=["backend"],
)
def test_empty_input_is_invalid(cli: CLI, text: str) -> None:
    result = cli("import", "-", input=text)
    assert result.exit_code == 2, result.stderr
    assert "error[invalid-input]: the input is empty" in result.stderr
    assert "hint: " in result.stderr


@sqlite_only  # refused before the database is read
def test_a_document_without_items_imports_nothing(cli: CLI) -> None:
    result = cli("import", "-", input='{"offices": [], "companies": []}')
    assert result.exit_code == 0, result.stderr
    assert "imported 0 items" in result.stderr


@sqlite_only  # refused before the database is read
def test_missing_file_is_a_usage_error(cli: CLI) -> None:
    result = cli("import", "no-such-file.json")
    assert result.exit_code == 2
    assert "error[invalid-input]: cannot read no-such-file.json" in result.stderr
    assert "hint:" in result.stderr


# -- upsert by key ------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["pretty-document", "json-lines"])
def test_importing_twice_changes_nothing(cli: CLI, tmp_path: Path, form: str) -> None:
    text = FORMS[form](DOCUMENT)
    first = import_text(cli, tmp_path, text)
    assert first.exit_code == 0, first.stderr
    before = snapshot(cli, "1001", "0042")
    log_before = events(cli)
    assert [e["action"] for e in log_before] == ["import"] * 4

    second = import_text(cli, tmp_path, text)
    assert second.exit_code == 0, second.stderr
    assert "imported 4 items: 0 changed, 4 unchanged, 0 failed" in second.stderr
    assert snapshot(cli, "1001", "0042") == before
    assert events(cli) == log_before


def test_reimport_updates_only_what_changed_and_records_it(cli: CLI, tmp_path: Path) -> None:
    import_text(cli, tmp_path, json.dumps(DOCUMENT))
    changed = copy.deepcopy(DOCUMENT)
    company = changed["companies"][0]
    company["name"] = "Kund & Co AB"
    # the e-mail key is case-insensitive: this is Erik, not a new user
    # users not listed are kept as they are
    company["users"] = [{"email": "ERIK@kund.se", "main_contact": True}]
    before = len(events(cli))

    result = import_text(cli, tmp_path, json.dumps(changed), "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    statuses = {r["key"]: r["status"] for r in result.jsonl()}
    assert statuses == {OFFICE_A: "unchanged", OFFICE_B: "unchanged", "1001": "changed",
                        "0042": "unchanged"}  # fmt: skip

    shown = cli("show", "1001", "--format", "json").json()
    assert shown["name"] == "Kund & Co AB"
    assert shown["main_contact"] == "erik@kund.se"
    users = {u["email"]: u for u in shown["users"]}
    assert set(users) == {"anna@kund.se", "erik@kund.se"}
    # the main contact moves; the new one is promoted, the old one stays administrator
    assert users["erik@kund.se"]["role"] == "administrator"
    assert users["anna@kund.se"]["role"] == "administrator"
    assert users["anna@kund.se"]["main_contact"] is False
    new_events = events(cli)[before:]
    assert len(new_events) == 1
    assert new_events[0]["action"] == "import"
    assert new_events[0]["customer_number"] == "1001"
    assert new_events[0]["details"]["key"] == "1001"
    # the audit event keeps what each updated field was before, and what it is now
    details = new_events[0]["details"]
    assert details["before"]["company"] == {"name": "Kund AB"}
    assert details["after"]["company"] == {"name": "Kund & Co AB"}
    assert details["before"]["user anna@kund.se"] == {"main_contact": True}
    assert details["after"]["user anna@kund.se"] == {"main_contact": False}
    assert details["before"]["user erik@kund.se"] == {"role": "user", "main_contact": False}
    assert details["after"]["user erik@kund.se"] == {"role": "administrator", "main_contact": True}


def test_reimport_keeps_the_main_contact_an_administrator(cli: CLI, tmp_path: Path) -> None:
    import_text(cli, tmp_path, json.dumps(DOCUMENT))
    changed = copy.deepcopy(DOCUMENT)
    # Anna stays main contact (the flag is left out), so she cannot become a plain user:
    # the item is refused, as `user set-role` would be, rather than changed otherwise
    changed["companies"][0]["users"] = [{"email": "anna@kund.se", "role": "user"}]
    result = import_text(cli, tmp_path, json.dumps(changed))
    assert result.exit_code == 4, result.stderr
    assert "error[main-contact-required]" in result.stderr
    shown = cli("show", "1001", "--format", "json").json()
    assert shown["main_contact"] == "anna@kund.se"
    users = {u["email"]: u for u in shown["users"]}
    assert users["anna@kund.se"]["role"] == "administrator"
    # once someone else is the main contact, she may be made a user
    changed["companies"][0]["users"] = [
        {"email": "anna@kund.se", "role": "user"},
        {"email": "erik@kund.se", "main_contact": True},
    ]
    result = import_text(cli, tmp_path, json.dumps(changed))
    assert result.exit_code == 0, result.stderr
    shown = cli("show", "1001", "--format", "json").json()
    users = {u["email"]: u for u in shown["users"]}
    assert shown["main_contact"] == "erik@kund.se"
    assert users["erik@kund.se"]["role"] == "administrator"
    assert (users["anna@kund.se"]["role"], users["anna@kund.se"]["main_contact"]) == ("user", False)


# -- bad items ----------------------------------------------------------------------------

GOOD_ORG = "556036-0793"


def company(number: str, **extra: Any) -> dict[str, Any]:
    return {"customer_number": number, "org_number": GOOD_ORG, "name": f"Bolag {number}", **extra}


BAD_LINES: list[tuple[str, str]] = [
    (
        json.dumps({"company": company("2001", org_number="556036-0794")}),
        "line 2: company.org_number: 556036-0794 has a wrong check digit",
    ),
    (
        json.dumps(
            {
                "company": company(
                    "2002",
                    users=[
                        {"email": "first@bolag.se", "role": "administrator"},
                        {"email": "second@bolag.se", "role": "boss"},
                    ],
                )
            }
        ),
        "line 3: company.users[1].role: 'boss' is not a role",
    ),
    (
        json.dumps({"company": company("2003", subscriptions=[{"service": "tid"}])}),
        "line 4: company.subscriptions[0].service: unknown service 'tid'",
    ),
    (
        json.dumps({"company": {"customer_number": "2004", "name": "Utan Org AB"}}),
        "line 5: company.org_number: required field is missing",
    ),
    (
        json.dumps(
            {
                "company": company(
                    "2005",
                    users=[
                        {"email": "a@bolag.se", "main_contact": True},
                        {"email": "b@bolag.se", "main_contact": True},
                    ],
                )
            }
        ),
        "line 6: company.users: more than one main contact",
    ),
    (
        json.dumps({"company": company("2006", colour="red")}),
        "line 7: company.colour: unknown field",
    ),
    ('{"company": {"customer_number": "2007",', "line 8: not valid JSON"),
    (
        json.dumps(
            {
                "company": company(
                    "2008",
                    collaborations=[
                        {"service": "eekonomi", "office": "556234-5677", "started_at": "2024-01-01"}
                    ],
                )
            }
        ),
        "line 9: company.collaborations[0].office: office 556234-5677 does not exist",
    ),
    (json.dumps({"customer": company("2009")}), 'line 10: expected {"office": ...}'),
    (
        json.dumps(
            {
                "company": company(
                    "2010",
                    users=[{"email": "ulla@bolag.se"}, {"email": "Ulla@Bolag.SE"}],
                )
            }
        ),
        "line 11: company.users[1].email: Ulla@Bolag.SE appears twice",
    ),
]


def test_bad_items_are_rejected_and_the_others_import(cli: CLI, tmp_path: Path) -> None:
    lines = [json.dumps({"office": {"org_number": OFFICE_A, "name": "Byrån"}})]
    lines += [line for line, _ in BAD_LINES]
    lines.append(json.dumps({"company": company("2100")}))
    result = import_text(cli, tmp_path, "\n".join(lines) + "\n")

    assert result.exit_code == 4, result.stderr
    for _, message in BAD_LINES:
        assert f"error[invalid-input]: {message}" in result.stderr, message
    assert result.stderr.count("error[invalid-input]") == len(BAD_LINES)
    assert f"imported 2 of 12 items: 2 changed, 0 unchanged, {len(BAD_LINES)} failed" in (
        result.stderr
    )

    assert cli("show", "2100", "--format", "json").exit_code == 0  # after every bad line
    for number in [f"200{i}" for i in range(1, 10)]:
        missing = cli("show", number)
        assert missing.exit_code == 1, number
        assert "error[not-found]" in missing.stderr
    # nothing of a rejected item reached the audit log either
    logged = [e["details"]["key"] for e in events(cli)]
    assert logged == [OFFICE_A, "2100"]


def test_a_company_whose_second_user_is_bad_leaves_no_trace(cli: CLI) -> None:
    document = {
        "offices": [{"org_number": OFFICE_A, "name": "Byrån"}],
        "companies": [
            company(
                "2002",
                users=[
                    {"email": "first@bolag.se", "main_contact": True, "services": ["eekonomi"]},
                    {"email": "not-an-address"},
                ],
                collaborations=[
                    {"service": "eekonomi", "office": OFFICE_A, "started_at": "2024-01-01"}
                ],
            ),
            company("2003"),
        ],
    }
    result = cli("import", "-", input=json.dumps(document, indent=2), env={"COLUMNS": "200"})
    assert result.exit_code == 4
    # the path names the line where the item starts, the item and the field
    assert "error[invalid-input]: line 9: companies[0].users[1].email: 'not-an-address'" in (
        result.stderr
    )
    assert cli("show", "2002").exit_code == 1
    assert cli("list", "--customer", "2002", "--state", "all", "--format", "json").json() == []
    assert cli("show", "2003").exit_code == 0


def test_an_item_failing_after_part_of_it_was_written_is_rolled_back(cli: CLI) -> None:
    # the company and its user are written before the unknown office is found
    line = json.dumps(
        {
            "company": company(
                "2008",
                users=[{"email": "a@bolag.se", "main_contact": True}],
                records=[{"id": "R", "service": "eekonomi", "kind": "voucher", "status": "draft"}],
                subscriptions=[{"service": "eekonomi"}],
                collaborations=[
                    {"service": "eekonomi", "office": "556234-5677", "started_at": "2024-01-01"}
                ],
            )
        }
    )
    result = cli("import", "-", input=line)
    assert result.exit_code == 2
    assert "office 556234-5677 does not exist" in result.stderr
    assert cli("show", "2008").exit_code == 1
    assert events(cli) == []


def test_second_active_collaboration_for_a_service_is_a_duplicate(cli: CLI) -> None:
    offices = [{"org_number": o, "name": o} for o in (OFFICE_A, OFFICE_B)]
    first = company(
        "2200",
        collaborations=[{"service": "eekonomi", "office": OFFICE_A, "started_at": "2024-01-01"}],
    )
    assert (
        cli("import", "-", input=json.dumps({"offices": offices, "companies": [first]})).exit_code
        == 0
    )
    second = company(
        "2200",
        name="Renamed",
        collaborations=[{"service": "eekonomi", "office": OFFICE_B, "started_at": "2025-01-01"}],
    )
    result = cli("import", "-", "--format", "jsonl", input=json.dumps({"company": second}))
    assert result.exit_code == 1
    (row,) = result.jsonl()
    assert row["status"] == "failed"
    assert row["error"]["code"] == "duplicate"
    shown = cli("show", "2200", "--format", "json").json()
    assert shown["name"] == "Bolag 2200"  # the rename in the refused item was not written
    assert [c["office_org_number"] for c in shown["collaborations"]] == [OFFICE_A]


@sqlite_only  # refused before the database is read
def test_two_active_collaborations_in_one_item_are_invalid(cli: CLI) -> None:
    item = company(
        "2300",
        collaborations=[
            {"service": "lon", "office": OFFICE_A, "started_at": "2024-01-01"},
            {"service": "lon", "office": OFFICE_B, "started_at": "2024-02-01"},
        ],
    )
    result = cli("import", "-", input=json.dumps({"company": item}))
    assert result.exit_code == 2
    assert "line 1: company.collaborations[1]: a second active collaboration for lon" in (
        result.stderr
    )


# -- exit codes -----------------------------------------------------------------------------


@sqlite_only  # refused before the database is read
def test_exit_code_is_2_when_every_item_is_invalid(cli: CLI) -> None:
    text = "\n".join(line for line, _ in BAD_LINES[:3]) + "\n"
    result = cli("import", "-", input=text, env={"COLLABCTL_NO_INPUT": "1"})
    assert result.exit_code == 2
    assert "3 failed" in result.stderr
    assert "0 changed" in result.stderr


def test_json_format_reports_errors_on_stderr_and_summary_on_stdout(cli: CLI) -> None:
    text = json.dumps({"company": company("2400")}) + "\n" + BAD_LINES[0][0] + "\n"
    result = cli("import", "-", "--format", "json", input=text)
    assert result.exit_code == 4
    assert result.json() == {"changed": 1, "unchanged": 0, "failed": 1, "items": 2}
    assert "error[invalid-input]: line 2: company.org_number" in result.stderr


def test_unreadable_document_stops_but_keeps_what_was_imported(cli: CLI) -> None:
    good = json.dumps(company("2500"))
    text = '{"companies": [' + good + ", {oops}]}"
    result = cli("import", "-", input=text)
    assert result.exit_code == 4
    assert "error[invalid-input]: line 1: not valid JSON" in result.stderr
    assert cli("show", "2500").exit_code == 0


# -- read-only subscriptions ------------------------------------------------------------------


def test_records_into_a_subscription_that_is_not_active_are_refused(demo: CLI) -> None:
    # demo: 0042 has eekonomi read-only (deactivated) and fakturering active
    base = {"customer_number": "0042", "org_number": "556789-0123", "name": "Café Hörnet HB"}
    record = {"id": "V-1", "kind": "voucher", "status": "draft"}
    before = len(events(demo))

    refused = demo(
        "import",
        "-",
        input=json.dumps({"company": {**base, "records": [{**record, "service": "eekonomi"}]}}),
    )
    assert refused.exit_code == 1
    assert (
        "error[read-only]: line 1: company.records[0]: eekonomi of customer 0042 is read-only"
        in refused.stderr
    )
    assert "hint: " in refused.stderr

    accepted = demo(
        "import", "-",
        input=json.dumps({"company": {**base, "records": [{**record, "service": "fakturering"}]}}),
    )  # fmt: skip
    assert accepted.exit_code == 0, accepted.stderr
    subs = {
        s["service"]: s for s in demo("show", "0042", "--format", "json").json()["subscriptions"]
    }
    assert subs["eekonomi"] == {"service": "eekonomi", "state": "read-only", "records": 0}
    assert subs["fakturering"]["records"] == 1
    assert len(events(demo)) == before + 1


def test_an_export_of_a_read_only_subscription_imports_back_unchanged(cli: CLI) -> None:
    offices = [{"org_number": OFFICE_A, "name": "Byrån"}]
    records = [
        {"id": "V-1", "service": "eekonomi", "kind": "voucher", "status": "submitted",
         "payload": {"amount_sek": 100}},
        {"id": "V-2", "service": "eekonomi", "kind": "voucher", "status": "draft"},
    ]  # fmt: skip
    active = company(
        "2600",
        users=[{"email": "anna@bolag.se", "main_contact": True}],
        subscriptions=[{"service": "eekonomi"}],
        collaborations=[{"service": "eekonomi", "office": OFFICE_A, "started_at": "2024-01-01"}],
        records=records,
    )
    document = json.dumps({"offices": offices, "companies": [active]})
    assert cli("import", "-", input=document).exit_code == 0
    ended = cli(
        "end", "2600", "--service", "eekonomi", "--outcome", "deactivate", "--by", "office",
        "--yes",
    )  # fmt: skip
    assert ended.exit_code == 0, ended.stderr
    exported = cli("export", "2600", "-o", "-")
    assert exported.exit_code == 0, exported.stderr
    before = events(cli)

    again = cli("import", "-", input=exported.stdout)
    assert again.exit_code == 0, again.stderr
    assert "0 changed, 2 unchanged" in again.stderr  # the office and the company
    assert events(cli) == before

    edited = exported.json()
    edited["companies"][0]["records"][1]["status"] = "submitted"
    refused = cli("import", "-", input=json.dumps(edited))
    assert refused.exit_code == 4  # the office went in (unchanged), the company failed
    assert "error[read-only]: line 1: companies[0].records[1]: eekonomi of customer 2600" in (
        refused.stderr
    )
    assert events(cli) == before
    exported = cli("export", "2600", "-o", "-")
    stored = {r["id"]: r["status"] for r in exported.json()["companies"][0]["records"]}
    assert stored == {"V-1": "submitted", "V-2": "draft"}


# -- streaming ------------------------------------------------------------------------------

SQLITE_ONLY = CliRunner()


def run_sqlite(*args: str, input: str | None = None) -> Run:
    result = SQLITE_ONLY.invoke(app, list(args), input=input, catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


def big_document(count: int) -> tuple[str, list[dict[str, Any]]]:
    """A document with one company a line, so company i starts on line 4 + i."""
    companies = [
        {
            "customer_number": f"{i:07d}",
            "org_number": GOOD_ORG,
            "name": f'Bolag "{i}" – Ägare {"å" * (i % 5)}',
            "records": [
                {
                    "id": f"R-{i}",
                    "service": "utlagg",
                    "kind": "outlay",
                    "status": "draft",
                    "payload": {"amount": 10**(i % 12) + i, "ok": i % 2 == 0, "rate": i / 7,
                                "none": None, "tags": [[], {}, [i]]},
                }
            ],
        }
        for i in range(count)
    ]  # fmt: skip
    text = (
        '{\n  "collabctl_export": {"version": "0.1.0", "numbers": [1, 22, 333, 4444]},\n'
        '  "companies": [\n'
        + ",\n".join("    " + json.dumps(c, ensure_ascii=False) for c in companies)
        + "\n  ]\n}\n"
    )
    return text, companies


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_iter_items_streams_a_document_across_chunk_boundaries(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(item_reader, "_CHUNK", chunk)
    text, companies = big_document(300 if chunk == 1 else 2000)
    items = list(iter_items(io.StringIO(text)))
    assert [item.kind for item in items] == ["company"] * len(companies)
    assert [item.data for item in items] == companies
    assert [item.where for item in items] == [
        f"line {4 + i}: companies[{i}]" for i in range(len(companies))
    ]


def test_iter_items_reads_json_lines_and_reports_bad_lines_in_place() -> None:
    text = "\n".join(
        [
            json.dumps({"office": {"org_number": OFFICE_A, "name": "A"}}),
            "",
            "[1, 2]",
            "{broken",
            json.dumps({"offices": [{"org_number": OFFICE_B, "name": "B"}], "companies": []}),
            json.dumps({"service": {"code": "tid"}}),
            json.dumps({"offices": {"not": "a list"}}),
        ]
    )
    items = list(iter_items(io.StringIO(text)))
    assert [(i.kind, i.where) for i in items] == [
        ("office", "line 1: office"),
        ("invalid", "line 3"),
        ("invalid", "line 4"),
        ("office", "line 5: offices[0]"),
        ("service", "line 6: service"),
        ("invalid", "line 7"),
    ]
    errors = [i.error for i in items if i.kind == "invalid"]
    assert all(e is not None and e.code == "invalid-input" for e in errors)
    assert [e.message for e in errors if e] == [
        "line 3: expected a JSON object",
        "line 4: not valid JSON (Expecting property name enclosed in double quotes, column 2)",
        "line 7: offices: expected a list",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"companies": [{"customer_number": "1"}',
            "line 1: expected ',' or ']', found end of input",
        ),
        ('{\n"companies": {}}', "line 2: expected '['"),
        ('{"companies": []} {"offices": []}', "line 1: unexpected data after the JSON document"),
        ('{\n\n "companies": [\n  {"a": tru}\n]}', "line 4: not valid JSON"),
        ("[1, 2]", "line 1: expected '{', found '['"),
    ],
)
def test_iter_items_reports_where_a_document_is_broken(text: str, message: str) -> None:
    from collabctl.domain.errors import InvalidInput

    with pytest.raises(InvalidInput) as info:
        list(iter_items(io.StringIO(text)))
    assert info.value.message.startswith(message)


def test_import_of_a_thousand_companies_through_small_chunks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(item_reader, "_CHUNK", 61)
    count = 1000
    companies = [
        {"customer_number": f"{i:05d}", "org_number": GOOD_ORG, "name": f"Bolag {i}"}
        for i in range(count)
    ]
    companies[789]["org_number"] = "556036-0790"  # one bad item deep in the stream
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"companies": companies}, indent=2), encoding="utf-8")

    result = run_sqlite("import", str(path))
    assert result.exit_code == 4, result.stderr
    bad_line = 3 + 5 * 789  # "{", '"companies": [', then five lines per company
    assert f"error[invalid-input]: line {bad_line}: companies[789].org_number" in result.stderr
    assert f"imported 999 of {count} items: 999 changed, 0 unchanged, 1 failed" in result.stderr

    shown = run_sqlite("show", "00999", "--format", "json")
    assert shown.json()["name"] == "Bolag 999"
    assert run_sqlite("show", "00789").exit_code == 1


def test_results_are_reported_only_once_their_batch_is_committed(home: Path) -> None:
    """A result said "changed" is already in the database, as another reader sees it."""
    from sqlalchemy import text

    from collabctl.config import default_database_url
    from collabctl.operations.context import Context
    from collabctl.operations.importing import import_items
    from collabctl.operations.importing.reader import Item
    from collabctl.store.database import Database

    db = Database(default_database_url(), embedded=True)
    db.ensure_schema()
    offices = [
        Item("office", f"offices[{i}]", {"org_number": org, "name": f"Byrå {i}"})
        for i, org in enumerate(("556677-8899", "559123-4561", "556234-5677"))
    ]

    def committed_offices() -> int:
        with db.engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM office")).scalar_one())

    seen = []
    try:
        with db.session() as session:
            for result in import_items(session, Context("tester"), iter(offices), batch_size=2):
                assert result.status == "changed"
                seen.append(committed_offices())
    finally:
        db.dispose()
    # the first two come after the first commit (2 rows), the third after the last (3 rows)
    assert seen == [2, 2, 3]


def test_import_events_join_their_chains_intact(cli: CLI, tmp_path: Path) -> None:
    """A batch's events are linked in one go; the chains verify as if linked one by one."""
    import_text(cli, tmp_path, as_jsonl(DOCUMENT))
    changed = copy.deepcopy(DOCUMENT)
    changed["companies"][0]["name"] = "Kund & Co AB"
    changed["offices"][0]["name"] = "Exempelbyrån i Norr AB"
    import_text(cli, tmp_path, as_jsonl(changed))
    verified = cli("log", "--verify")
    assert verified.exit_code == 0, verified.stderr
    assert "intact" in verified.stdout + verified.stderr


@sqlite_only  # the wording of the summary and the progress
def test_progress_is_shown_on_a_terminal_and_errors_stay_readable(cli: CLI, tmp_path: Path) -> None:
    from helpers import Tty

    path = tmp_path / "input.jsonl"
    lines = as_jsonl(DOCUMENT) + '{"company": {"customer_number": "x"}}\n'
    path.write_text(lines, encoding="utf-8")
    shown = cli("import", str(path), tty=Tty(stdin=False, stdout=False, stderr=True))
    assert shown.exit_code == 4, shown.stderr
    assert "importing:" in shown.stderr
    assert "error[invalid-input]: line 5: company.customer_number: 'x'" in shown.stderr
    assert "imported 4 of 5 items: 4 changed, 0 unchanged, 1 failed" in shown.stderr
    piped = cli("import", str(path))
    assert "importing:" not in piped.stderr
    assert "imported 4 of 5 items: 0 changed, 4 unchanged, 1 failed" in piped.stderr


@sqlite_only  # the wording of the summary and the progress
def test_one_item_is_one_item(cli: CLI) -> None:
    result = cli("import", "-", input=json.dumps({"office": DOCUMENT["offices"][0]}))
    assert "imported 1 item: 1 changed, 0 unchanged, 0 failed" in result.stderr
    failed = cli("import", "-", input='{"office": {"org_number": "1"}}')
    assert failed.exit_code == 2
    assert "imported 0 of 1 item: 0 changed, 0 unchanged, 1 failed" in failed.stderr
