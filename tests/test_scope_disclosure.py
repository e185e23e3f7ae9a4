"""A scope never learns what it may not see (SPEC 8.1): every command that names a company
answers a company the scope may not see word for word as one that does not exist, shows
only the services of the scope's own collaborations, and `log --verify` names no company
the scope may not see."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from collabctl.operations import restore as ops
from conftest import CLI
from helpers import db_url, show

JSON = ("--format", "json")
#: Norrlands Lönebyrå: works with 1004 and 1005, never with 1001
STRANGER = "office:556234-5677"
EXEMPEL = "office:556677-8899"
MISSING = "9999"


def answer(cli: CLI, args: list[str], number: str) -> tuple[int, str, str]:
    """What the scope is told about ``number``, with the number itself taken out."""
    run = cli("--as", STRANGER, *(number if a == "C" else a for a in args), *JSON)
    assert "Traceback" not in run.stderr
    return run.exit_code, run.stdout.replace(number, "C"), run.stderr.replace(number, "C")


NAMING_A_COMPANY = [
    ["user", "list", "C"],
    ["user", "add", "C", "--email", "ny@kund.se", "--name", "Ny"],
    ["user", "set-role", "C", "erik@kund.se", "administrator"],
    ["user", "set-services", "C", "erik@kund.se", "--grant", "eekonomi"],
    ["user", "remove", "C", "erik@kund.se"],
    ["add-user", "C", "--email", "ny@kund.se"],
    ["set-main-contact", "C", "--user", "erik@kund.se"],
    ["start", "C", "--service", "eekonomi", "--office", "556234-5677"],
    ["export", "C", "-o", "-"],
    ["log", "--customer", "C"],
    ["notify", "list", "--customer", "C"],
]
#: the same command (add-user is user add) or the same scoped look-up of the user as
#: user set-role: these run on SQLite only, every other one on both backends
SAME_PATH_AS_ANOTHER = ("add-user", "user-set-services", "user-remove")


def _named(args: list[str]) -> str:
    return "-".join(a for a in args[:2] if a != "C")


@pytest.mark.parametrize(
    ("backend", "args"),
    [
        pytest.param(backend, args, id=f"{backend}-{_named(args)}")
        for args in NAMING_A_COMPANY
        for backend in ("sqlite", "postgres")
        if backend == "sqlite" or _named(args) not in SAME_PATH_AS_ANOTHER
    ],
    indirect=["backend"],
)
def test_a_company_out_of_sight_is_answered_as_one_that_does_not_exist(
    demo: CLI, args: list[str]
) -> None:
    hidden, missing = answer(demo, args, "1001"), answer(demo, args, MISSING)
    assert hidden == missing
    exit_code, stdout, _stderr = hidden
    if args[0] in ("log", "notify"):
        assert (exit_code, json.loads(stdout)) == (0, [])
    else:
        assert exit_code == 1 and json.loads(stdout)["error"]["code"] == "not-found"


def test_restore_of_a_company_out_of_sight_is_answered_as_one_that_does_not_exist(
    demo: CLI, tmp_path: Path
) -> None:
    ended = demo("end", "1007", "-s", "utlagg", "-o", "delete", "--by", "customer", "--yes", *JSON)
    document = json.loads(Path(ended.json()["backup_path"]).read_text(encoding="utf-8"))
    company = show(demo, "1001")
    for number in ("1001", MISSING):
        document["collabctl_export"]["customer_number"] = number
        document["companies"][0].update(customer_number=number, org_number=company["org_number"])
        path = tmp_path / "backup.json"  # one name: the path is part of no answer
        path.write_text(json.dumps(ops.seal_backup(document)), encoding="utf-8")
        if number == "1001":
            hidden = answer(demo, ["restore", str(path), "--yes"], number)
        else:
            missing = answer(demo, ["restore", str(path), "--yes"], number)
    assert hidden == missing and hidden[0] == 1
    assert json.loads(hidden[1])["error"]["code"] == "not-found"


def test_user_list_shows_an_office_only_its_own_services_as_show_does(demo: CLI) -> None:
    listed = demo("--as", EXEMPEL, "user", "list", "1001", *JSON)
    assert listed.exit_code == 0, listed.stderr
    shown = demo("--as", EXEMPEL, "show", "1001", *JSON).json()["users"]
    services = {u["email"]: u["services"] for u in listed.json()}
    assert services == {u["email"]: u["services"] for u in shown}
    # anna has fakturering too, through another office's collaboration
    assert services["anna@kund.se"] == ["eekonomi", "utlagg"]
    assert "fakturering" not in json.dumps(listed.json())
    assert "fakturering" in json.dumps(demo("user", "list", "1001", *JSON).json())


def test_user_changes_show_an_office_only_its_own_services(demo: CLI) -> None:
    for args in (
        ["user", "set-services", "1001", "anna@kund.se", "--grant", "eekonomi"],
        ["user", "set-role", "1001", "erik@kund.se", "administrator"],
        ["user", "set-role", "1001", "anna@kund.se", "administrator"],
    ):
        run = demo("--as", EXEMPEL, *args, *JSON)
        assert run.exit_code == 0, run.stderr
        assert "fakturering" not in run.stdout + run.stderr, args
    # nor in the hint of a refusal
    refused = demo(
        "--as", EXEMPEL, "user", "set-services", "1001", "erik@kund.se", "--grant", "lon", *JSON
    )
    assert refused.json()["error"]["code"] == "not-found"
    assert "fakturering" not in refused.stdout + refused.stderr
    assert "eekonomi, utlagg" in refused.json()["error"]["hint"]
    # without a scope, the whole user
    whole = demo("user", "set-role", "1001", "anna@kund.se", "administrator", *JSON)
    assert "fakturering" in whole.stdout


def tamper(backend: str, request: pytest.FixtureRequest, number: str) -> None:
    """Change one event of a company the way someone with the database in hand would."""
    statement = f"UPDATE audit_event SET actor = 'x' WHERE customer_number = '{number}'"
    if backend == "sqlite":
        conn = sqlite3.connect(db_url().removeprefix("sqlite:///"))
        with conn:
            conn.execute("DROP TRIGGER audit_event_no_update")
            conn.execute(statement)
        conn.close()
        return
    import psycopg

    server: Any = request.getfixturevalue("pg_server")
    with psycopg.connect(
        host=str(server.socket_dir),
        port=server.port,
        user="postgres",
        dbname=db_url().rsplit("/", 1)[1],
    ) as conn:
        conn.execute("ALTER TABLE audit_event DISABLE TRIGGER USER")
        conn.execute(statement)


def test_log_verify_under_a_scope_names_no_company_it_may_not_see(
    demo: CLI, backend: str, request: pytest.FixtureRequest
) -> None:
    tamper(backend, request, "1004")
    agent = demo("log", "--verify", *JSON)
    assert agent.exit_code == 1 and "1004" in agent.stdout + agent.stderr
    office = demo("--as", EXEMPEL, "log", "--verify", *JSON)
    assert office.exit_code == 1
    assert office.json()["error"]["code"] == "audit-tampered"
    # (digests are hex: a "1004" in one is chance, not disclosure)
    assert "1004" not in re.sub("[0-9a-f]{64}", "", office.stdout + office.stderr)
    assert "a company this scope does not see" in office.stderr
    # the office that works with 1004 is told where
    own = demo("--as", "office:556234-5677", "log", "--verify", *JSON)
    assert own.exit_code == 1 and "customer 1004" in own.stderr
