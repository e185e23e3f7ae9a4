"""A stream of results stopped by an error or Ctrl-C: stdout stays parseable.

With ``--format json`` the rows are one JSON array written as they come; an error
that stops the stream after the array began closes it, with the error object
(``{"error": {...}}``, as SPEC §3 writes errors in a machine format) as its last
element, so stdout is still one JSON document. Ctrl-C closes it without one. With
``--format jsonl`` every line stays a document of its own, the error on the last.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from collabctl.cli.env import Environment
from collabctl.cli.output import Format, close_json_array, emit_error, emit_rows
from conftest import CLI
from helpers import sqlite_only

END = ("end", "--from", "-", "--service", "eekonomi", "--outcome", "deactivate", "--by")
ENDS = "1001\n1004\n1007\n"
UNSTARTED = ("1004", "1007")


def rows_then(exc: BaseException, n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield {"n": i}
    raise exc


@pytest.mark.parametrize("n", [0, 1, 3])
def test_an_error_after_rows_closes_the_array_with_the_error_as_its_last_element(n: int) -> None:
    env = Environment.for_test()
    with pytest.raises(RuntimeError):
        emit_rows(env, rows_then(RuntimeError("gone"), n), Format.json, ("n",))
    emit_error(env, "database-unavailable", "the database went away", "try again", Format.json)
    document = json.loads(env.stdout.getvalue())
    assert document[:n] == [{"n": i} for i in range(n)]
    assert document[n:] == [
        {
            "error": {
                "code": "database-unavailable",
                "message": "the database went away",
                "hint": "try again",
            }
        }
    ]
    # once closed, a later error stands alone again (one document per command run)
    assert env.open_json_array is None


@pytest.mark.parametrize("n", [0, 2])
def test_an_interrupted_array_is_closed_without_an_element(n: int) -> None:
    env = Environment.for_test()
    with pytest.raises(KeyboardInterrupt):
        emit_rows(env, rows_then(KeyboardInterrupt(), n), Format.json, ("n",))
    close_json_array(env)
    close_json_array(env)  # nothing left open: writes nothing
    assert json.loads(env.stdout.getvalue()) == [{"n": i} for i in range(n)]


def test_a_finished_array_is_left_alone_by_a_later_error() -> None:
    env = Environment.for_test()
    emit_rows(env, iter([{"n": 1}]), Format.json, ("n",))
    emit_error(env, "conflict", "later", None, Format.json)
    first, second = env.stdout.getvalue().strip().split("\n]\n")
    assert json.loads(first + "\n]") == [{"n": 1}]
    assert json.loads(second)["error"]["code"] == "conflict"


def _stop_after_first_batch(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    """The real bulk end, stopped by ``exc`` once its first batch is committed: what a
    database that goes away (or Ctrl-C) in the middle of a run does to it."""
    from collabctl.operations import bulk

    real = bulk.end_many

    def end_many(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for batch in real(*args, **kwargs):
            yield batch
            raise exc

    monkeypatch.setattr(bulk, "BATCH_ITEMS", 1)  # one item a batch: the rest never start
    monkeypatch.setattr(bulk, "end_many", end_many)


def _database_gone() -> Exception:
    from sqlalchemy.exc import OperationalError

    return OperationalError("UPDATE collaboration ...", {}, Exception("connection lost"))


def test_bulk_json_stopped_by_a_fatal_error_is_one_document(
    cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("demo")
    untouched = {c: cli("list", "--customer", c, "--format", "json").json() for c in UNSTARTED}
    _stop_after_first_batch(monkeypatch, _database_gone())
    run = cli(*END, "office", "--yes", "--format", "json", input=ENDS)
    assert run.exit_code == 3, run.stderr  # database-unavailable
    document = json.loads(run.stdout)
    results, error = document[:-1], document[-1]
    assert [(r["customer_number"], r["status"]) for r in results] == [("1001", "ended")]
    assert error["error"]["code"] == "database-unavailable"
    assert set(error) == {"error"}
    assert "stopped: 1 item: 1 ended" in run.stderr
    # the items after the stop were never started
    for customer, before in untouched.items():
        assert cli("list", "--customer", customer, "--format", "json").json() == before


@sqlite_only  # the document's form; what a stop leaves is tested on both backends
def test_bulk_jsonl_stopped_by_a_fatal_error_ends_with_the_error_line(
    cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("demo")
    _stop_after_first_batch(monkeypatch, _database_gone())
    run = cli(*END, "office", "--yes", "--format", "jsonl", input=ENDS)
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert [(r["customer_number"], r["status"]) for r in lines[:-1]] == [("1001", "ended")]
    assert lines[-1]["error"]["code"] == "database-unavailable"


@sqlite_only  # the document's form; what a stop leaves is tested on both backends
def test_bulk_json_interrupted_is_one_document(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    cli("demo")
    _stop_after_first_batch(monkeypatch, KeyboardInterrupt())
    run = cli(*END, "office", "--yes", "--format", "json", input=ENDS)
    assert run.exit_code == 130
    results = json.loads(run.stdout)
    assert [(r["customer_number"], r["status"]) for r in results] == [("1001", "ended")]
    assert "interrupted: " in run.stderr
