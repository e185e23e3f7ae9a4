"""A company's users: ``user list``, ``set-role``, ``set-services``, ``remove`` and the
promotion the interactive end flow uses, first as operations on a real database
(SQLite and PostgreSQL), then through the command line.

Every refusal is checked for its code and for leaving the database exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import text

from collabctl.domain.errors import CollabError
from collabctl.operations import users as ops
from collabctl.operations.context import Context, Party
from collabctl.operations.demo import EXEMPEL, NORRLON, SIFFROR
from collabctl.operations.parties import promote_to_main_contact
from collabctl.store.database import Database
from conftest import CLI, db_url
from helpers import error_of, sqlite_only

JSON = ("--format", "json")


# -- operations on a real database ----------------------------------------------------


class Ops:
    """The operations of this module, each in its own transaction on the test database."""

    def __init__(self) -> None:
        self.db = Database(db_url())

    def context(self, party: str | None = None) -> Context:
        return Context("tester", Party.parse(party) if party else None)

    def run(self, work: Callable[..., Any], *args: Any, party: str | None = None) -> Any:
        return self.db.transact(lambda session: work(session, self.context(party), *args))

    def refused(
        self, code: str, work: Callable[..., Any], *args: Any, party: str | None = None
    ) -> CollabError:
        """The refusal of ``work``, with its code; the database must not have changed."""
        before = self.snapshot()
        with pytest.raises(CollabError) as raised:
            self.run(work, *args, party=party)
        assert raised.value.code == code, raised.value
        assert raised.value.hint, "every refusal says how to fix it"
        assert self.snapshot() == before
        return raised.value

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row a user change could touch, to prove a refusal changed nothing."""
        queries = {
            "users": "SELECT customer_number, email, name, role, main_contact, services "
            "FROM company_user ORDER BY id",
            "subscriptions": "SELECT customer_number, service, state, records_changed_at "
            "FROM subscription ORDER BY customer_number, service",
            "records": "SELECT customer_number, service, record_id FROM service_record ORDER BY id",
            "collaborations": "SELECT id, state FROM collaboration ORDER BY id",
            "events": "SELECT id FROM audit_event ORDER BY id",
        }
        with self.db.session(write=False) as session:
            return {
                name: [tuple(str(v) for v in row) for row in session.execute(text(sql))]
                for name, sql in queries.items()
            }

    def users(self, number: str) -> dict[str, dict[str, Any]]:
        return {u["email"]: u for u in self.run(ops.list_users, number)}

    def events(self, *actions: str) -> list[dict[str, Any]]:
        with self.db.session(write=False) as session:
            rows = session.execute(
                text(
                    "SELECT actor, scope, action, customer_number, service, details "
                    "FROM audit_event ORDER BY id"
                )
            ).mappings()
            found = [dict(row) for row in rows if row["action"] in actions]
        for event in found:
            if isinstance(event["details"], str):  # SQLite hands JSON back as text
                import json

                event["details"] = json.loads(event["details"])
        return found


@pytest.fixture
def db(demo: CLI) -> Iterator[Ops]:
    """The demo data on both backends, changed through the operations."""
    found = Ops()
    yield found
    found.db.dispose()


def test_list_users_in_creation_order_with_every_key(db: Ops) -> None:
    listed = db.run(ops.list_users, "1001")
    assert listed == [
        {
            "email": "anna@kund.se",
            "name": "Anna Lindqvist",
            "role": "administrator",
            "main_contact": True,
            "services": ["eekonomi", "fakturering", "utlagg"],
        },
        {
            "email": "erik@kund.se",
            "name": "Erik Svensson",
            "role": "user",
            "main_contact": False,
            "services": ["utlagg"],
        },
        {
            "email": "revisor@granskarna.se",
            "name": "Greta Granskare",
            "role": "auditor",
            "main_contact": False,
            "services": ["eekonomi"],
        },
    ]
    assert tuple(listed[0]) == ops.USER_KEYS


def test_list_users_of_an_unknown_company(db: Ops) -> None:
    db.refused("not-found", ops.list_users, "9999")


def test_set_role_changes_the_role_and_records_before_and_after(db: Ops) -> None:
    # e-mails are compared case-insensitively; the stored spelling is kept
    change = db.run(ops.set_role, "1001", "Erik@KUND.se", "administrator")
    assert change.changed
    assert change.before["role"] == "user"
    assert change.after["role"] == "administrator"
    assert change.to_dict()["email"] == "erik@kund.se"
    assert db.users("1001")["erik@kund.se"]["role"] == "administrator"

    (event,) = db.events("set-role")
    assert (event["actor"], event["scope"], event["customer_number"]) == ("tester", "agent", "1001")
    assert event["service"] is None
    details = event["details"]
    assert details["email"] == "erik@kund.se"
    assert details["before"]["role"] == "user"
    assert details["after"]["role"] == "administrator"
    assert details["before"]["services"] == details["after"]["services"] == ["utlagg"]


def test_set_role_to_the_same_role_changes_nothing_and_records_nothing(db: Ops) -> None:
    before = db.snapshot()
    change = db.run(ops.set_role, "1001", "erik@kund.se", "user")
    assert not change.changed
    assert db.snapshot() == before


def test_a_user_can_become_an_auditor_and_back(db: Ops) -> None:
    db.run(ops.set_role, "1001", "erik@kund.se", "auditor")
    assert db.users("1001")["erik@kund.se"]["role"] == "auditor"
    db.run(ops.set_role, "1001", "erik@kund.se", "user")
    assert db.users("1001")["erik@kund.se"]["role"] == "user"
    assert len(db.events("set-role")) == 2


@pytest.mark.parametrize("role", ["user", "auditor"])
def test_the_main_contact_cannot_be_demoted(db: Ops, role: str) -> None:
    error = db.refused("main-contact-required", ops.set_role, "1001", "ANNA@kund.se", role)
    assert "anna@kund.se is the main contact of customer 1001" in error.message
    # the hint names the exact command, with a user who can take over
    assert "collabctl set-main-contact 1001 --user erik@kund.se" in str(error.hint)
    assert error.exit_code == 1


def test_the_hint_when_nobody_else_can_be_main_contact(db: Ops) -> None:
    # 1005 has one user, the main contact
    error = db.refused("main-contact-required", ops.set_role, "1005", "per@fiskebolaget.se", "user")
    assert "collabctl set-main-contact 1005 --user OTHER" in str(error.hint)
    assert "collabctl user add 1005 --email EMAIL --main-contact" in str(error.hint)


# refused before the database is read: one case on both backends, the others on SQLite
@pytest.mark.parametrize(
    ("backend", "role"),
    [
        ("sqlite", "owner"),
        ("postgres", "owner"),
        *(("sqlite", role) for role in ["Administrator", "", "admin"]),
    ],
    indirect=["backend"],
)
def test_a_role_outside_the_three_is_invalid_input(db: Ops, role: str) -> None:
    error = db.refused("invalid-input", ops.set_role, "1001", "erik@kund.se", role)
    assert "administrator, user, auditor" in str(error.hint)
    assert error.exit_code == 2


def test_an_unknown_email_is_not_found(db: Ops) -> None:
    for work, args in (
        (ops.set_role, ("administrator",)),
        (ops.set_services, (["eekonomi"], [])),
        (ops.remove_user, ()),
        (promote_to_main_contact, ()),
    ):
        error = db.refused("not-found", work, "1001", "nobody@kund.se", *args)
        assert "customer 1001 has no user nobody@kund.se" in error.message
        assert "anna@kund.se" in str(error.hint)  # who is there


def test_an_unknown_company_is_not_found(db: Ops) -> None:
    db.refused("not-found", ops.set_role, "9999", "anna@kund.se", "user")
    db.refused("not-found", ops.remove_user, "9999", "anna@kund.se")


@sqlite_only  # refused before the database is read
def test_a_malformed_email_is_invalid_input(db: Ops) -> None:
    db.refused("invalid-input", ops.set_role, "1001", "not-an-email", "user")


# -- set-services ---------------------------------------------------------------------


def test_set_services_grants_and_revokes_in_one_change(db: Ops) -> None:
    change = db.run(
        ops.set_services, "1001", "erik@kund.se", ["eekonomi", "fakturering"], ["utlagg"]
    )
    assert change.before["services"] == ["utlagg"]
    assert change.after["services"] == ["eekonomi", "fakturering"]
    assert db.users("1001")["erik@kund.se"]["services"] == ["eekonomi", "fakturering"]
    (event,) = db.events("set-services")
    details = event["details"]
    assert details["before"]["services"] == ["utlagg"]
    assert details["after"]["services"] == ["eekonomi", "fakturering"]
    assert details["granted"] == ["eekonomi", "fakturering"]
    assert details["revoked"] == ["utlagg"]


def test_set_services_that_change_nothing_record_nothing(db: Ops) -> None:
    before = db.snapshot()
    # granted already, and revoking one the user does not have
    change = db.run(ops.set_services, "1001", "erik@kund.se", ["utlagg"], ["fakturering"])
    assert not change.changed
    assert db.snapshot() == before


def test_granting_a_service_the_company_does_not_subscribe_to_is_not_found(db: Ops) -> None:
    error = db.refused("not-found", ops.set_services, "1001", "erik@kund.se", ["lon"], [])
    assert "customer 1001 does not subscribe to lon" in error.message
    assert "eekonomi, fakturering, utlagg" in str(error.hint)


def test_granting_a_deleted_service_is_not_found(db: Ops, demo: CLI) -> None:
    run = demo(
        "end", "1007", "-s", "utlagg", "-o", "delete", "--by", "customer", "--yes", "--no-backup"
    )
    assert run.exit_code == 0, run.stderr
    error = db.refused("not-found", ops.set_services, "1007", "olle@tradgardsyd.se", ["utlagg"], [])
    assert "(it was deleted)" in error.message


@sqlite_only  # refused before the database is read
def test_granting_and_revoking_the_same_service_is_invalid_input(db: Ops) -> None:
    error = db.refused(
        "invalid-input", ops.set_services, "1001", "erik@kund.se", ["eekonomi"], ["eekonomi"]
    )
    assert "eekonomi is both granted and revoked" in error.message
    assert error.exit_code == 2


@sqlite_only  # refused before the database is read
def test_set_services_needs_something_to_change(db: Ops) -> None:
    db.refused("invalid-input", ops.set_services, "1001", "erik@kund.se", [], [])


@sqlite_only  # refused before the database is read
def test_an_unknown_service_code_is_invalid_input(db: Ops) -> None:
    error = db.refused("invalid-input", ops.set_services, "1001", "erik@kund.se", ["payroll"], [])
    assert "eekonomi" in str(error.hint)  # the known ones


# -- remove ---------------------------------------------------------------------------


def test_remove_a_user_keeps_their_records(db: Ops) -> None:
    change = db.run(ops.remove_user, "1001", "ERIK@kund.se")
    assert change.after is None
    assert change.to_dict()["email"] == "erik@kund.se"
    assert "erik@kund.se" not in db.users("1001")
    records = db.snapshot()["records"]
    assert ("1001", "utlagg", "ER-1001") in records  # owned by Erik, kept
    (event,) = db.events("remove-user")
    assert event["details"]["before"]["email"] == "erik@kund.se"
    assert event["details"]["after"] is None


def test_the_main_contact_cannot_be_removed(db: Ops) -> None:
    error = db.refused("main-contact-required", ops.remove_user, "1001", "anna@kund.se")
    assert "cannot be removed" in error.message
    assert "collabctl set-main-contact 1001 --user erik@kund.se" in str(error.hint)


def test_after_moving_the_main_contact_the_former_one_can_be_removed(db: Ops) -> None:
    from collabctl.operations.parties import set_main_contact

    db.run(set_main_contact, "1001", "erik@kund.se")
    db.run(ops.remove_user, "1001", "anna@kund.se")
    users = db.users("1001")
    assert set(users) == {"erik@kund.se", "revisor@granskarna.se"}
    assert users["erik@kund.se"]["main_contact"] is True


def test_a_removed_email_can_be_added_again(db: Ops) -> None:
    from collabctl.operations.parties import add_user

    db.run(ops.remove_user, "1001", "erik@kund.se")
    db.run(add_user, "1001", "erik@kund.se", "Erik S", "user", [], False)
    assert db.users("1001")["erik@kund.se"]["name"] == "Erik S"


# -- promotion: set-role + set-main-contact in one transaction ------------------------


def test_promote_a_user_to_main_contact_writes_both_changes(db: Ops) -> None:
    result = db.run(promote_to_main_contact, "1002", "LARS@snickerinorr.se")
    assert result["promoted"] is True
    assert result["main_contact"] is True
    users = db.users("1002")
    assert users["lars@snickerinorr.se"]["role"] == "administrator"
    assert users["lars@snickerinorr.se"]["main_contact"] is True
    events = db.events("set-role", "set-main-contact")
    assert [e["action"] for e in events] == ["set-role", "set-main-contact"]
    assert events[0]["details"]["before"]["role"] == "user"
    assert events[0]["details"]["after"]["role"] == "administrator"
    assert events[1]["details"]["after"] == "lars@snickerinorr.se"


def test_promote_an_administrator_only_sets_the_main_contact(db: Ops) -> None:
    db.run(ops.set_role, "1002", "lars@snickerinorr.se", "administrator")
    result = db.run(promote_to_main_contact, "1002", "lars@snickerinorr.se")
    assert result["promoted"] is False
    assert [e["action"] for e in db.events("set-role", "set-main-contact")] == [
        "set-role",
        "set-main-contact",
    ]


def test_an_auditor_is_not_promoted(db: Ops) -> None:
    error = db.refused(
        "auditor-cannot-be-main-contact",
        promote_to_main_contact,
        "1002",
        "revision@norrrevision.se",
    )
    assert "auditor" in error.message


def test_a_failed_promotion_leaves_the_role_as_it_was(
    db: Ops, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The role change and the main contact go together: when the second step fails
    (here: made to fail after it ran), the first is rolled back with it."""
    from collabctl.operations import parties

    original = parties.set_main_contact

    def fails_after_running(*args: Any, **kwargs: Any) -> Any:
        original(*args, **kwargs)
        raise CollabError("the main contact step failed", "try again", code="conflict")

    monkeypatch.setattr(parties, "set_main_contact", fails_after_running)
    db.refused("conflict", promote_to_main_contact, "1002", "lars@snickerinorr.se")


# -- scope ----------------------------------------------------------------------------


def test_an_office_with_an_active_collaboration_may_change_users(db: Ops) -> None:
    change = db.run(
        ops.set_role, "1001", "erik@kund.se", "administrator", party=f"office:{EXEMPEL}"
    )
    assert change.changed
    (event,) = db.events("set-role")
    assert event["scope"] == f"office:{EXEMPEL}"
    assert db.run(ops.list_users, "1001", party=f"office:{SIFFROR}")


USER_CHANGES = [
    (ops.set_role, ("erik@kund.se", "administrator")),
    (ops.set_services, ("erik@kund.se", ["eekonomi"], [])),
    (ops.remove_user, ("erik@kund.se",)),
    (promote_to_main_contact, ("erik@kund.se",)),
]


# every change finds the user through one scoped look-up (users.user_for_change): set_role
# and the promotion on both backends, the other two on SQLite
@pytest.mark.parametrize(
    ("backend", "work", "args"),
    [
        *(
            pytest.param(backend, work, args, id=f"{backend}-{work.__name__}")
            for backend, changes in (("sqlite", USER_CHANGES), ("postgres", USER_CHANGES[::3]))
            for work, args in changes
        ),
    ],
    indirect=["backend"],
)
@pytest.mark.parametrize("party", [f"office:{NORRLON}", "customer:1002"])
def test_a_party_that_is_not_the_company_nor_works_for_it_may_not_change_users(
    db: Ops, work: Callable[..., Any], args: tuple[Any, ...], party: str
) -> None:
    error = db.refused("not-found", work, "1001", *args, party=party)
    # it learns nothing about the company's users
    assert "erik" not in error.message + str(error.hint)


@pytest.mark.parametrize("party", [f"office:{NORRLON}", "customer:1002"])
def test_a_party_that_may_not_see_the_company_finds_no_users(db: Ops, party: str) -> None:
    hidden = db.refused("not-found", ops.list_users, "1001", party=party)
    absent = db.refused("not-found", ops.list_users, "9999", party=party)
    # worded as for a company that does not exist: the answer tells nothing
    assert hidden.message.replace("1001", "N") == absent.message.replace("9999", "N")
    assert "Kund AB" not in hidden.message + str(hidden.hint)


def test_the_company_itself_may_change_its_users(db: Ops) -> None:
    db.run(ops.remove_user, "1001", "revisor@granskarna.se", party="customer:1001")
    assert "revisor@granskarna.se" not in db.users("1001")


def test_a_former_office_may_not_change_users(db: Ops, demo: CLI) -> None:
    # 0042's eEkonomi collaboration with Exempelbyrån ended; its invoicing one goes on
    run = demo("end", "0042", "-s", "fakturering", "-o", "continue", "--by", "office", "--yes")
    assert run.exit_code == 0, run.stderr
    db.refused(
        "not-found",
        ops.set_role,
        "0042",
        "sara@cafehornet.se",
        "user",
        party=f"office:{EXEMPEL}",
    )


# -- the command line -----------------------------------------------------------------


def cli_users(cli: CLI, customer: str) -> list[dict[str, Any]]:
    run = cli("user", "list", customer, *JSON)
    assert run.exit_code == 0, run.stderr
    return run.json()


def events(cli: CLI, *actions: str) -> list[dict[str, Any]]:
    run = cli("log", "--customer", "1001", "--reverse", *JSON)
    assert run.exit_code == 0, run.stderr
    return [e for e in run.json() if e["action"] in actions]


def test_user_list_in_every_format(demo: CLI) -> None:
    listed = cli_users(demo, "1001")
    assert [u["email"] for u in listed] == [
        "anna@kund.se",
        "erik@kund.se",
        "revisor@granskarna.se",
    ]
    assert list(listed[0]) == ["email", "name", "role", "main_contact", "services"]
    jsonl = demo("user", "list", "1001", "--format", "jsonl")
    assert jsonl.jsonl() == listed
    csv = demo("user", "list", "1001", "--format", "csv").stdout.splitlines()
    assert csv[0] == "email,name,role,main_contact,services"
    assert (
        csv[1]
        == 'anna@kund.se,Anna Lindqvist,administrator,true,"[""eekonomi"",""fakturering"",""utlagg""]"'
    )
    table = demo("user", "list", "1001")
    assert table.exit_code == 0
    for word in ("anna@kund.se", "Erik Svensson", "auditor", "utlagg"):
        assert word in table.stdout


def test_user_list_of_an_unknown_company(demo: CLI) -> None:
    error_of(demo("user", "list", "9999", *JSON), "not-found")
    error_of(demo("user", "list", "12x", *JSON), "invalid-input", 2)


def test_user_add_is_add_user(demo: CLI) -> None:
    run = demo("user", "add", "1001", "--email", "Nils@Kund.se", "--name", "Nils", *JSON)
    assert run.exit_code == 0, run.stderr
    assert run.json()["role"] == "user"
    run = demo("add-user", "1001", "--email", "nils@kund.se", *JSON)
    error_of(run, "duplicate")
    assert [e["action"] for e in events(demo, "add-user")] == ["add-user"]
    help_add = demo("user", "add", "--help").stdout
    assert "also: collabctl add-user" in help_add


def test_set_role_through_the_command_line(demo: CLI) -> None:
    run = demo("user", "set-role", "1001", "ERIK@kund.se", "administrator", *JSON)
    assert run.exit_code == 0, run.stderr
    result = run.json()
    assert result["email"] == "erik@kund.se"
    assert result["role"] == "administrator"
    assert result["changed"] is True
    assert result["before"]["role"] == "user"
    assert result["after"]["role"] == "administrator"
    table = demo("user", "set-role", "1001", "erik@kund.se", "user")
    assert table.exit_code == 0
    assert "erik@kund.se (Erik Svensson): role administrator -> user" in table.stdout
    same = demo("user", "set-role", "1001", "erik@kund.se", "user")
    assert "nothing to change" in same.stdout
    changes = events(demo, "set-role")
    assert [(e["details"]["before"]["role"], e["details"]["after"]["role"]) for e in changes] == [
        ("user", "administrator"),
        ("administrator", "user"),
    ]


def test_command_line_refusals_change_nothing(demo: CLI) -> None:
    before = cli_users(demo, "1001")
    error = error_of(
        demo("user", "set-role", "1001", "anna@kund.se", "user", *JSON), "main-contact-required"
    )
    assert "collabctl set-main-contact 1001 --user erik@kund.se" in error["hint"]
    error_of(demo("user", "remove", "1001", "anna@kund.se", *JSON), "main-contact-required")
    error_of(demo("user", "set-role", "1001", "nobody@kund.se", "user", *JSON), "not-found")
    error_of(demo("user", "remove", "1001", "nobody@kund.se", *JSON), "not-found")
    error_of(demo("user", "set-role", "1001", "erik@kund.se", "owner", *JSON), "invalid-input", 2)
    error_of(
        demo("user", "set-services", "1001", "erik@kund.se", "--grant", "lon", *JSON), "not-found"
    )
    error = error_of(
        demo(
            "user",
            "set-services",
            "1001",
            "erik@kund.se",
            "--grant",
            "eekonomi",
            "--revoke",
            "eekonomi",
            *JSON,
        ),
        "invalid-input",
        2,
    )
    assert "both granted and revoked" in error["message"]
    error_of(
        demo(
            "--as", f"office:{NORRLON}", "user", "set-role", "1001", "erik@kund.se", "user", *JSON
        ),
        "not-found",
    )
    assert cli_users(demo, "1001") == before
    assert events(demo, "set-role", "set-services", "remove-user") == []


def test_set_services_and_remove_through_the_command_line(demo: CLI) -> None:
    run = demo(
        "user",
        "set-services",
        "1001",
        "erik@kund.se",
        "-g",
        "eekonomi",
        "--grant",
        "fakturering",
        "-r",
        "utlagg",
    )
    assert run.exit_code == 0, run.stderr
    assert "services utlagg -> eekonomi, fakturering" in run.stdout
    run = demo("user", "remove", "1001", "erik@kund.se", "--yes", *JSON)
    assert run.exit_code == 0, run.stderr
    assert run.json()["after"] is None
    assert [u["email"] for u in cli_users(demo, "1001")] == [
        "anna@kund.se",
        "revisor@granskarna.se",
    ]
    done = events(demo, "set-services", "remove-user")
    assert [e["action"] for e in done] == ["set-services", "remove-user"]
    assert done[0]["details"]["granted"] == ["eekonomi", "fakturering"]
    assert done[1]["details"]["before"]["services"] == ["eekonomi", "fakturering"]


def test_show_lists_the_changed_users(demo: CLI) -> None:
    assert demo("user", "set-role", "1001", "erik@kund.se", "administrator").exit_code == 0
    shown = demo("show", "1001", *JSON).json()
    erik = next(u for u in shown["users"] if u["email"] == "erik@kund.se")
    assert erik["role"] == "administrator"


def test_role_completes_from_the_three_roles() -> None:
    from helpers import invoke

    def complete(words: str) -> list[str]:
        run = invoke(
            env={
                "_COLLABCTL_COMPLETE": "complete_bash",
                "COMP_WORDS": words,
                "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
            }
        )
        assert run.exit_code == 0, run.stderr
        return run.stdout.split()

    assert complete("collabctl user set-role 1001 erik@kund.se a") == ["administrator", "auditor"]
    assert complete("collabctl user set-role 1001 erik@kund.se ") == [
        "administrator",
        "user",
        "auditor",
    ]
