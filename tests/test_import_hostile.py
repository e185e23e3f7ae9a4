"""``import`` of hostile input: one bad item never stops the run or costs another item.

Every case mixes a bad item between good ones, on both backends, and checks the
bad item's code, line and path, that the good items went in, and that nothing
reached the user as an internal error or a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import CLI
from helpers import Run, error_of, log_events, show, sqlite_only

OFFICE = "556677-8899"
GOOD_ORG = "556036-0793"


def office_line() -> bytes:
    return json.dumps({"office": {"org_number": OFFICE, "name": "Byrån"}}).encode()


def company(number: str, **extra: Any) -> dict[str, Any]:
    return {"customer_number": number, "org_number": GOOD_ORG, "name": f"Bolag {number}", **extra}


def company_line(number: str, **extra: Any) -> bytes:
    return json.dumps({"company": company(number, **extra)}).encode()


def with_record(number: str, **record: Any) -> bytes:
    """A company line with one record; ``record`` overrides its fields."""
    fields = {"id": "R-1", "service": "eekonomi", "kind": "voucher", "status": "draft"}
    return company_line(
        number, subscriptions=[{"service": "eekonomi"}], records=[{**fields, **record}]
    )


def import_bytes(cli: CLI, tmp_path: Path, data: bytes, *options: str) -> Run:
    path = tmp_path / "input.jsonl"
    path.write_bytes(data)
    return cli("import", str(path), "--format", "jsonl", *options)


def assert_clean(run: Run) -> None:
    for stream in (run.stdout, run.stderr):
        assert "error[internal]" not in stream
        assert "Traceback" not in stream


def run_between_good_items(cli: CLI, tmp_path: Path, bad: bytes) -> dict[str, Any]:
    """Import: a good office, a good company, the bad line, a good company. Returns the bad
    line's result, after checking that the good items went in and the run went on."""
    lines = [office_line(), company_line("5001"), bad, company_line("5002")]
    run = import_bytes(cli, tmp_path, b"\n".join(lines) + b"\n")
    assert_clean(run)
    assert run.exit_code == 4, run.stderr
    rows = run.jsonl()
    assert [r["line"] for r in rows] == [1, 2, 3, 4]
    assert [r["status"] for r in rows] == ["changed", "changed", "failed", "changed"]
    assert "imported 3 of 4 items: 3 changed, 0 unchanged, 1 failed" in run.stderr
    for number in ("5001", "5002"):
        assert show(cli, number)["customer_number"] == number
    return rows[2]


DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE_NUMBER = b"1" * 5000

#: (bad line, expected message after "line 3: ")
UNREADABLE_LINES = [
    (b'{"company": ' + DEEP + b"}", "nested too deeply to read"),
    (b'{"company": {"customer_number": "5003", "n": ' + HUGE_NUMBER + b"}}", "a number has too many digits"),
    (b'{"company": {"customer_number": "5003", "name": "\xff\xfe"}}', "not UTF-8 text (byte 0xff"),
    (b'{"company": {"customer_number": "5003", "x": NaN}}', "NaN is not valid JSON"),
    (b'{"company": {"customer_number": "5003", "x": -Infinity}}', "-Infinity is not valid JSON"),
    (
        b'{"company": {"customer_number": "5003", "name": "A", "name": "B"}}',
        "duplicate key 'name' in one object",
    ),
    (b'{"company": {"customer_number": "5003",', "not valid JSON"),
    (b"[1, 2]", "expected a JSON object"),
]  # fmt: skip


def on_backends(cases: list[Any], on_both: set[int]) -> list[Any]:
    """``cases`` on SQLite, the ones at ``on_both`` also on PostgreSQL: a bad line is
    refused before any SQL runs, so the others need not run on both."""
    return [
        pytest.param(backend, *case, id="-".join([backend, *(str(v)[:40] for v in case[1:])]))
        for index, case in enumerate(cases)
        for backend in ("sqlite", "postgres")
        if backend == "sqlite" or index in on_both
    ]


@pytest.mark.parametrize(
    ("backend", "bad", "message"), on_backends(UNREADABLE_LINES, {3}), indirect=["backend"]
)
def test_a_line_that_cannot_be_read_fails_alone(
    cli: CLI, tmp_path: Path, bad: bytes, message: str
) -> None:
    row = run_between_good_items(cli, tmp_path, bad)
    assert row["error"]["code"] == "invalid-input"
    assert row["error"]["message"].startswith(f"line 3: {message}"), row
    assert row["error"]["hint"]
    assert row["kind"] is None
    assert cli("show", "5003").exit_code == 1


#: (bad line, path after "line 3: company.", problem)
INVALID_VALUES = [
    (
        company_line("5003", collaborations=[
            {"service": "eekonomi", "office": OFFICE, "started_at": "0001-01-01T00:00:00+05:00"}
        ]),
        "collaborations[0].started_at",
        "is out of range",
    ),
    (company_line("5003", name="Bolag\u0000AB"), "name", "contains a NUL character"),
    (company_line("5003", name="Bolag \ud800 AB"), "name", "contains a NUL character, a lone surrogate"),
    (with_record("5003", status="s" * 41), "records[0].status", "longer than 40 characters"),
    (with_record("5003", payload={"a": {"b": [1, 2]}}).replace(b"2]", b"1e999]"), "records[0].payload.a.b[1]", "inf is not a JSON number"),
    (with_record("5003", payload={"x": "a\u0000"}), "records[0].payload.x", "contains a NUL"),
    (with_record("5003", payload=json.loads("[" * 70 + "]" * 70)), "records[0].payload", "expected an object"),
    (with_record("5003", payload={"a": json.loads("[" * 70 + "]" * 70)}), "records[0].payload", "nested deeper than 64 levels"),
    (company_line("5003", subscriptions=[{"service": "x" * 41}]), "subscriptions[0].service", "unknown service"),
    (company_line("１００３"), "customer_number", "'１００３' is not a customer number"),
    (company_line("5003", org_number="٥٥٦٠٣٦-٠٧٩٣"), "org_number", "is not an organisation number"),
    (company_line("5003", users=[{"email": "a\u0000@b.se"}]), "users[0].email", "is not an e-mail address"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("backend", "bad", "path", "problem"),
    on_backends(INVALID_VALUES, {0, 1, 5}),
    indirect=["backend"],
)
def test_a_value_the_database_cannot_store_fails_its_item_with_its_path(
    cli: CLI, tmp_path: Path, bad: bytes, path: str, problem: str
) -> None:
    row = run_between_good_items(cli, tmp_path, bad)
    assert row["error"]["code"] == "invalid-input"
    assert row["error"]["message"].startswith(f"line 3: company.{path}: "), row
    assert problem in row["error"]["message"]
    assert row["error"]["hint"]
    assert row["kind"] == "company"
    assert cli("show", "5003").exit_code == 1


def test_a_service_code_longer_than_its_column_is_invalid(cli: CLI, tmp_path: Path) -> None:
    bad = json.dumps({"service": {"code": "x" * 41, "name": "X", "outcomes": ["continue"]}})
    row = run_between_good_items(cli, tmp_path, bad.encode())
    assert row["error"]["message"].startswith("line 3: service.code: longer than 40 characters")
    assert row["kind"] == "service"


@sqlite_only  # refused before the database is read
def test_the_key_of_a_failed_item_is_reported_whenever_it_can_be_read(
    cli: CLI, tmp_path: Path
) -> None:
    lines = [
        office_line(),
        company_line("5010", org_number="556036-0794"),
        json.dumps({"office": {"org_number": "5591234561", "name": ""}}).encode(),
        json.dumps({"company": {"customer_number": 5011}}).encode(),
        b"{oops",
    ]
    run = import_bytes(cli, tmp_path, b"\n".join(lines) + b"\n")
    assert_clean(run)
    assert [(r["line"], r["kind"], r["key"], r["status"]) for r in run.jsonl()] == [
        (1, "office", OFFICE, "changed"),
        (2, "company", "5010", "failed"),
        (3, "office", "559123-4561", "failed"),
        (4, "company", "5011", "failed"),
        (5, None, None, "failed"),
    ]
    assert "imported 1 of 5 items: 1 changed, 0 unchanged, 4 failed" in run.stderr


# -- a document ---------------------------------------------------------------------------


def test_a_bad_entry_of_a_document_is_skipped_and_the_rest_read(cli: CLI, tmp_path: Path) -> None:
    entries = [
        json.dumps(company("5101")).encode(),
        b'{"customer_number": "5102", "deep": ' + DEEP + b"}",
        b'{"customer_number": "5103", "n": ' + HUGE_NUMBER + b"}",
        b'{"customer_number": "5104", "org_number": "556036-0793", "name": "\xff"}',
        b'{"customer_number": "5105", "name": "A", "name": "B"}',
        b'{"customer_number": "5106", "x": NaN}',
        json.dumps(company("5107")).encode(),
    ]
    document = (
        b'\xef\xbb\xbf{\n "offices": [{"org_number": "556677-8899", "name": "B"}],\n'
        b' "companies": [\n  ' + b",\n  ".join(entries) + b"\n ]\n}\n"
    )
    run = import_bytes(cli, tmp_path, document)
    assert_clean(run)
    assert run.exit_code == 4, run.stderr
    rows = run.jsonl()
    assert [(r["line"], r["kind"], r["status"]) for r in rows] == [
        (2, "office", "changed"),
        (4, "company", "changed"),
        *((line, "company", "failed") for line in range(5, 10)),
        (10, "company", "changed"),
    ]
    messages = [r["error"]["message"] for r in rows if r["error"]]
    assert messages == [
        "line 5: companies[1]: nested too deeply to read",
        "line 6: companies[2]: a number has too many digits",
        "line 7: companies[3].name: contains a NUL character, a lone surrogate or bytes that "
        "are not UTF-8",
        "line 8: companies[4]: duplicate key 'name' in one object",
        "line 9: companies[5]: NaN is not valid JSON",
    ]
    assert show(cli, "5107")["name"] == "Bolag 5107"


@sqlite_only  # refused before the database is read
def test_a_key_twice_in_a_document_stops_reading_it(cli: CLI) -> None:
    run = cli("import", "-", input='{"companies": [], "companies": []}')
    assert run.exit_code == 2
    assert "error[invalid-input]: line 1: duplicate key 'companies' in the document" in run.stderr
    assert_clean(run)


@pytest.mark.parametrize("form", ["json-lines", "document"])
@sqlite_only  # read before any SQL runs
def test_a_leading_byte_order_mark_is_accepted(cli: CLI, tmp_path: Path, form: str) -> None:
    if form == "json-lines":
        data = b"\xef\xbb\xbf" + office_line() + b"\n" + company_line("5201") + b"\n"
    else:
        data = b"\xef\xbb\xbf" + json.dumps({"companies": [company("5201")]}, indent=2).encode()
    run = import_bytes(cli, tmp_path, data)
    assert run.exit_code == 0, run.stderr
    assert show(cli, "5201")["name"] == "Bolag 5201"


# -- lookalike keys -----------------------------------------------------------------------


@sqlite_only  # refused before the database is read
def test_lookalike_digits_are_not_keys(cli: CLI, tmp_path: Path) -> None:
    lines = [office_line(), company_line("1001"), company_line("１００１")]
    run = import_bytes(cli, tmp_path, b"\n".join(lines) + b"\n")
    assert run.exit_code == 4
    listed = cli("list", "--state", "all", "--format", "json")
    assert listed.exit_code == 0
    shown = cli("show", "１００１", "--format", "json")
    error_of(shown, "invalid-input", 2)
    acting = cli("--as", "office:٥٥٦٦٧٧-٨٨٩٩", "list", "--format", "json")
    error = error_of(acting, "invalid-input", 2)
    assert "is not an organisation number" in error["message"]


# -- what the database still refuses ------------------------------------------------------


@pytest.mark.postgres
def test_an_item_the_database_refuses_fails_alone_and_its_batch_is_kept(
    pg_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validation lets a NUL through here, as a gap in it would: PostgreSQL refuses the
    batch, which is then written item by item, so only that item fails."""
    from collabctl.domain import validation
    from helpers import invoke

    monkeypatch.setenv("COLLABCTL_DATABASE_URL", pg_database_url)
    monkeypatch.setattr(validation, "readable_text", lambda text: True)
    lines = [office_line(), company_line("5301"), company_line("5302", name="Bad\u0000Name")]
    lines += [company_line(str(5303 + i)) for i in range(20)]
    path = tmp_path / "input.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    run = invoke("import", str(path), "--format", "jsonl")
    assert_clean(run)
    assert run.exit_code == 4, run.stderr
    rows = run.jsonl()
    failed = [r for r in rows if r["status"] == "failed"]
    assert [(r["line"], r["key"]) for r in failed] == [(3, "5302")]
    assert failed[0]["error"]["code"] == "invalid-input"
    assert failed[0]["error"]["message"].startswith("line 3: company: the database refused it")
    assert sum(r["status"] == "changed" for r in rows) == len(lines) - 1
    listed = invoke("log", "--format", "json")
    imported = {e["details"]["key"] for e in json.loads(listed.stdout) if e["action"] == "import"}
    assert "5302" not in imported
    assert {"5301", "5322"} <= imported


def test_nothing_of_a_failed_item_reaches_the_audit_log(cli: CLI, tmp_path: Path) -> None:
    run_between_good_items(cli, tmp_path, company_line("5003", name="a\u0000b"))
    keys = [e["details"]["key"] for e in log_events(cli) if e["action"] == "import"]
    assert keys == [OFFICE, "5001", "5002"]


@sqlite_only  # refused before the database is read
def test_a_time_out_of_range_is_invalid_in_log_since_too(cli: CLI) -> None:
    run = cli("log", "--since", "0001-01-01T00:00:00+05:00", "--format", "json")
    error = error_of(run, "invalid-input", 2)
    assert error["message"] == "--since: '0001-01-01T00:00:00+05:00' is out of range"
