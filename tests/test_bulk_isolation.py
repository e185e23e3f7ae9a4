"""Bulk end: one bad line never costs another. Each line is parsed and checked on its
own; a hostile line is that line's ``invalid-input``, an item the database refuses is
that item's failure, and the good lines before and after it are ended."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from helpers import CLI, Run, db_url, log_events, ok, sqlite_only

END = ("end", "--from", "-", "--format", "jsonl")
FLAGS = ("--service", "eekonomi", "--outcome", "continue", "--by", "office", "--yes")

#: (what, line): each must be that line's invalid-input, and nothing else's
HOSTILE: list[tuple[str, bytes]] = [
    ("a 5 000-digit number", b'{"customer_number": 1' + b"0" * 5000 + b"}"),
    ("a lone surrogate in reason", b'{"customer_number": "1007", "reason": "\\ud800"}'),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000),
    ("invalid UTF-8", b"\xff\xfe1007"),
    ("a NUL in reason", b'{"customer_number": "1007", "reason": "a\\u0000b"}'),
    ("a NUL in the line", b"10\x0007"),
    ("an over-long reason", b'{"customer_number": "1007", "reason": "' + b"x" * 3000 + b'"}'),
    ("NaN", b'{"customer_number": "1007", "force": NaN}'),
    ("Infinity", b'{"customer_number": 1e999}'),
    ("a key twice", b'{"customer_number": "1007", "customer_number": "1001"}'),
    ("an over-long service", b'{"customer_number": "1007", "service": "' + b"s" * 50 + b'"}'),
    ("a line of 2 MiB", b"1" * (2 << 20)),
    ("a byte-order mark inside the input", "\ufeff1007".encode()),
]


@sqlite_only  # refused or read before any SQL runs
def test_a_key_twice_in_a_line_is_refused_as_import_refuses_it(demo: CLI) -> None:
    """Which of two values would count is anybody's guess: the line fails, named."""
    run = run_bulk(demo, b'{"customer_number": "1007", "customer_number": "1001"}\n')
    assert run.exit_code == 4, run.stderr
    (result,) = assert_clean(run)
    assert result["status"] == "failed"
    assert result["error"]["code"] == "invalid-input"
    assert result["error"]["message"] == "duplicate key 'customer_number' in one object"
    assert active(demo, "1007") >= {"eekonomi"} and active(demo, "1001") >= {"eekonomi"}


def run_bulk(cli: CLI, data: bytes, *extra: str) -> Run:
    return cli(*END, *FLAGS, *extra, input=data)  # type: ignore[arg-type]


def active(cli: CLI, customer: str) -> set[str]:
    return {r["service"] for r in ok(cli("list", "--customer", customer, "--format", "json"))}


def assert_clean(run: Run) -> list[dict[str, Any]]:
    """No internal error, no traceback, and stdout is one JSON object a line."""
    for stream in (run.stdout, run.stderr):
        assert "error[internal]" not in stream and "Traceback" not in stream, stream[-2000:]
    return [json.loads(line) for line in run.stdout.splitlines()]


# the same lines from a file are read before any SQL runs: stdin on both backends
@pytest.mark.parametrize(
    ("backend", "source"),
    [("sqlite", "stdin"), ("postgres", "stdin"), ("sqlite", "file")],
    indirect=["backend"],
)
def test_every_hostile_line_is_its_own_failure(demo: CLI, tmp_path: Path, source: str) -> None:
    # 1001 first and 1003 last are good; every line between them is hostile
    data = b"\n".join([b"1001", *(line for _, line in HOSTILE), b"1003"]) + b"\n"
    if source == "file":
        items = tmp_path / "items.txt"
        items.write_bytes(data)
        run = demo("end", "--from", str(items), "--format", "jsonl", *FLAGS)
    else:
        run = run_bulk(demo, data)
    assert run.exit_code == 4, run.stderr[-2000:]
    results = assert_clean(run)
    assert [r["line"] for r in results] == list(range(1, len(HOSTILE) + 3))
    assert results[0]["status"] == "ended" and results[-1]["status"] == "ended"
    for (what, _), result in zip(HOSTILE, results[1:-1], strict=True):
        assert result["status"] == "failed", what
        assert result["error"]["code"] == "invalid-input", (what, result)
        assert result["error"]["hint"], what
    assert "eekonomi" not in active(demo, "1001") and "eekonomi" not in active(demo, "1003")
    assert active(demo, "1007") == {"eekonomi", "utlagg"}, "no hostile line changed anything"
    assert f"{len(HOSTILE) + 2} items: 2 ended, {len(HOSTILE)} failed" in run.stderr


def test_a_dry_run_fails_the_same_lines(demo: CLI) -> None:
    data = b"\n".join([b"1001", *(line for _, line in HOSTILE), b"1003"]) + b"\n"
    run = run_bulk(demo, data, "--dry-run")
    assert run.exit_code == 4
    statuses = [r["status"] for r in assert_clean(run)]
    assert statuses == ["would-end", *["failed"] * len(HOSTILE), "would-end"]


@sqlite_only  # refused or read before any SQL runs
def test_a_leading_byte_order_mark_is_accepted_as_import_accepts_it(demo: CLI) -> None:
    run = run_bulk(demo, "\ufeff1001\n1003\n".encode())
    assert run.exit_code == 0, run.stderr
    assert [r["status"] for r in assert_clean(run)] == ["ended", "ended"]
    # as the first line of a JSON object too
    run = run_bulk(demo, '\ufeff{"customer_number": "1007"}\n'.encode())
    assert run.exit_code == 0, run.stderr
    assert [r["status"] for r in assert_clean(run)] == ["ended"]


def _refuse_updates_of(customer: str) -> None:
    """A trigger that makes the database itself refuse to end one company's collaboration,
    as it would refuse a value that slipped past validation."""
    from sqlalchemy import create_engine, text

    from collabctl.store.database import normalize_url

    engine = create_engine(normalize_url(db_url()))
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_test BEFORE UPDATE ON collaboration "
                    f"WHEN NEW.customer_number = '{customer}' "
                    "BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_test() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.customer_number = '{customer}' THEN "
                    "RAISE EXCEPTION 'refused by a test trigger' USING ERRCODE = 'check_violation'; "
                    "END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_test BEFORE UPDATE ON collaboration "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_test()"
                )
            )
    engine.dispose()


def test_an_item_the_database_refuses_costs_no_other_item(demo: CLI) -> None:
    _refuse_updates_of("1007")
    # one batch: 1001 before the refused item, 1003 after it
    run = run_bulk(demo, b"1001\n1007\n1003\n")
    assert run.exit_code == 4, run.stderr
    first, refused, last = assert_clean(run)
    assert (first["status"], last["status"]) == ("ended", "ended")
    assert refused["status"] == "failed"
    assert refused["error"]["code"] == "invalid-input"
    assert "the database refused this item" in refused["error"]["message"]
    assert "database-unavailable" not in run.stdout + run.stderr
    assert "eekonomi" not in active(demo, "1001") and "eekonomi" not in active(demo, "1003")
    assert "eekonomi" in active(demo, "1007")
    ends = [e["customer_number"] for e in log_events(demo) if e["action"] == "end"]
    assert ends == ["1001", "1003"], "one event per ended item, none for the refused one"
    # a re-run: what ended reports already-ended, the refused item fails again on its own
    again = assert_clean(run_bulk(demo, b"1001\n1007\n1003\n"))
    assert [r["status"] for r in again] == ["already-ended", "failed", "already-ended"]


# -- any line at all ---------------------------------------------------------------------

_LINES = st.lists(
    st.one_of(
        st.text(max_size=40),
        st.from_regex(r"\A[0-9]{1,12}\Z"),
        st.builds(
            lambda value: json.dumps(value),
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
                lambda inner: (
                    st.lists(inner, max_size=3)
                    | st.dictionaries(
                        st.sampled_from(["customer_number", "service", "reason", "force", "x"]),
                        inner,
                        max_size=3,
                    )
                ),
                max_leaves=8,
            ),
        ),
    ).filter(lambda line: "\n" not in line and "\r" not in line),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lines=_LINES)
# U+0085 echoed raw in a result split its JSON Lines record for Python's splitlines
@example(lines=['{"customer_number":"\\u0085"}'])
@sqlite_only  # parsing does not depend on the backend; the database cases run on both
def test_any_lines_give_one_result_each_and_never_an_internal_error(
    demo: CLI, lines: list[str]
) -> None:
    data = "".join(f"{line}\n" for line in lines).encode("utf-8")
    run = run_bulk(demo, data, "--dry-run")
    first = lines[0].removeprefix("\ufeff")
    expected = [
        number
        for number, line in enumerate([first, *lines[1:]], start=1)
        if line.strip() and not line.strip().startswith("#")
    ]
    if not expected:
        # blank lines and comments only: no item at all is invalid input, as for import
        assert run.exit_code == 2, run.stderr[-2000:]
        assert "the input is empty" in run.stderr
        return
    assert run.exit_code in (0, 4), run.stderr[-2000:]
    results = assert_clean(run)
    assert [r["line"] for r in results] == expected
    assert all(r["status"] in ("would-end", "already-ended", "failed") for r in results)
