"""``collabctl end --from FILE|-``: many ends, each item on its own (SPEC §3 Bulk, §6).

Most tests run through ``demo`` on both backends. The tests that need a real
process (a pipe as stdin, SIGKILL in the middle of a run) run collabctl as a
subprocess on SQLite and look at the database file with sqlite3.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import forkserver
from collabctl.operations.bulk import LineReader, parse_line
from collabctl.operations.demo import EXEMPEL, SIFFROR
from collabctl.operations.ending import EndRequest
from conftest import CLI, Run
from helpers import invoke, luhn_org_number

END = ("end", "--from", "-", "--format", "jsonl")


def by_line(run: Run) -> dict[int, dict[str, Any]]:
    return {row["line"]: row for row in run.jsonl()}


def active(cli: CLI, customer: str) -> set[str]:
    rows = cli("list", "--customer", customer, "--format", "json").json()
    return {row["service"] for row in rows}


def end_events(cli: CLI, customer: str) -> list[dict[str, Any]]:
    events = cli("log", "--customer", customer, "--format", "json").json()
    return [e for e in events if e["action"] == "end"]


# -- one item never stops or undoes another --------------------------------------------

MIXED = "\n".join(
    [
        "1001",  # 1: ends (eekonomi, deactivate from the flags)
        "{not json",  # 2: bad JSON
        '{"customer_number": "1007", "colour": "blue"}',  # 3: unknown field
        "9999",  # 4: unknown customer
        '{"customer_number": "1003", "service": "utlagg", "outcome": "deactivate"}',  # 5
        "1002",  # 6: no main contact
        '{"customer_number": "1003", "service": "utlagg", "outcome": "continue"}',  # 7: checklist
        "",  # 8: blank lines are skipped but counted
        '{"customer_number": "1007", "service": "utlagg", "outcome": "continue"}',  # 9: ends
        "10x1",  # 10: not a customer number
    ]
)


def test_mixed_good_and_bad_lines(demo: CLI) -> None:
    run = demo(
        *END, "--service", "eekonomi", "--outcome", "deactivate", "--by", "office", "--yes",
        input=MIXED + "\n",
    )  # fmt: skip
    assert run.exit_code == 4, run.stderr
    rows = by_line(run)
    assert sorted(rows) == [1, 2, 3, 4, 5, 6, 7, 9, 10]
    for row in rows.values():
        assert set(row) == {"line", "customer_number", "service", "status", "outcome", "error"}
    assert rows[1] == {
        "line": 1,
        "customer_number": "1001",
        "service": "eekonomi",
        "status": "ended",
        "outcome": "deactivate",
        "error": None,
    }
    assert rows[9]["status"] == "ended"
    assert (rows[9]["service"], rows[9]["outcome"]) == ("utlagg", "continue")
    failed = {n: rows[n]["error"]["code"] for n in rows if rows[n]["status"] == "failed"}
    assert failed == {
        2: "invalid-input",
        3: "invalid-input",
        4: "not-found",
        5: "outcome-not-allowed",
        6: "main-contact-missing",
        7: "checklist-incomplete",
        10: "invalid-input",
    }
    for n in failed:
        assert set(rows[n]["error"]) == {"code", "message", "hint"}
        assert rows[n]["error"]["message"]
    assert "not valid JSON" in rows[2]["error"]["message"]
    assert "colour" in rows[3]["error"]["message"]
    assert rows[3]["customer_number"] == "1007"  # still named, so the line can be found
    assert "set-main-contact 1002" in rows[6]["error"]["hint"]
    assert "reports-submitted" in rows[7]["error"]["message"]
    # the summary and nothing else goes to stderr with a machine format
    assert "9 items: 2 ended, 7 failed" in run.stderr
    assert "error[" not in run.stderr

    # what ended is ended, and nothing of the failed items changed
    assert "eekonomi" not in active(demo, "1001")
    assert "utlagg" not in active(demo, "1007")
    assert active(demo, "1002") == {"eekonomi"}
    assert active(demo, "1003") == {"eekonomi", "utlagg"}
    assert len(end_events(demo, "1001")) == 1
    assert end_events(demo, "1002") == end_events(demo, "1003") == []


def test_table_format_reports_each_failure_on_stderr(demo: CLI) -> None:
    run = demo(
        "end", "--from", "-", "--service", "eekonomi", "--outcome", "continue",
        "--by", "customer", "--yes",
        input="1001\n1002\n",
    )  # fmt: skip
    assert run.exit_code == 4
    lines = run.stdout.splitlines()
    assert lines[0].split() == ["line", "customer", "service", "status", "outcome", "error"]
    assert lines[1].split() == ["1", "1001", "eekonomi", "ended", "continue"]
    # failed under status, its code under error: the outcome column keeps the outcome
    assert lines[2].split() == [
        "2", "1002", "eekonomi", "failed", "continue", "main-contact-missing"
    ]  # fmt: skip
    assert "error[main-contact-missing]: line 2: customer 1002" in run.stderr
    assert "hint: make a user the main contact" in run.stderr
    assert "2 items: 1 ended, 1 failed" in run.stderr


def test_json_and_csv_formats(demo: CLI) -> None:
    flags = ("--service", "eekonomi", "--outcome", "continue", "--by", "office", "--dry-run")
    document = demo("end", "--from", "-", *flags, "--format", "json", input="1001\n1002\n")
    assert document.exit_code == 4
    rows = document.json()
    assert [(r["line"], r["status"]) for r in rows] == [(1, "would-end"), (2, "failed")]

    table = demo("end", "--from", "-", *flags, "--format", "csv", input="1001\n1002\n")
    header, first, second, *_ = table.stdout.splitlines()
    assert header == (
        "line,customer_number,service,status,outcome,error_code,error_message,error_hint"
    )
    assert first == "1,1001,eekonomi,would-end,continue,,,"
    assert second.startswith("2,1002,eekonomi,failed,continue,main-contact-missing,")


# -- JSON lines: any field, the flags fill in the rest ---------------------------------


def test_json_lines_override_the_flags(demo: CLI) -> None:
    lines = [
        # everything from the line: the flags below are all overridden
        {
            "customer_number": "1005",
            "service": "lon",
            "outcome": "handover",
            "by": "customer",
            "reason": "moving payroll in-house",
            "confirm": ["data-synchronised", "backup-handed-over"],
        },
        # service and outcome from the line, by and reason from the flags
        {"customer_number": "1001", "service": "fakturering", "outcome": "continue"},
        # null means "not given": the flags apply
        {"customer_number": "1007", "service": "eekonomi", "outcome": None, "reason": None},
        # force from the line
        {"customer_number": "1003", "service": "utlagg", "outcome": "continue", "force": True},
        # a number as a number still works
        {"customer_number": 1001, "service": "utlagg", "outcome": "continue"},
    ]
    run = demo(
        *END, "--service", "eekonomi", "--outcome", "deactivate", "--by", "office",
        "--reason", "bulk offboarding", "--yes",
        input="".join(json.dumps(line) + "\n" for line in lines),
    )  # fmt: skip
    assert run.exit_code == 0, run.stdout
    assert [r["status"] for r in run.jsonl()] == ["ended"] * 5
    assert [r["outcome"] for r in run.jsonl()] == [
        "handover",
        "continue",
        "deactivate",
        "continue",
        "continue",
    ]

    [lon] = end_events(demo, "1005")
    assert lon["service"] == "lon"
    assert lon["details"]["ended_by"] == "customer"
    assert lon["details"]["reason"] == "moving payroll in-house"
    assert sorted(lon["details"]["confirmed"]) == ["backup-handed-over", "data-synchronised"]
    assert lon["details"]["subscription"]["after"] == "no-access"

    events = {e["service"]: e for e in end_events(demo, "1001")}
    assert events["fakturering"]["details"]["ended_by"] == "office"
    assert events["fakturering"]["details"]["reason"] == "bulk offboarding"
    assert events["utlagg"]["details"]["outcome"] == "continue"

    [eekonomi] = end_events(demo, "1007")
    assert eekonomi["details"]["outcome"] == "deactivate"
    assert eekonomi["details"]["reason"] == "bulk offboarding"

    [utlagg] = end_events(demo, "1003")
    assert sorted(utlagg["details"]["forced"]) == ["outlays-submitted", "reports-submitted"]


BAD_FIELDS = [
    ('{"customer_number": "1001", "confirm": "data-synchronised"}', "confirm"),
    ('{"customer_number": "1001", "force": "yes"}', "force"),
    ('{"customer_number": "1001", "service": 7}', "service"),
    ('{"service": "eekonomi"}', "customer_number"),
    ('["1001"]', "JSON object"),
    ('{"customer_number": "1001", "confirm": ["tea-served"]}', "tea-served"),
    ('{"customer_number": "1001", "by": "auditor"}', "--by"),
    ('{"customer_number": "1001", "service": "bokforing"}', "bokforing"),
]


def test_bad_json_fields_fail_only_their_line(demo: CLI) -> None:
    lines = [line for line, _ in BAD_FIELDS] + ["1007"]
    run = demo(
        *END, "--service", "eekonomi", "--outcome", "continue", "--by", "office", "--yes",
        input="\n".join(lines) + "\n",
    )  # fmt: skip
    assert run.exit_code == 4
    *bad, good = run.jsonl()
    for (line, message), result in zip(BAD_FIELDS, bad, strict=True):
        assert result["status"] == "failed", line
        assert result["error"]["code"] == "invalid-input", line
        assert message in result["error"]["message"], line
    assert good["status"] == "ended"
    assert active(demo, "1001") == {"eekonomi", "fakturering", "utlagg"}


def test_a_line_carries_over_every_field_of_the_flags() -> None:
    # parse_line builds the request of a bare number field by field (for speed):
    # every field of EndRequest must come from the flags.
    defaults = EndRequest(
        customer_number="",
        service="lon",
        outcome="handover",
        by="customer",
        confirm=("data-synchronised",),
        force=True,
        reason="why",
        backup=False,
        collaboration_id=7,
        schedule_id=9,
    )
    for field in dataclasses.fields(EndRequest):
        if field.name != "customer_number":
            assert getattr(defaults, field.name) != field.default, field.name
    assert parse_line("0042\n", defaults) == dataclasses.replace(defaults, customer_number="0042")
    assert parse_line(b'{"customer_number": "0042"}', defaults) == dataclasses.replace(
        defaults, customer_number="0042"
    )
    assert parse_line("   \n", defaults) is None
    assert parse_line("# a comment\n", defaults) is None
    # a byte-order mark belongs to the input, not to a line: LineReader drops it at the start
    lines = list(LineReader(io.BytesIO("\ufeff1001\n\ufeff1002\n".encode())))
    assert lines == [b"1001", "\ufeff1002".encode()]
    assert parse_line(lines[0], defaults) == dataclasses.replace(defaults, customer_number="1001")


# -- re-runs, dry runs, exit codes -----------------------------------------------------


def test_rerun_reports_already_ended_and_exits_0(demo: CLI) -> None:
    items = "1001\n1007\n0042\n"
    flags = ("--service", "eekonomi", "--outcome", "deactivate", "--by", "office", "--yes")
    first = demo(*END, *flags, input=items)
    assert first.exit_code == 0
    # 0042's eEkonomi had ended before: already-ended, with the outcome it ended with
    assert [(r["status"], r["outcome"]) for r in first.jsonl()] == [
        ("ended", "deactivate"),
        ("ended", "deactivate"),
        ("already-ended", "deactivate"),
    ]
    events = len(demo("log", "--format", "json").json())

    second = demo(*END, "--service", "eekonomi", "--outcome", "continue", "--by", "office",
                  "--yes", input=items)  # fmt: skip
    assert second.exit_code == 0
    assert [(r["status"], r["outcome"], r["error"]) for r in second.jsonl()] == [
        ("already-ended", "deactivate", None)
    ] * 3
    assert "3 items: 3 already-ended" in second.stderr
    assert len(demo("log", "--format", "json").json()) == events  # nothing written


def test_dry_run_changes_nothing(demo: CLI) -> None:
    before = demo("log", "--format", "json").json()
    run = demo(
        *END, "--service", "eekonomi", "--outcome", "continue", "--by", "office", "--dry-run",
        input="1001\n1007\n0042\n",
    )  # fmt: skip
    assert run.exit_code == 0
    assert [r["status"] for r in run.jsonl()] == ["would-end", "would-end", "already-ended"]
    assert "dry run: nothing was changed" in run.stderr
    assert demo("log", "--format", "json").json() == before
    assert active(demo, "1001") == {"eekonomi", "fakturering", "utlagg"}


def test_dry_run_fails_what_the_real_run_would_fail(demo: CLI) -> None:
    # without --by (and no --as) an end cannot go through: the dry run says so
    # (in the order of the checks: who ends it is the second, before the main contact)
    run = demo(*END, "--service", "eekonomi", "--outcome", "continue", "--dry-run",
               input="1001\n1002\n")  # fmt: skip
    assert run.exit_code == 4
    for result in run.jsonl():
        assert result["status"] == "failed"
        assert result["error"]["code"] == "invalid-input"
        assert "--by" in result["error"]["hint"]
    run = demo(*END, "--service", "eekonomi", "--outcome", "continue", "--by", "office",
               "--dry-run", input="1001\n1002\n")  # fmt: skip
    assert run.exit_code == 4
    first, second = run.jsonl()
    assert first["status"] == "would-end"
    assert second["error"]["code"] == "main-contact-missing"


def test_yes_is_required(demo: CLI) -> None:
    run = demo(*END, "--service", "eekonomi", "--outcome", "continue", "--by", "office",
               input="1001\n")  # fmt: skip
    assert run.exit_code == 2
    assert "error[invalid-input]" in run.stderr
    assert "--yes" in run.stderr
    assert json.loads(run.stdout)["error"]["code"] == "invalid-input"
    assert active(demo, "1001") == {"eekonomi", "fakturering", "utlagg"}


def test_empty_input_is_invalid_as_for_import(demo: CLI) -> None:
    # one rule for end --from and import: no item at all is invalid-input, exit 2
    run = demo(*END, "--service", "eekonomi", "--yes", input="\n# nothing to do\n")
    assert run.exit_code == 2, run.output
    assert run.stdout == ""
    assert "error[invalid-input]: the input is empty" in run.stderr
    listed = demo(*END, "--service", "eekonomi", "--yes", "--format", "json", input="")
    assert listed.exit_code == 2 and listed.json() == []
    imported = demo("import", "-", input="\n")
    assert imported.exit_code == 2 and "error[invalid-input]" in imported.stderr


def test_from_a_file_and_a_missing_file(demo: CLI, tmp_path: Path) -> None:
    items = tmp_path / "items.txt"
    items.write_text("1001\n1007\n", encoding="utf-8")
    flags = ("--service", "eekonomi", "--outcome", "continue", "--by", "office", "--yes")
    run = demo("end", "--from", str(items), *flags, "--format", "jsonl")
    assert run.exit_code == 0
    assert [r["status"] for r in run.jsonl()] == ["ended", "ended"]
    missing = demo("end", "--from", str(tmp_path / "absent.txt"), *flags)
    assert missing.exit_code == 2
    assert "absent.txt" in missing.stderr


def test_customer_and_from_together_is_a_usage_error(demo: CLI) -> None:
    run = demo("end", "1001", "--from", "-", "--service", "eekonomi", "--yes", input="1007\n")
    assert run.exit_code == 2
    assert active(demo, "1007") == {"eekonomi", "utlagg"}


def test_scope_limits_a_bulk_run_to_its_party(demo: CLI) -> None:
    # Exempelbyrån has eEkonomi of 1001; 1007's eEkonomi is with Siffror & Balans
    run = demo(
        "--as", f"office:{EXEMPEL}", *END, "--service", "eekonomi", "--outcome", "continue",
        "--yes", input="1001\n1007\n",
    )  # fmt: skip
    assert run.exit_code == 4
    first, second = run.jsonl()
    assert first["status"] == "ended"
    assert second["error"]["code"] == "not-a-party"
    # the other office is not named to the scope
    assert SIFFROR not in run.stdout + run.stderr
    assert end_events(demo, "1001")[0]["details"]["ended_by"] == "office"


def test_delete_in_bulk_writes_a_backup_per_item(demo: CLI, home: Path) -> None:
    run = demo(*END, "--service", "utlagg", "--outcome", "delete", "--by", "customer", "--yes",
               input="1001\n1007\n")  # fmt: skip
    assert run.exit_code == 0
    assert [r["status"] for r in run.jsonl()] == ["ended", "ended"]
    backups = sorted(p.name for p in (home / "backups").iterdir())
    assert [name.split("-")[:2] for name in backups] == [["1001", "utlagg"], ["1007", "utlagg"]]
    for customer in ("1001", "1007"):
        [event] = end_events(demo, customer)
        assert event["details"]["records_deleted"] == 2
        assert event["details"]["backup_path"]


def test_a_delete_between_other_ends_of_a_batch_is_written_in_order(demo: CLI) -> None:
    """A delete writes its backup between its row and its records, so it is applied on its
    own, after the ends held before it and before those after it: every end of the batch
    is written once, with its event and its two messages, and the chains verify."""
    lines = [
        '{"customer_number": "1003", "service": "eekonomi", "outcome": "continue"}',
        '{"customer_number": "1001", "outcome": "delete"}',
        '{"customer_number": "1004", "service": "eekonomi", "outcome": "continue"}',
        '{"customer_number": "1007", "outcome": "delete"}',
        '{"customer_number": "0042", "service": "fakturering", "outcome": "continue"}',
    ]
    run = demo(*END, "--service", "utlagg", "--by", "customer", "--yes",
               input="\n".join(lines) + "\n")  # fmt: skip
    rows = by_line(run)
    assert [rows[n]["status"] for n in range(1, 6)] == ["ended"] * 5, run.stdout + run.stderr
    for customer in ("0042", "1001", "1003", "1004", "1007"):
        [event] = end_events(demo, customer)
        deleted = event["details"]["records_deleted"]
        assert deleted == (2 if customer in ("1001", "1007") else 0), customer
        messages = demo("notify", "list", "--customer", customer, "--state", "all",
                        "--format", "json").json()  # fmt: skip
        assert len([m for m in messages if m["event"] == "end"]) == 2, customer
    verified = demo("log", "--verify", "--format", "json")
    assert verified.exit_code == 0, verified.stdout + verified.stderr


def test_a_backup_that_cannot_be_written_fails_only_its_items(demo: CLI, home: Path) -> None:
    home.mkdir(exist_ok=True)  # on PostgreSQL nothing else has made it
    (home / "backups").write_text("a file where the backups directory should be\n")
    lines = [
        '{"customer_number": "1001", "outcome": "delete"}',
        '{"customer_number": "1003", "service": "eekonomi", "outcome": "continue"}',
        '{"customer_number": "1007", "outcome": "delete"}',
    ]
    run = demo(*END, "--service", "utlagg", "--by", "customer", "--yes",
               input="\n".join(lines) + "\n")  # fmt: skip
    assert run.exit_code == 4, run.stderr
    rows = by_line(run)
    assert [rows[n]["status"] for n in (1, 2, 3)] == ["failed", "ended", "failed"]
    for n in (1, 3):
        assert rows[n]["error"]["code"] == "invalid-input"
        assert "backup" in rows[n]["error"]["message"]
    # the refused deletes changed nothing, not even half of an end
    assert active(demo, "1001") >= {"utlagg"} and active(demo, "1007") >= {"utlagg"}
    assert end_events(demo, "1001") == [] and end_events(demo, "1007") == []
    shown = demo("show", "1007", "--format", "json").json()
    assert {s["service"]: s["records"] for s in shown["subscriptions"]}["utlagg"] == 2


def test_two_deletes_of_one_company_in_one_batch_back_up_what_each_ended(
    demo: CLI, home: Path
) -> None:
    # a service of its own that also ends with delete, so 1001 has two to delete
    items = [
        {"service": {"code": "arkiv", "name": "Arkiv", "outcomes": ["delete"]}},
        {"company": {
            "customer_number": "1001", "org_number": "556036-0793", "name": "Kund AB",
            "collaborations": [
                {"service": "arkiv", "office": EXEMPEL, "started_at": "2024-03-01T00:00:00Z"}
            ],
            "records": [{"id": "A-1", "service": "arkiv", "kind": "document",
                         "status": "submitted"}],
        }},
    ]  # fmt: skip
    imported = demo("import", "-", input="\n".join(json.dumps(i) for i in items) + "\n")
    assert imported.exit_code == 0, imported.stderr
    run = demo(*END, "--outcome", "delete", "--by", "customer", "--yes",
               input='{"customer_number": "1001", "service": "utlagg"}\n'
                     '{"customer_number": "1001", "service": "arkiv"}\n')  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert [r["status"] for r in run.jsonl()] == ["ended", "ended"]
    for event in end_events(demo, "1001"):
        document = json.loads(Path(event["details"]["backup_path"]).read_text(encoding="utf-8"))
        (collaboration,) = document["companies"][0]["collaborations"]
        # the backup shows the collaboration it was made for as ended, as it is once restored
        assert collaboration["service"] == event["service"]
        assert collaboration["state"] == "ended"
        assert collaboration["outcome"] == "delete"


# -- streams ---------------------------------------------------------------------------


def test_reader_says_when_a_pipe_has_nothing_more_yet() -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "r") as stream:
        lines = iter(LineReader(stream))
        os.write(write_end, b"1001\n10")
        assert next(lines) == b"1001"
        assert next(lines) is None  # the rest of the line has not come yet
        os.write(write_end, b"07\n0042")
        os.close(write_end)
        assert list(lines) == [b"1007", b"0042"]


def _sqlite_db(home: Path) -> Path:
    return home / "collabctl.db"


def _collabctl(*args: str, **kwargs: Any) -> forkserver.Popen:
    return forkserver.Popen(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def _read_line(stream: Any, timeout: float = 120) -> bytes:
    """One line of a child's output; fails rather than hangs when none comes."""
    ready, _, _ = select.select([stream], [], [], timeout)
    assert ready, "no output from collabctl"
    return stream.readline()  # type: ignore[no-any-return]


def test_results_come_out_while_the_input_is_still_open(tmp_path: Path) -> None:
    assert invoke("demo").exit_code == 0  # the data; the run under test is the process
    proc = _collabctl(
        *END, "--service", "eekonomi", "--outcome", "continue", "--by", "office", "--yes",
        stdin=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(b"1001\n")
        proc.stdin.flush()
        first = json.loads(_read_line(proc.stdout))
        assert (first["customer_number"], first["status"]) == ("1001", "ended")
        proc.stdin.write(b"1001\n")
        proc.stdin.close()
        second = json.loads(_read_line(proc.stdout))
        assert second["status"] == "already-ended"
        assert proc.wait(timeout=120) == 0
    finally:
        proc.kill()
        proc.wait()


# -- killed in the middle: every item all or nothing -----------------------------------

COMPANIES = 5000
OFFICES = ((EXEMPEL, "Exempelbyrån AB"), (SIFFROR, "Siffror & Balans Redovisning AB"))


def _numbers() -> Iterator[str]:
    return (f"{200000 + i}" for i in range(COMPANIES))


def _load_companies(home: Path) -> None:
    """COMPANIES companies ready to end, written straight into the migrated database.

    The rows are those ``collabctl import`` writes for a company with one
    administrator as main contact, an active eEkonomi subscription and an
    active collaboration (importing them through collabctl would be the slow
    part of this test).
    """
    upgrade = invoke("db", "upgrade")
    assert upgrade.exit_code == 0, upgrade.stderr
    numbers = list(_numbers())
    with closing(sqlite3.connect(_sqlite_db(home))) as con, con:
        con.executemany("INSERT INTO office (org_number, name) VALUES (?, ?)", OFFICES)
        con.executemany(
            "INSERT INTO company (customer_number, org_number, name) VALUES (?, ?, ?)",
            [(n, luhn_org_number(i), f"Bolag {n} AB") for i, n in enumerate(numbers)],
        )
        con.executemany(
            "INSERT INTO company_user (customer_number, email, email_key, name, role,"
            " main_contact, services) VALUES (?, ?, ?, 'Admin', 'administrator', 1, ?)",
            [(n, f"admin@{n}.se", f"admin@{n}.se", '["eekonomi"]') for n in numbers],
        )
        con.executemany(
            "INSERT INTO subscription (customer_number, service, state)"
            " VALUES (?, 'eekonomi', 'active')",
            [(n,) for n in numbers],
        )
        con.executemany(
            "INSERT INTO collaboration (customer_number, service, office_org_number, state,"
            " started_at) VALUES (?, 'eekonomi', ?, 'active', '2024-01-31T09:00:00.000000Z')",
            [(n, OFFICES[i % 2][0]) for i, n in enumerate(numbers)],
        )


def _state_per_customer(home: Path) -> dict[str, tuple[str, str, int]]:
    """customer -> (collaboration state, subscription state, number of end events)."""
    with closing(sqlite3.connect(_sqlite_db(home))) as con:
        rows = con.execute(
            """
            SELECT c.customer_number, c.state, s.state,
                   (SELECT count(*) FROM audit_event a
                     WHERE a.customer_number = c.customer_number AND a.service = c.service
                       AND a.action = 'end')
            FROM collaboration c
            JOIN subscription s ON s.customer_number = c.customer_number AND s.service = c.service
            """
        ).fetchall()
    return {number: (state, sub, events) for number, state, sub, events in rows}


def _assert_each_item_all_or_nothing(home: Path) -> dict[str, tuple[str, str, int]]:
    state = _state_per_customer(home)
    assert len(state) == COMPANIES
    for number, item in state.items():
        assert item in {("active", "active", 0), ("ended", "read-only", 1)}, (number, item)
    return state


def test_sigkill_leaves_every_item_ended_or_untouched_and_a_rerun_finishes(
    home: Path, tmp_path: Path
) -> None:
    _load_companies(home)
    numbers = list(_numbers())
    flags = ("--service", "eekonomi", "--outcome", "deactivate", "--by", "office", "--yes")
    proc = _collabctl(*END, *flags, stdin=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    reported: list[dict[str, Any]] = []
    try:
        # the first half, then wait for results: some batches are committed by now
        proc.stdin.write("".join(f"{n}\n" for n in numbers[: COMPANIES // 2]).encode())
        proc.stdin.flush()
        reported.append(json.loads(_read_line(proc.stdout)))
        # more input, and the kill lands while it is being worked through
        proc.stdin.write("".join(f"{n}\n" for n in numbers[COMPANIES // 2 :]).encode())
        proc.stdin.flush()
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
        reported += [json.loads(line) for line in proc.stdout.read().splitlines()]
    finally:
        proc.kill()
        proc.wait()

    state = _assert_each_item_all_or_nothing(home)
    # a reported result was committed before it was written
    for result in reported:
        assert result["status"] == "ended"
        assert state[result["customer_number"]][0] == "ended"
    ended = sum(1 for item in state.values() if item[0] == "ended")
    assert 0 < ended < COMPANIES  # killed in the middle, indeed

    items = tmp_path / "items.txt"
    items.write_text("".join(f"{n}\n" for n in numbers), encoding="utf-8")
    with items.open("rb") as stdin:
        rerun = _collabctl("end", "--from", "-", *flags, "--format", "jsonl", stdin=stdin)
        out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err.decode()
    statuses = [json.loads(line)["status"] for line in out.splitlines()]
    assert len(statuses) == COMPANIES
    assert statuses.count("already-ended") == ended
    assert statuses.count("ended") == COMPANIES - ended
    final = _assert_each_item_all_or_nothing(home)
    assert all(item == ("ended", "read-only", 1) for item in final.values())


# -- the recipes of docs/scripting.md --------------------------------------------------

SCRIPTING = Path(__file__).resolve().parents[1] / "docs" / "scripting.md"


def _sh_blocks(text: str) -> list[str]:
    blocks: list[str] = []
    current: list[str] | None = None
    language = ""
    for line in text.splitlines():
        if line.startswith("```"):
            if current is None:
                language, current = line[3:].strip(), []
            else:
                if language == "sh":
                    blocks.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def test_scripting_recipes_run_as_written(tmp_path: Path) -> None:
    """Every ```sh block of docs/scripting.md, in order, in one shell, on the demo data."""
    if shutil.which("jq") is None:
        pytest.skip("the recipes use jq, which is not installed")
    if not (Path(sys.executable).parent / "collabctl").exists():
        pytest.skip("no collabctl script beside the interpreter to put on PATH")
    bin_dir = forkserver.shim_dir()  # collabctl forked: the shell runs it many times
    blocks = _sh_blocks(SCRIPTING.read_text(encoding="utf-8"))
    assert len(blocks) >= 10
    script = [
        "set -o pipefail",
        # exit 4 (some items failed) is what several recipes show; anything else stops
        "trap 'rc=$?; [ $rc -eq 4 ] || { echo \"failed ($rc): $BASH_COMMAND\" >&2; exit $rc; }' ERR",
    ]
    for number, block in enumerate(blocks, start=1):
        script += [f"echo '--- recipe {number}' >&2", block]
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]

    # what the page says they print
    def statuses(name: str) -> list[str]:
        lines = (tmp_path / name).read_text(encoding="utf-8").splitlines()
        return [json.loads(line)["status"] for line in lines]

    assert statuses("results.jsonl") == ["ended", "ended", "failed", "ended"]
    assert statuses("rerun.jsonl") == ["already-ended"] * 4
    assert (tmp_path / "retry.jsonl").read_text(encoding="utf-8").count("\n") == 1
    with (tmp_path / "customers-results.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["status"] for row in rows] == ["ended", "failed", "already-ended"]
    assert rows[1]["error_code"] == "main-contact-missing"
    assert "collabctl set-main-contact 1002" in rows[1]["error_hint"]
    assert "every line is ended" in result.stdout


def test_progress_shows_on_a_terminal_stderr_while_results_go_to_a_pipe(
    demo: CLI, tmp_path: Path
) -> None:
    from helpers import Tty

    path = tmp_path / "items.txt"
    path.write_text("1001\n9999\n", encoding="utf-8")
    args = ("end", "--from", str(path), "--service", "eekonomi", "--outcome", "deactivate")
    shown = demo(*args, "--by", "office", "--yes", "--format", "jsonl",
                 tty=Tty(stdin=False, stdout=False, stderr=True))  # fmt: skip
    assert shown.exit_code == 4, shown.stderr
    assert "ending: " in shown.stderr
    assert "2 items: 1 ended, 1 failed" in shown.stderr
    # the results themselves stay plain JSON Lines on stdout
    assert [r["status"] for r in shown.jsonl()] == ["ended", "failed"]
    dry = demo(
        *args, "--by", "office", "--dry-run", tty=Tty(stdin=False, stdout=False, stderr=True)
    )
    assert "checking: " in dry.stderr and "ending: " not in dry.stderr
    again = demo(*args, "--by", "office", "--yes", "--format", "jsonl")
    assert "ending: " not in again.stderr
    assert "2 items: 1 already-ended, 1 failed" in again.stderr


_TEXT = st.none() | st.text(st.characters(codec="utf-8"))


@settings(deadline=None)
@given(
    st.integers(min_value=1, max_value=10**9),
    _TEXT,
    _TEXT,
    st.sampled_from(("ended", "already-ended", "would-end", "failed")),
    _TEXT,
    st.booleans(),
)
def test_a_result_line_is_its_dict_as_json(
    line: int,
    number: str | None,
    service: str | None,
    status: str,
    outcome: str | None,
    failed: bool,
) -> None:
    from collabctl.cli.bulk import jsonl_line
    from collabctl.cli.output import dumps
    from collabctl.domain.errors import NotFound
    from collabctl.operations.bulk import BulkResult

    error = NotFound(f'customer {number} \x1b"\\', "hint\n") if failed else None
    result = BulkResult(line, number, service, status, outcome, error)
    text = jsonl_line(result)
    assert text == dumps(result.to_dict()) + "\n"
    assert json.loads(text) == result.to_dict()
