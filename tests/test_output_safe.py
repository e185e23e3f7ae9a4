"""Hostile text never reaches a terminal raw: tables, rendered objects, the end result, the
log, messages and errors show control characters as escapes; machine formats stay exact;
CSV cells are never formulas and never hold NUL (issue 9, item 1; SPEC §7.1)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from collabctl.cli.env import Environment
from collabctl.cli.output import Format, emit_error, emit_object, emit_rows, message
from helpers import CLI, Run, Tty, db_url, import_doc, ok

#: The name from the report: clears the screen and draws a hidden link.
EVIL = "\x1b[2J\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\"
EVIL_SHOWN = "\\x1b[2J\\x1b]8;;http://evil\\x1b\\click\\x1b]8;;\\x1b\\"
#: refused by `import` and `user add` since addresses are checked (SPEC 8.2), but a database
#: written before that, or by hand, may hold one: the fixture writes it directly
EVIL_EMAIL = "anna\x1b[31m@evil.se"
EVIL_ACTOR = "agent\x1b]0;owned\x07"
EVIL_REASON = "moving\x1b]8;;http://evil\x1b\\ on\u202e"
EXEMPEL = "556677-8899"
#: colour codes Rich writes on a terminal (SGR); anything else with ESC is a leak
SGR = re.compile(r"\x1b\[[0-9;]*m")


def hostile_company() -> dict[str, Any]:
    return {
        "customer_number": "2001",
        "org_number": "556036-0793",
        "name": f"Evil {EVIL} AB",
        "users": [
            {
                "email": "anna@evil.se",
                "name": f"Anna {EVIL}",
                "role": "administrator",
                "main_contact": True,
                "services": ["eekonomi"],
            }
        ],
        "subscriptions": [{"service": "eekonomi", "state": "active"}],
        "collaborations": [
            {
                "service": "eekonomi",
                "office": EXEMPEL,
                "state": "active",
                "started_at": "2024-01-31T09:00:00Z",
            }
        ],
    }


def formula_company() -> dict[str, Any]:
    return {
        "customer_number": "2002",
        "org_number": "556036-0793",
        "name": '=HYPERLINK("http://evil","click")',
        "users": [
            {
                "email": "=cmd@x.se",
                "name": "+46 8 123",
                "role": "user",
                "main_contact": False,
                "services": [],
            }
        ],
        "subscriptions": [{"service": "eekonomi", "state": "active"}],
        "collaborations": [
            {
                "service": "eekonomi",
                "office": EXEMPEL,
                "state": "ended",
                "started_at": "2024-01-31T09:00:00Z",
                "ended_at": "2024-06-30T09:00:00Z",
                "ended_by": "office",
                "outcome": "continue",
                "reason": "-2+3",
            }
        ],
    }


@pytest.fixture
def hostile(demo: CLI) -> CLI:
    from sqlalchemy import create_engine, text

    from collabctl.store.database import normalize_url

    result = import_doc(demo, {"companies": [hostile_company(), formula_company()]})
    assert result.exit_code == 0, result.output
    engine = create_engine(normalize_url(db_url()))
    try:
        with engine.begin() as conn:
            changed = conn.execute(
                text("UPDATE company_user SET email = :evil WHERE email = 'anna@evil.se'"),
                {"evil": EVIL_EMAIL},
            ).rowcount
    finally:
        engine.dispose()
    assert changed == 1
    return demo


def assert_no_raw_escape(run: Run) -> None:
    for name, text in (("stdout", run.stdout), ("stderr", run.stderr)):
        assert "\x1b" not in SGR.sub("", text), f"raw ESC on {name}: {text!r}"
        assert "\u202e" not in text, f"raw bidi override on {name}: {text!r}"
        assert "\x07" not in text


# -- what people read --------------------------------------------------------------------

PEOPLE = [Tty(stdin=False, stdout=False, stderr=False), Tty(stdin=False)]


#: the text read back on both backends when piped; a terminal renders the same rows, on SQLite
ON_BACKENDS = pytest.mark.parametrize(
    ("backend", "tty"),
    [
        pytest.param("sqlite", PEOPLE[0], id="sqlite-piped"),
        pytest.param("postgres", PEOPLE[0], id="postgres-piped"),
        pytest.param("sqlite", PEOPLE[1], id="sqlite-terminal"),
    ],
    indirect=["backend"],
)


@ON_BACKENDS
def test_list_show_and_log_show_escapes_instead_of_obeying_them(hostile: CLI, tty: Tty) -> None:
    wide = {"COLUMNS": "250"}  # a terminal wide enough that no name wraps
    runs = [
        hostile("list", "--customer", "2001", tty=tty, env=wide),
        hostile("list", "--search", "evil", "--state", "all", tty=tty, env=wide),
        hostile("show", "2001", tty=tty, env=wide),
        hostile("log", "--customer", "2001", tty=tty, env=wide),
    ]
    for run in runs:
        assert run.exit_code == 0, run.output
        assert_no_raw_escape(run)
    listed, _searched, shown, logged = runs
    assert EVIL_SHOWN in listed.stdout
    assert EVIL_SHOWN in shown.stdout
    assert "anna\\x1b[31m@evil.se" in shown.stdout  # the e-mail, whole and visible
    assert EVIL_SHOWN in logged.stdout or "created company 2001" in logged.stdout


def test_the_end_result_actor_and_reason_are_shown_escaped(hostile: CLI) -> None:
    ended = hostile(
        "--actor", EVIL_ACTOR, "end", "2001", "-s", "eekonomi", "-o", "continue",
        "--by", "office", "--reason", EVIL_REASON, "--yes", tty=Tty(stdin=False),
        env={"COLUMNS": "250"},
    )  # fmt: skip
    assert ended.exit_code == 0, ended.output
    assert_no_raw_escape(ended)
    assert EVIL_SHOWN in ended.stdout

    dry = hostile("end", "2001", "-s", "eekonomi", "--dry-run", tty=Tty(stdin=False))
    assert_no_raw_escape(dry)

    logged = hostile(
        "log", "--customer", "2001", "--action", "end", tty=Tty(stdin=False), env={"COLUMNS": "250"}
    )
    assert logged.exit_code == 0, logged.output
    assert_no_raw_escape(logged)
    assert "agent\\x1b]0;owned\\x07" in logged.stdout  # the actor column
    assert "\\u202e" in logged.stdout  # the reason, in the details under the event

    # the machine formats keep the data exact: JSON escapes it by itself
    event = ok(hostile("log", "--customer", "2001", "--action", "end", "--format", "json"))[0]
    assert (event["actor"], event["details"]["reason"]) == (EVIL_ACTOR, EVIL_REASON)
    raw = hostile("log", "--customer", "2001", "--format", "jsonl")
    assert "\x1b" not in raw.stdout and "\\u001b" in raw.stdout


@ON_BACKENDS
def test_errors_show_escapes_on_stderr_and_keep_the_data_in_json(hostile: CLI, tty: Tty) -> None:
    runs = [
        hostile("set-main-contact", "2001", "--user", f"x{EVIL}@evil.se", tty=tty),
        hostile("user", "set-role", "2001", f"x{EVIL}@evil.se", "user", tty=tty),
        hostile("list", "--service", f"lon{EVIL}", tty=tty),
        hostile("show", f"2001{EVIL}", tty=tty),
        hostile("log", "--action", EVIL, "--actor", EVIL, tty=tty),
    ]
    for run in runs:
        assert_no_raw_escape(run)
        assert "Traceback" not in run.stderr
    assert all(run.exit_code != 0 for run in runs[:4]), [r.output for r in runs]


def test_error_and_message_lines_are_made_safe_in_one_place() -> None:
    env = Environment.for_test()
    emit_error(env, "not-found", f"no user {EVIL}", f"try {EVIL}\nor {EVIL}", Format.json)
    message(env, f"cancelled: {EVIL}")
    err = env.stderr.getvalue()  # type: ignore[attr-defined]
    assert "\x1b" not in err
    assert err.splitlines() == [
        f"error[not-found]: no user {EVIL_SHOWN}",
        f"hint: try {EVIL_SHOWN}",
        f"      or {EVIL_SHOWN}",
        f"cancelled: {EVIL_SHOWN}",
    ]
    # the JSON twin on stdout is data: exact, escaped by JSON itself
    error = json.loads(env.stdout.getvalue())["error"]  # type: ignore[attr-defined]
    assert error == {
        "code": "not-found",
        "message": f"no user {EVIL}",
        "hint": f"try {EVIL}\nor {EVIL}",
    }


def test_a_renderer_that_prints_data_as_a_string_cannot_leak_it() -> None:
    """Whatever a command's renderer prints through the console is made safe there."""
    env = Environment.for_test(tty=True)

    def render(console: Any, obj: dict[str, Any]) -> None:
        from rich.markup import escape

        console.print(f"done: {obj['name']}", markup=False)
        console.print(f"[bold]{escape(obj['name'])}[/bold]")

    emit_object(env, {"name": EVIL}, Format.table, render)
    out = env.stdout.getvalue()  # type: ignore[attr-defined]
    assert "\x1b" not in out
    assert out.count(EVIL_SHOWN) == 2


# -- CSV: never a formula, never NUL -----------------------------------------------------


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted(hostile: CLI) -> None:
    listed = hostile("list", "--customer", "2002", "--state", "all", "--format", "csv")
    assert listed.exit_code == 0, listed.output
    (row,) = csv_rows(listed.stdout)
    assert row["company_name"] == '\'=HYPERLINK("http://evil","click")'
    assert row["reason"] == "'-2+3"
    assert row["started_at"] == "2024-01-31T09:00:00.000000Z"  # ordinary values untouched

    users = hostile("user", "list", "2002", "--format", "csv")
    assert users.exit_code == 0, users.output
    (user,) = csv_rows(users.stdout)
    assert (user["email"], user["name"]) == ("'=cmd@x.se", "'+46 8 123")

    # the other formats carry the value exactly
    (exact,) = ok(hostile("list", "--customer", "2002", "--state", "all", "--format", "json"))
    assert exact["company_name"] == '=HYPERLINK("http://evil","click")'


def test_csv_never_writes_nul_and_quotes_formulas_in_every_cell() -> None:
    env = Environment.for_test()
    rows = [{"a": "x\x00y", "b": "=1+1", "c": 5, "d": ["-1"], "e": None, "f": True}]
    emit_rows(env, iter(rows), Format.csv, ["a", "b", "c", "d", "e", "f"])
    out = env.stdout.getvalue()  # type: ignore[attr-defined]
    assert "\x00" not in out
    (row,) = csv_rows(out)
    assert row == {"a": "x\\x00y", "b": "'=1+1", "c": "5", "d": '["-1"]', "e": "", "f": "true"}

    env = Environment.for_test()
    emit_object(env, {"name": "@SUM(A1)", "nul": "\x00"}, Format.csv)
    out = env.stdout.getvalue()  # type: ignore[attr-defined]
    assert "\x00" not in out
    assert csv_rows(out) == [{"name": "'@SUM(A1)", "nul": "\\x00"}]


# -- machine formats: exact values, one record per line -------------------------------------

#: characters JSON itself would write raw: line breaks to Python's splitlines and to many
#: line readers (U+0085, U+2028, U+2029), DEL and C1 controls a terminal may obey (U+009B is
#: a control sequence introducer), and a bidi override
LINE_BREAKERS = "a\x85b\u2028c\u2029d\x7fe\x9b2Jf\u202eg"


def test_json_text_escapes_what_would_break_a_line_or_act_on_a_terminal() -> None:
    from collabctl.domain.json_text import dumps, dumps_indented

    value = {"name": LINE_BREAKERS, "müller": ["Müller", "\x1b"]}
    for text in (dumps(value), dumps_indented(value)):
        assert json.loads(text) == value
        assert not set(text) & set("\x85\u2028\u2029\x7f\x9b\u202e\x1b"), repr(text)
        assert "Müller" in text  # readable names stay as themselves
    assert len(dumps(value).splitlines()) == 1


@pytest.fixture
def line_breaking(demo: CLI) -> CLI:
    company = hostile_company()
    company["name"] = f"Kund {LINE_BREAKERS} AB"
    company["users"][0]["name"] = LINE_BREAKERS
    assert import_doc(demo, {"companies": [company]}).exit_code == 0
    return demo


def test_machine_formats_write_line_breaking_characters_as_json_escapes(
    line_breaking: CLI, tmp_path: Path
) -> None:
    cli = line_breaking
    name = f"Kund {LINE_BREAKERS} AB"
    exported = tmp_path / "export.json"
    runs = {
        "list jsonl": cli("list", "--customer", "2001", "--format", "jsonl"),
        "show jsonl": cli("show", "2001", "--format", "jsonl"),
        "show json": cli("show", "2001", "--format", "json"),
        "log jsonl": cli("log", "--customer", "2001", "--format", "jsonl"),
        "export stdout": cli("export", "2001", "-o", "-"),
        "export file": cli("export", "2001", "-o", str(exported), "--format", "json"),
        "end --from": cli(
            "end", "--from", "-", "--dry-run", "--format", "jsonl",
            input=json.dumps({"customer_number": "2001", "service": "eekonomi",
                              "outcome": "continue", "by": "customer",
                              "reason": LINE_BREAKERS, "x": LINE_BREAKERS}) + "\n",
        ),
    }  # fmt: skip
    for what, run in runs.items():
        assert run.exit_code in (0, 4), (what, run.output)
        assert not set(run.stdout) & set(LINE_BREAKERS) - set("abcdefg2J"), (what, run.stdout)
    for what in ("list jsonl", "show jsonl", "log jsonl", "end --from"):
        records = [json.loads(line) for line in runs[what].stdout.splitlines()]
        assert records, what
    assert json.loads(runs["list jsonl"].stdout.splitlines()[0])["company_name"] == name
    assert json.loads(runs["show json"].stdout)["name"] == name
    assert json.loads(runs["export stdout"].stdout)["companies"][0]["name"] == name
    text = exported.read_text(encoding="utf-8")
    assert "\\u0085" in text and "\x85" not in text
    assert json.loads(text)["companies"][0]["name"] == name
