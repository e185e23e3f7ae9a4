"""``end --at`` schedules an end; ``schedule list`` and ``schedule cancel`` (SPEC 8.3), on both
backends. Performing the ends (``schedule run``) is tested in test_schedule_run.py."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from typing import Any

import pytest

from helpers import CLI, error_of, log_events, ok, sqlite_only

#: a day well in the future, whatever day the suite runs on
DAY = (date.today() + timedelta(days=60)).isoformat()
LATER = (date.today() + timedelta(days=90)).isoformat()
SCHEDULE_KEYS = [
    "id",
    "customer_number",
    "service",
    "office_org_number",
    "outcome",
    "by",
    "due_at",
    "state",
    "scheduled_by",
    "error",
]
END_1001 = ("end", "1001", "-s", "eekonomi", "-o", "continue", "--by", "office")


def schedule(cli: CLI, *args: str, at: str = DAY) -> Any:
    return ok(cli(*args, "--at", at, "--yes", "--format", "json"))


def listed(cli: CLI, *args: str, party: str | None = None) -> list[dict[str, Any]]:
    scope = ("--as", party) if party else ()
    return ok(cli(*scope, "schedule", "list", *args, "--format", "json"))  # type: ignore[no-any-return]


def test_end_at_schedules_without_ending_and_tells_both_parties(demo: CLI) -> None:
    result = schedule(demo, *END_1001)
    assert [k for k in result if k in SCHEDULE_KEYS] == SCHEDULE_KEYS
    assert result["state"] == "scheduled"
    assert result["ends_on"] == DAY
    assert result["due_at"].endswith("Z") and result["due_at"][:10] == DAY
    assert (result["customer_number"], result["office_org_number"]) == ("1001", "556677-8899")
    assert (result["outcome"], result["by"], result["scheduled_by"]) == (
        "continue",
        "office",
        "tester",
    )
    assert result["to_do"] == []
    # nothing ended yet
    assert {c["service"] for c in listed_collaborations(demo, "1001")} >= {"eekonomi"}
    [event] = [e for e in log_events(demo, "--customer", "1001") if e["action"] == "schedule"]
    assert event["service"] == "eekonomi"
    assert event["details"]["schedule_id"] == result["id"]
    assert event["details"]["ends_on"] == DAY
    assert event["details"]["office_org_number"] == "556677-8899"
    messages = ok(demo("notify", "list", "--state", "all", "--format", "json"))
    told = [m for m in messages if m["event"] == "schedule"]
    assert sorted(m["to"] for m in told) == ["anna@kund.se", "info@exempelbyran.se"]
    assert all(DAY in m["subject"] for m in told), told


def listed_collaborations(cli: CLI, customer: str) -> list[dict[str, Any]]:
    return ok(cli("list", "--customer", customer, "--format", "json"))  # type: ignore[no-any-return]


def test_a_second_schedule_is_duplicate_and_replace_moves_it(demo: CLI) -> None:
    first = schedule(demo, *END_1001)
    again = demo(*END_1001, "--at", LATER, "--yes", "--format", "json")
    error = error_of(again, "duplicate")
    assert f"schedule cancel {first['id']}" in error["hint"] and "--replace" in error["hint"]
    moved = schedule(demo, *END_1001, "--replace", at=LATER)
    assert (moved["id"], moved["ends_on"], moved["replaced"]) == (
        first["id"],
        LATER,
        first["due_at"],
    )
    [row] = listed(demo)
    assert row["due_at"] == moved["due_at"]
    actions = [e["action"] for e in log_events(demo, "--customer", "1001")]
    assert actions.count("schedule") == 2


def test_replace_where_nothing_is_scheduled_is_not_found(demo: CLI) -> None:
    error_of(demo(*END_1001, "--at", DAY, "--replace", "--yes", "--format", "json"), "not-found")
    assert listed(demo) == []


def test_dry_run_shows_what_would_be_scheduled_and_changes_nothing(demo: CLI) -> None:
    result = ok(demo(*END_1001, "--at", DAY, "--dry-run", "--format", "json"))
    assert (result["state"], result["ends_on"], result["id"]) == ("scheduled", DAY, None)
    assert listed(demo, "--state", "all") == []
    assert not [e for e in log_events(demo) if e["action"] == "schedule"]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("end", "0042", "-s", "eekonomi", "-o", "continue", "--by", "office"), "already-ended"),
        (("end", "1003", "-s", "lon", "-o", "handover", "--by", "office"), "not-found"),
        (("end", "9999", "-s", "eekonomi", "-o", "continue", "--by", "office"), "not-found"),
        (
            ("end", "1001", "-s", "eekonomi", "-o", "handover", "--by", "office"),
            "outcome-not-allowed",
        ),
        (
            ("--as", "office:559123-4561", "end", "1001", "-s", "eekonomi", "-o", "continue"),
            "not-a-party",
        ),
    ],
)
def test_rules_that_cannot_change_refuse_now(demo: CLI, args: tuple[str, ...], code: str) -> None:
    error_of(demo(*args, "--at", DAY, "--yes", "--format", "json"), code)
    assert listed(demo, "--state", "all") == []


def test_main_contact_and_checklist_are_what_must_be_done_by_then(demo: CLI) -> None:
    # 1002 has no main contact
    result = schedule(demo, "end", "1002", "-s", "eekonomi", "-o", "continue", "--by", "customer")
    assert [item["check"] for item in result["to_do"]] == ["main-contact"]
    assert (
        "set-main-contact" in result["to_do"][0]["hint"] or "add-user" in result["to_do"][0]["hint"]
    )
    # lon's checklist: data-synchronised and backup-handed-over are attested only by a person
    lon = schedule(demo, "end", "1005", "-s", "lon", "--by", "office")
    assert lon["outcome"] == "handover"
    assert [item["check"] for item in lon["to_do"]] == ["checklist"]
    table = demo("end", "1004", "-s", "lon", "--by", "office", "--at", DAY, "--yes")
    assert table.exit_code == 0, table.stderr
    assert "to do by then (checklist)" in table.stdout


BAD_DAYS = [
    ("2027-02-30", "no such day"),
    ("yesterday", "not a date"),
    ("2027-01-31T10:00", "a time is not a date"),
    (date.today().isoformat(), "must be in the future"),
]


# refused before the database is read: one case on both backends, the others on SQLite
@pytest.mark.parametrize(
    ("backend", "at", "message"),
    [("postgres", *BAD_DAYS[0]), *(("sqlite", *case) for case in BAD_DAYS)],
    indirect=["backend"],
)
def test_a_bad_day_is_invalid_input_and_nothing_is_written(
    demo: CLI, at: str, message: str
) -> None:
    error = error_of(demo(*END_1001, "--at", at, "--yes", "--format", "json"), "invalid-input", 2)
    assert message in error["message"]
    assert listed(demo, "--state", "all") == []


def test_an_unknown_time_zone_in_config_is_config_invalid(demo: CLI, home: Any) -> None:
    home.mkdir(exist_ok=True)
    (home / "config.toml").write_text('timezone = "Europe/Stockhom"\n')
    error = error_of(demo(*END_1001, "--at", DAY, "--yes", "--format", "json"), "config-invalid", 3)
    assert "Europe/Stockhom" in error["message"]
    (home / "config.toml").write_text('timezone = "Europe/Stockholm"\n')
    schedule(demo, *END_1001)


@sqlite_only  # refused before the database is read
def test_without_a_terminal_scheduling_needs_yes(demo: CLI) -> None:
    result = demo(*END_1001, "--at", DAY)
    assert result.exit_code == 2
    assert "--yes" in result.stderr
    assert listed(demo) == []


def test_list_filters_and_every_format_has_the_keys(demo: CLI) -> None:
    schedule(demo, *END_1001)
    schedule(demo, "end", "1007", "-s", "utlagg", "-o", "continue", "--by", "customer", at=LATER)
    schedule(demo, "end", "1003", "-s", "eekonomi", "-o", "continue", "--by", "office")
    rows = listed(demo)
    assert [r["customer_number"] for r in rows] == ["1001", "1003", "1007"]  # soonest first
    assert all(list(r) == SCHEDULE_KEYS for r in rows)
    assert [r["customer_number"] for r in listed(demo, "--customer", "1007")] == ["1007"]
    assert [r["customer_number"] for r in listed(demo, "--office", "556677-8899")] == [
        "1001",
        "1007",
    ]
    assert listed(demo, "--state", "done") == []
    assert listed(demo, "--due") == []  # none is due yet
    jsonl = demo("schedule", "list", "--format", "jsonl")
    assert [list(json.loads(line)) for line in jsonl.stdout.splitlines()] == [SCHEDULE_KEYS] * 3
    table = list(csv.reader(io.StringIO(demo("schedule", "list", "--format", "csv").stdout)))
    assert table[0] == SCHEDULE_KEYS and len(table) == 4
    people = demo("schedule", "list")
    assert people.exit_code == 0 and "1007" in people.stdout
    bad = demo("schedule", "list", "--state", "sent", "--format", "json")
    error_of(bad, "invalid-input", 2)
    both = demo("schedule", "list", "--due", "--state", "done", "--format", "json")
    error_of(both, "invalid-input", 2)


def test_a_party_lists_and_cancels_only_its_own(demo: CLI) -> None:
    mine = schedule(demo, *END_1001)
    other = schedule(demo, "end", "1003", "-s", "eekonomi", "-o", "continue", "--by", "office")
    office = ("--as", "office:556677-8899")
    assert [r["id"] for r in listed(demo, party=office[1])] == [mine["id"]]
    assert [r["id"] for r in listed(demo, party="customer:1003")] == [other["id"]]
    hidden = demo(*office, "schedule", "cancel", str(other["id"]), "--format", "json")
    assert "1003" not in error_of(hidden, "not-found")["message"]
    by_service = demo(*office, "schedule", "cancel", "1003", "-s", "eekonomi", "--format", "json")
    error_of(by_service, "not-found")
    ok(demo(*office, "schedule", "cancel", str(mine["id"]), "--format", "json"))
    # a party schedules only its own collaborations, ended on its own behalf
    own = schedule(demo, "--as", "customer:1003", "end", "1003", "-s", "utlagg", "-o", "continue")
    assert own["by"] == "customer"


def test_cancel_by_id_or_by_customer_and_service(demo: CLI) -> None:
    first = schedule(demo, *END_1001)
    dry = ok(demo("schedule", "cancel", str(first["id"]), "--dry-run", "--format", "json"))
    assert dry["state"] == "cancelled"
    assert listed(demo)[0]["state"] == "scheduled"
    done = ok(demo("schedule", "cancel", str(first["id"]), "--format", "json"))
    assert (done["id"], done["state"]) == (first["id"], "cancelled")
    assert listed(demo) == []
    assert listed(demo, "--state", "cancelled")[0]["id"] == first["id"]
    # cancelled frees the collaboration for a new schedule, cancelled by customer and service
    second = schedule(demo, *END_1001)
    ok(demo("schedule", "cancel", "1001", "--service", "eekonomi", "--format", "json"))
    assert {r["id"]: r["state"] for r in listed(demo, "--state", "all")} == {
        first["id"]: "cancelled",
        second["id"]: "cancelled",
    }
    again = demo("schedule", "cancel", str(first["id"]), "--format", "json")
    error_of(again, "conflict")
    error_of(demo("schedule", "cancel", "1001", "-s", "eekonomi", "--format", "json"), "not-found")
    error_of(demo("schedule", "cancel", "424242", "--format", "json"), "not-found")
    error_of(demo("schedule", "cancel", "x1", "--format", "json"), "invalid-input", 2)
    cancels = [
        e for e in log_events(demo, "--customer", "1001") if e["action"] == "schedule-cancel"
    ]
    assert [e["details"]["schedule_id"] for e in cancels] == [first["id"], second["id"]]
    messages = ok(demo("notify", "list", "--state", "all", "--format", "json"))
    assert len([m for m in messages if m["event"] == "schedule-cancel"]) == 4


def test_bulk_schedules_one_end_per_line(demo: CLI) -> None:
    result = demo(
        "end", "--from", "-", "-s", "eekonomi", "-o", "continue", "--by", "office",
        "--at", DAY, "--yes", "--format", "jsonl",
        input="1001\n1003\n0042\n9999\n1001\n",
    )  # fmt: skip
    assert result.exit_code == 4, result.stderr
    statuses = [(r["customer_number"], r["status"]) for r in result.jsonl()]
    assert statuses == [
        ("1001", "scheduled"),
        ("1003", "scheduled"),
        ("0042", "already-ended"),
        ("9999", "failed"),
        ("1001", "failed"),
    ]
    assert result.jsonl()[4]["error"]["code"] == "duplicate"
    assert sorted(r["customer_number"] for r in listed(demo)) == ["1001", "1003"]
    dry = demo(
        "end", "--from", "-", "-s", "eekonomi", "-o", "continue", "--by", "office",
        "--at", LATER, "--dry-run", "--format", "jsonl", input="1002\n",
    )  # fmt: skip
    assert [r["status"] for r in dry.jsonl()] == ["would-schedule"]
    assert len(listed(demo)) == 2


def test_list_and_show_carry_ends_at_of_active_collaborations(demo: CLI) -> None:
    rows = listed_collaborations(demo, "1001")
    assert all("ends_at" in r and r["ends_at"] is None for r in rows)
    scheduled = schedule(demo, *END_1001)
    by_service = {r["service"]: r["ends_at"] for r in listed_collaborations(demo, "1001")}
    assert by_service == {"eekonomi": scheduled["due_at"], "fakturering": None, "utlagg": None}
    everyone = ok(demo("list", "--state", "all", "--format", "json"))
    assert [r["ends_at"] for r in everyone if r["ends_at"]] == [scheduled["due_at"]]
    company = ok(demo("show", "1001", "--format", "json"))
    assert {c["service"]: c["ends_at"] for c in company["collaborations"]}["eekonomi"] == (
        scheduled["due_at"]
    )
    assert DAY in demo("show", "1001").stdout  # the table shows the day it ends
    ok(demo("schedule", "cancel", str(scheduled["id"]), "--format", "json"))
    assert all(r["ends_at"] is None for r in listed_collaborations(demo, "1001"))


def test_the_office_sees_the_schedule_events_of_its_own_collaborations(demo: CLI) -> None:
    mine = schedule(demo, *END_1001)
    schedule(demo, "end", "1003", "-s", "eekonomi", "-o", "continue", "--by", "office")
    ok(demo("schedule", "cancel", str(mine["id"]), "--format", "json"))
    seen = ok(demo("--as", "office:556677-8899", "log", "--format", "json"))
    scheduled = [(e["action"], e["customer_number"]) for e in seen if "schedule" in e["action"]]
    assert sorted(scheduled) == [("schedule", "1001"), ("schedule-cancel", "1001")]


# the language changes only the texts: English on both backends, Swedish on SQLite
@pytest.mark.parametrize(
    ("backend", "language", "subject", "sentence"),
    [
        ("sqlite", "en", f"will end on {DAY}", f"will end on {DAY}, at the end of the day"),
        ("postgres", "en", f"will end on {DAY}", f"will end on {DAY}, at the end of the day"),
        ("sqlite", "sv", f"avslutas {DAY}", f"avslutas {DAY}, vid dagens slut"),
    ],
    indirect=["backend"],
)
def test_the_messages_name_the_day_in_english_and_swedish(
    demo: CLI, home: Any, language: str, subject: str, sentence: str
) -> None:
    from collabctl.operations.mail_templates import from_facts, render

    home.mkdir(exist_ok=True)
    (home / "config.toml").write_text(f'mail_language = "{language}"\n')
    scheduled = schedule(demo, *END_1001)
    messages = ok(demo("notify", "list", "--format", "json"))
    assert all(subject in m["subject"] for m in messages if m["event"] == "schedule")
    notice = from_facts(
        json.dumps(
            {
                "company_name": "Kund AB",
                "office_name": "Exempelbyrån AB",
                "actor": "tester",
                "behalf": "office",
                "service_name": "Visma eEkonomi",
                "outcome": "continue",
                "ends_on": DAY,
            }
        ),
        event="schedule",
        at="2026-12-07T10:00:00.000000Z",
        customer_number="1001",
        office_org_number="556677-8899",
        service="eekonomi",
    )
    for role in ("main-contact", "office"):
        title, body = render(notice, role, language)
        assert DAY in title and sentence in body
    cancel_notice = from_facts(
        '{"company_name":"Kund AB","office_name":"Exempelbyrån AB","actor":"tester",'
        f'"behalf":"office","service_name":"Visma eEkonomi","ends_on":"{DAY}"}}',
        event="schedule-cancel",
        at="2026-12-07T10:00:00.000000Z",
        customer_number="1001",
        office_org_number="556677-8899",
        service="eekonomi",
    )
    title, body = render(cancel_notice, "office", language)
    assert DAY in title and DAY in body
    ok(demo("schedule", "cancel", str(scheduled["id"]), "--format", "json"))


@sqlite_only  # refused before the database is read
def test_flags_that_do_not_fit_a_scheduled_end_are_usage_errors(demo: CLI) -> None:
    replace_alone = demo(*END_1001, "--replace", "--yes")
    assert replace_alone.exit_code == 2 and "--replace" in replace_alone.stderr
    no_backup = demo("end", "1007", "-s", "utlagg", "-o", "delete", "--by", "customer",
                     "--no-backup", "--at", DAY, "--yes")  # fmt: skip
    assert no_backup.exit_code == 2 and "always writes its backup" in no_backup.stderr
    bulk_bad_day = demo("end", "--from", "-", "-s", "eekonomi", "-o", "continue", "--by",
                        "office", "--at", "2027-02-30", "--yes", input="1001\n")  # fmt: skip
    assert bulk_bad_day.exit_code == 2 and "no such day" in bulk_bad_day.stderr
    assert listed(demo, "--state", "all") == []


def test_an_attested_item_is_kept_for_the_run_and_a_foreign_one_refused(demo: CLI) -> None:
    lon = ("end", "1005", "-s", "lon", "--by", "office")
    foreign = demo(*lon, "-c", "reports-submitted", "--at", DAY, "--yes", "--format", "json")
    assert (
        "no checklist item 'reports-submitted'" in error_of(foreign, "invalid-input", 2)["message"]
    )
    kept = schedule(demo, *lon, "-c", "data-synchronised")
    [event] = [e for e in log_events(demo, "--customer", "1005") if e["action"] == "schedule"]
    assert event["details"]["confirmed"] == ["data-synchronised"]
    assert "data-synchronised" not in str(kept["to_do"])
