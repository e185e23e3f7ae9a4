"""Output formats of ``list``, ``show`` and ``log``: the documented keys, data on stdout only."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from conftest import CLI
from helpers import EVENT_KEYS, sqlite_only

COLLABORATION_KEYS = [
    "customer_number",
    "company_name",
    "service",
    "office_org_number",
    "office_name",
    "state",
    "started_at",
    "ended_at",
    "ended_by",
    "outcome",
    "reason",
    "ends_at",
]
SHOW_KEYS = [
    "customer_number",
    "org_number",
    "name",
    "main_contact",
    "users",
    "subscriptions",
    "collaborations",
    "offices",
    "access",
]
USER_KEYS = {"email", "name", "role", "main_contact", "services"}

EXEMPEL = "556677-8899"
SIFFROR = "559123-4561"
NORRLON = "556234-5677"


def csv_rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.reader(io.StringIO(text))
    header, *rows = list(reader)
    return header, [dict(zip(header, row, strict=True)) for row in rows]


def as_csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def keys(cli: CLI, *args: str) -> list[tuple[str, str]]:
    result = cli(*args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return [(r["customer_number"], r["service"]) for r in result.json()]


# -- list ---------------------------------------------------------------------------------


def test_list_json_is_one_list_of_collaborations_with_the_documented_keys(demo: CLI) -> None:
    result = demo("list", "--format", "json")
    assert result.exit_code == 0
    assert result.stderr == ""
    rows = result.json()
    assert isinstance(rows, list)
    assert len(rows) == 12  # every active collaboration of the demo
    for row in rows:
        assert list(row) == COLLABORATION_KEYS
        assert row["state"] == "active"
        assert row["ended_at"] is None and row["outcome"] is None
    first = rows[0]
    assert first["customer_number"] == "0042"  # a string: the leading zeros are kept
    assert first["company_name"] == "Café Hörnet HB"
    assert (first["office_org_number"], first["office_name"]) == (EXEMPEL, "Exempelbyrån AB")
    assert first["started_at"].startswith("2019-05-01T08:00:00")


@sqlite_only  # the rendering of rows already read
def test_list_jsonl_and_csv_carry_the_same_rows_as_json(demo: CLI) -> None:
    rows = demo("list", "--state", "all", "--format", "json").json()

    jsonl = demo("list", "--state", "all", "--format", "jsonl")
    assert jsonl.exit_code == 0
    lines = jsonl.stdout.splitlines()
    assert len(lines) == len(rows) == 13
    assert [json.loads(line) for line in lines] == rows

    result = demo("list", "--state", "all", "--format", "csv")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == ",".join(COLLABORATION_KEYS)
    header, table = csv_rows(result.stdout)
    assert header == COLLABORATION_KEYS
    assert table == [{k: as_csv_cell(v) for k, v in row.items()} for row in rows]
    ended = next(r for r in table if r["state"] == "ended")
    assert ended["customer_number"] == "0042"
    assert (ended["ended_by"], ended["outcome"]) == ("customer", "deactivate")
    assert ended["reason"] == "closing the bookkeeping service"


@sqlite_only  # the rendering of rows already read
def test_list_table_is_for_people_on_stdout(demo: CLI) -> None:
    result = demo("list")
    assert result.exit_code == 0
    assert result.stderr == ""
    assert "Café Hörnet HB" in result.stdout
    assert "0042" in result.stdout
    assert "Norrlands Lönebyrå AB" in result.stdout


@sqlite_only  # the rendering of rows already read
def test_list_with_nothing_to_show(demo: CLI) -> None:
    table = demo("list", "--customer", "9999")
    assert table.exit_code == 0
    assert table.stdout == ""
    assert table.stderr.strip() == "no collaborations match"
    assert demo("list", "--customer", "9999", "--format", "json").json() == []
    assert demo("list", "--customer", "9999", "--format", "jsonl").stdout == ""
    csv_out = demo("list", "--customer", "9999", "--format", "csv").stdout
    assert csv_out.splitlines() == [",".join(COLLABORATION_KEYS)]


def test_list_filters(demo: CLI) -> None:
    assert keys(demo, "list", "--customer", "0042") == [("0042", "fakturering")]
    assert keys(demo, "list", "--customer", "0042", "--state", "all") == [
        ("0042", "eekonomi"),
        ("0042", "fakturering"),
    ]
    # leading zeros are significant: 42 is another customer than 0042
    assert keys(demo, "list", "--customer", "42", "--state", "all") == []
    assert keys(demo, "list", "--service", "lon") == [("1004", "lon"), ("1005", "lon")]
    assert keys(demo, "list", "--office", NORRLON) == [
        ("1004", "eekonomi"),
        ("1004", "lon"),
        ("1005", "lon"),
    ]
    # the office may be given without the dash
    assert keys(demo, "list", "--office", NORRLON.replace("-", "")) == keys(
        demo, "list", "--office", NORRLON
    )
    assert keys(demo, "list", "--office", SIFFROR, "--service", "eekonomi") == [
        ("1003", "eekonomi"),
        ("1007", "eekonomi"),
    ]
    assert keys(demo, "list", "--state", "ended") == [("0042", "eekonomi")]
    everything = keys(demo, "list", "--state", "all")
    assert len(everything) == 13
    assert keys(demo, "list", "--state", "active") == keys(demo, "list")
    assert sorted(everything) == everything  # ordered by customer number, then service


def test_list_sees_an_end_immediately(demo: CLI) -> None:
    ended = demo(
        "end", "1001", "--service", "eekonomi", "--outcome", "continue", "--by", "customer",
        "--reason", "moving on", "--yes",
    )  # fmt: skip
    assert ended.exit_code == 0, ended.stderr
    (row,) = demo("list", "--customer", "1001", "--service", "eekonomi", "--state", "all",
                  "--format", "json").json()  # fmt: skip
    assert (row["state"], row["ended_by"], row["outcome"], row["reason"]) == (
        "ended",
        "customer",
        "continue",
        "moving on",
    )
    assert row["ended_at"] is not None and row["ended_at"].endswith("Z")
    assert ("1001", "eekonomi") not in keys(demo, "list")


# the service is looked up in the catalogue, so it runs on both backends; the other
# filters are refused before the database is read
@pytest.mark.parametrize(
    ("backend", "option", "value", "message"),
    [
        ("sqlite", "--state", "open", "--state: 'open' is not allowed"),
        ("sqlite", "--customer", "00x2", "--customer: '00x2' is not a customer number"),
        ("sqlite", "--office", "556677-8898", "--office: 556677-8898 has a wrong check digit"),
        ("sqlite", "--service", "tid", "--service: unknown service 'tid'"),
        ("postgres", "--service", "tid", "--service: unknown service 'tid'"),
    ],
    indirect=["backend"],
)
def test_list_rejects_bad_filters(demo: CLI, option: str, value: str, message: str) -> None:
    result = demo("list", option, value, "--format", "json")
    assert result.exit_code == 2
    assert f"error[invalid-input]: {message}" in result.stderr
    assert result.json()["error"]["code"] == "invalid-input"


# -- show ---------------------------------------------------------------------------------


def test_show_json_is_one_object_with_the_documented_keys(demo: CLI) -> None:
    result = demo("show", "0042", "--format", "json")
    assert result.exit_code == 0
    assert result.stderr == ""
    company = result.json()
    assert list(company) == SHOW_KEYS
    assert (company["customer_number"], company["org_number"], company["name"]) == (
        "0042",
        "556789-0123",
        "Café Hörnet HB",
    )
    assert company["main_contact"] == "sara@cafehornet.se"
    assert company["users"] == [
        {
            "email": "sara@cafehornet.se",
            "name": "Sara Öberg",
            "role": "administrator",
            "main_contact": True,
            "services": ["eekonomi", "fakturering"],
        }
    ]
    assert company["subscriptions"] == [
        {"service": "eekonomi", "state": "read-only", "records": 0},
        {"service": "fakturering", "state": "active", "records": 0},
    ]
    assert [list(c) for c in company["collaborations"]] == [COLLABORATION_KEYS] * 2
    assert [(c["service"], c["state"]) for c in company["collaborations"]] == [
        ("eekonomi", "ended"),
        ("fakturering", "active"),
    ]
    # the office still reads the deactivated eEkonomi: it has another active collaboration
    assert company["access"] == [
        {"service": "eekonomi", "party": "customer:0042", "access": "read"},
        {"service": "eekonomi", "party": f"office:{EXEMPEL}", "access": "read"},
        {"service": "fakturering", "party": "customer:0042", "access": "read-write"},
        {"service": "fakturering", "party": f"office:{EXEMPEL}", "access": "read-write"},
    ]
    # its last collaboration with 0042 ended: the office reads neither service any more
    ended = demo("end", "0042", "-s", "fakturering", "-o", "continue", "--by", "customer", "--yes")
    assert ended.exit_code == 0, ended.stderr
    access = demo("show", "0042", "--format", "json").json()["access"]
    assert {(a["service"], a["party"], a["access"]) for a in access} == {
        ("eekonomi", "customer:0042", "read"),
        ("eekonomi", f"office:{EXEMPEL}", "none"),
        ("fakturering", "customer:0042", "read-write"),
        ("fakturering", f"office:{EXEMPEL}", "none"),
    }


def test_show_users_without_a_main_contact_and_record_counts(demo: CLI) -> None:
    company = demo("show", "1002", "--format", "json").json()
    assert company["main_contact"] is None
    assert all(set(u) == USER_KEYS for u in company["users"])
    assert [u["role"] for u in company["users"]] == ["user", "auditor"]
    drafts = demo("show", "1003", "--format", "json").json()
    assert {s["service"]: s["records"] for s in drafts["subscriptions"]} == {
        "eekonomi": 0,
        "utlagg": 3,
    }
    assert {(a["service"], a["party"], a["access"]) for a in drafts["access"]} == {
        ("eekonomi", "customer:1003", "read-write"),
        ("eekonomi", f"office:{SIFFROR}", "read-write"),
        ("utlagg", "customer:1003", "read-write"),
        ("utlagg", f"office:{SIFFROR}", "read-write"),
    }


@sqlite_only  # the rendering of rows already read
def test_show_jsonl_and_csv(demo: CLI) -> None:
    document = demo("show", "1001", "--format", "json").json()

    jsonl = demo("show", "1001", "--format", "jsonl")
    assert jsonl.exit_code == 0
    assert len(jsonl.stdout.splitlines()) == 1
    assert json.loads(jsonl.stdout) == document

    result = demo("show", "1001", "--format", "csv")
    assert result.exit_code == 0
    header, rows = csv_rows(result.stdout)
    assert header == SHOW_KEYS
    (row,) = rows
    assert row["customer_number"] == "1001"
    assert row["main_contact"] == "anna@kund.se"
    assert json.loads(row["users"]) == document["users"]
    assert json.loads(row["access"]) == document["access"]


@sqlite_only  # the rendering of rows already read
def test_show_table_for_people(demo: CLI) -> None:
    result = demo("show", "0042")
    assert result.exit_code == 0
    for text in ("Café Hörnet HB", "sara@cafehornet.se", "read-only", "read-write", EXEMPEL):
        assert text in result.stdout


def test_show_keeps_leading_zeros_and_refuses_other_numbers(demo: CLI) -> None:
    missing = demo("show", "42", "--format", "json")
    assert missing.exit_code == 1
    assert missing.json()["error"]["code"] == "not-found"
    assert "customer 42 does not exist" in missing.stderr


# -- log ----------------------------------------------------------------------------------


def test_log_formats_have_the_documented_keys(demo: CLI) -> None:
    ended = demo(
        "--actor", "agent-7", "end", "1001", "--service", "eekonomi", "--outcome", "continue",
        "--by", "office", "--yes",
    )  # fmt: skip
    assert ended.exit_code == 0, ended.stderr

    result = demo("log", "--reverse", "--format", "json")
    assert result.exit_code == 0
    assert result.stderr == ""
    events = result.json()
    assert isinstance(events, list)
    assert all(list(e) == EVENT_KEYS for e in events)
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    last = events[-1]
    assert (last["actor"], last["scope"], last["action"]) == ("agent-7", "agent", "end")
    assert (last["customer_number"], last["service"]) == ("1001", "eekonomi")
    assert last["details"]["outcome"] == "continue"
    assert last["at"].endswith("Z")
    imports = [e for e in events if e["action"] == "import"]
    assert len(imports) == 10  # 3 offices and 7 companies of the demo
    assert all(e["actor"] == "tester" for e in imports)

    jsonl = demo("log", "--reverse", "--format", "jsonl")
    assert [json.loads(line) for line in jsonl.stdout.splitlines()] == events

    csv_out = demo("log", "--reverse", "--format", "csv")
    header, rows = csv_rows(csv_out.stdout)
    assert header == EVENT_KEYS
    assert len(rows) == len(events)
    assert rows[-1]["id"] == str(last["id"])
    assert json.loads(rows[-1]["details"]) == last["details"]
    assert rows[-1]["customer_number"] == "1001"
    cafe = next(r for r in rows if r["customer_number"] == "0042")
    assert cafe["service"] == ""


def test_log_filters(demo: CLI) -> None:
    demo("end", "0042", "--service", "fakturering", "--outcome", "deactivate", "--by",
         "customer", "--yes")  # fmt: skip
    cafe = demo("log", "--reverse", "--customer", "0042", "--format", "json").json()
    assert [(e["action"], e["service"]) for e in cafe] == [
        ("import", None),
        ("end", "fakturering"),
    ]
    assert demo("log", "--customer", "42", "--format", "json").json() == []
    by_service = demo("log", "--service", "fakturering", "--format", "json").json()
    assert [(e["customer_number"], e["action"]) for e in by_service] == [("0042", "end")]
    since = cafe[-1]["at"]
    assert [e["id"] for e in demo("log", "--since", since, "--format", "json").json()] == [
        cafe[-1]["id"]
    ]
    future = demo("log", "--since", "2999-01-01")
    assert future.exit_code == 0
    assert future.stdout == ""
    assert "no events match" in future.stderr
    bad = demo("log", "--since", "yesterday")
    assert bad.exit_code == 2
    assert "error[invalid-input]: --since: 'yesterday' is not a time" in bad.stderr


# -- data on stdout, messages on stderr ---------------------------------------------------------


def test_changes_print_the_changed_object_on_stdout_and_talk_on_stderr(demo: CLI) -> None:
    result = demo(
        "end", "1007", "--service", "eekonomi", "--outcome", "deactivate", "--by", "office",
        "--yes", "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    ended = result.json()
    assert set(COLLABORATION_KEYS) <= set(ended)
    assert (ended["customer_number"], ended["service"], ended["state"]) == (
        "1007",
        "eekonomi",
        "ended",
    )
    assert ended["outcome"] == "deactivate"

    demo_again = demo("demo", "--format", "json")
    assert demo_again.exit_code == 2
    assert demo_again.json()["error"]["code"] == "invalid-input"
    assert "error[invalid-input]" in demo_again.stderr


def test_demo_force_upserts_the_demo_data_over_what_is_there(demo: CLI) -> None:
    renamed = demo("import", "-", input=json.dumps({"office": {"org_number": EXEMPEL,
                                                              "name": "Omdöpt AB"}}))  # fmt: skip
    assert renamed.exit_code == 0, renamed.stderr
    assert demo("start", "1001", "-s", "lon", "--office", EXEMPEL).exit_code == 0
    assert demo("demo", "--force").exit_code == 0
    offices = {o["org_number"]: o["name"] for o in demo("show", "1001", "--format", "json")
               .json()["offices"]}  # fmt: skip
    assert offices[EXEMPEL] == "Exempelbyrån AB"  # the demo's own value again
    # what the demo data does not describe stays as it was
    services = {r["service"] for r in demo("list", "--customer", "1001", "--format", "json").json()}
    assert "lon" in services


@sqlite_only  # the rendering of rows already read
def test_names_with_markup_characters_print_as_written(cli: CLI, tmp_path: Path) -> None:
    data = {
        "offices": [{"org_number": "556677-8899", "name": "Byrå [/b] AB :warning:"}],
        "companies": [
            {
                "customer_number": "77",
                "org_number": "556036-0793",
                "name": "[bold]Kund[/bold] AB",
                "users": [{"email": "a@kund.se", "name": "[red]A[/red]", "main_contact": True}],
                "collaborations": [
                    {"service": "eekonomi", "office": "556677-8899", "started_at": "2024-01-01"}
                ],
            }
        ],
    }
    path = tmp_path / "markup.json"
    path.write_text(json.dumps(data))
    assert cli("import", str(path)).exit_code == 0
    shown = cli("show", "77")
    assert shown.exit_code == 0, shown.stderr
    assert "[bold]Kund[/bold] AB" in shown.stdout
    assert "[red]A[/red]" in shown.stdout
    assert "Byrå [/b] AB :warning:" in shown.stdout
    listed = cli("list")
    assert listed.exit_code == 0, listed.stderr
    assert "Byrå [/b] AB :warning:" in listed.stdout


def test_after_a_handover_neither_party_has_access_to_the_service(demo: CLI) -> None:
    ended = demo("end", "1004", "-s", "lon", "-o", "handover", "--by", "customer",
                 "--confirm", "data-synchronised", "--force", "--yes")  # fmt: skip
    assert ended.exit_code == 0, ended.stderr
    access = demo("show", "1004", "--format", "json").json()["access"]
    assert {a["party"]: a["access"] for a in access if a["service"] == "lon"} == {
        "customer:1004": "none",
        f"office:{NORRLON}": "none",
    }
    # the other service goes on as it was
    assert {a["access"] for a in access if a["service"] == "eekonomi"} == {"read-write"}


#: what each single change prints: (command line, its keys in order)
CHANGES = [
    (
        ("end", "1001", "-s", "eekonomi", "-o", "deactivate", "--by", "office", "--yes"),
        [*COLLABORATION_KEYS, "subscription_state", "forced", "backup_path", "records_deleted"],
    ),
    (("start", "1001", "-s", "lon", "--office", EXEMPEL), COLLABORATION_KEYS),
    (
        ("add-user", "1001", "--email", "ny@kund.se"),
        ["email", "name", "role", "main_contact", "services", "promoted",
         "previous_main_contact"],
    ),
    (
        ("set-main-contact", "1001", "--user", "ny@kund.se"),
        ["email", "name", "role", "main_contact", "services", "changed", "promoted",
         "previous_main_contact"],
    ),
]  # fmt: skip


# the same changes in both: jsonl on both backends, csv on SQLite
@pytest.mark.parametrize(
    ("backend", "fmt"),
    [("sqlite", "csv"), ("sqlite", "jsonl"), ("postgres", "jsonl")],
    indirect=["backend"],
)
def test_a_single_change_prints_one_row_with_its_keys(demo: CLI, fmt: str) -> None:
    for args, keys in CHANGES:
        result = demo(*args, "--format", fmt)
        assert result.exit_code == 0, (args, result.stderr)
        if fmt == "csv":
            header, *rows = list(csv.reader(io.StringIO(result.stdout)))
            assert header == keys, args
            assert len(rows) == 1 and len(rows[0]) == len(keys), args
            assert rows[0][0] in ("1001", "ny@kund.se"), args
        else:
            lines = result.stdout.splitlines()
            assert len(lines) == 1, args
            assert list(json.loads(lines[0])) == keys, args
