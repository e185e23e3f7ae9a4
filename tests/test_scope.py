"""Scope: ``--as office:ORG`` / ``--as customer:NUM`` (or ``COLLABCTL_AS``) acts for one
party, which sees and changes only what it is part of (operations/scope.py).

On the demo data: Exempelbyrån (EXEMPEL) works for 0042, 1001 (eekonomi, utlagg), 1002
and 1007 (utlagg); Siffror & Balans (SIFFROR) for 1001 (fakturering), 1003 and 1007
(eekonomi); Norrlands Lönebyrå (NORRLON) for 1004 and 1005 only.
"""

from __future__ import annotations

import json
from typing import Any

from collabctl.operations.demo import EXEMPEL, NORRLON, SIFFROR
from helpers import CLI, Run, error_of, ok, sqlite_only

JSON = ("--format", "json")
AS_EXEMPEL = ("--as", f"office:{EXEMPEL}")
AS_SIFFROR = ("--as", f"office:{SIFFROR}")
AS_NORRLON = ("--as", f"office:{NORRLON}")
AS_KUND = ("--as", "customer:1001")


def keys(rows: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(r["customer_number"], r["service"], r["state"]) for r in rows}


def state_of(cli: CLI) -> tuple[Any, ...]:
    """Everything a change could show up in, as a support agent sees it."""
    return (
        ok(cli("list", "--state", "all", *JSON)),
        len(ok(cli("log", *JSON))),
        [ok(cli("show", n, *JSON)) for n in ("1001", "1002", "1004")],
    )


def assert_hides(run: Run, *secrets: str) -> None:
    """Nothing of what the scope may not see is in any output."""
    seen = run.stdout + run.stderr
    for secret in secrets:
        assert secret not in seen, (secret, seen)
    assert "error[internal]" not in seen and "Traceback" not in seen


# -- list ------------------------------------------------------------------------------


def test_office_scope_lists_only_its_collaborations(demo: CLI) -> None:
    everything = ok(demo("list", "--state", "all", *JSON))
    for office in (EXEMPEL, SIFFROR, NORRLON):
        scoped = ok(demo("--as", f"office:{office}", "list", "--state", "all", *JSON))
        assert scoped, office
        assert keys(scoped) == keys([r for r in everything if r["office_org_number"] == office])
    active = ok(demo(*AS_EXEMPEL, "list", *JSON))
    assert keys(active) == {
        ("1001", "eekonomi", "active"),
        ("1001", "utlagg", "active"),
        ("1002", "eekonomi", "active"),
        ("0042", "fakturering", "active"),
        ("1007", "utlagg", "active"),
    }
    # a filter cannot widen the scope
    assert ok(demo(*AS_EXEMPEL, "list", "--office", SIFFROR, *JSON)) == []


def test_customer_scope_lists_only_its_company(demo: CLI) -> None:
    listed = ok(demo(*AS_KUND, "list", "--state", "all", *JSON))
    assert {r["customer_number"] for r in listed} == {"1001"}
    assert len(listed) == 3
    assert ok(demo(*AS_KUND, "list", "--customer", "1002", *JSON)) == []


# -- end -------------------------------------------------------------------------------


def test_office_scope_ends_only_its_own_collaborations(demo: CLI) -> None:
    # 1001's invoicing is Siffror's, not Exempel's: not-a-party, without naming Siffror
    run = demo(*AS_EXEMPEL, "end", "1001", "-s", "fakturering", "-o", "continue", "--yes", *JSON)
    error = error_of(run, "not-a-party")
    assert f"office:{EXEMPEL}" in error["message"] and "fakturering" in error["message"]
    assert_hides(run, SIFFROR, "Siffror")
    assert ok(demo("list", "--customer", "1001", "--service", "fakturering", *JSON))

    # its own: ended_by follows the scope, and the audit event records the scope
    result = ok(
        demo(*AS_EXEMPEL, "end", "1001", "-s", "eekonomi", "-o", "continue", "--yes", *JSON)
    )
    assert result["ended_by"] == "office"
    event = ok(demo("log", "--customer", "1001", "--service", "eekonomi", *JSON))[0]
    assert event["action"] == "end"
    assert event["scope"] == f"office:{EXEMPEL}"
    assert event["details"]["ended_by"] == "office"

    # --by agreeing with the scope is accepted; contradicting it is invalid input
    error = error_of(
        demo(*AS_EXEMPEL, "end", "1001", "-s", "utlagg", "-o", "continue", "--by", "customer",
             "--yes", *JSON),
        "invalid-input",
        2,
    )  # fmt: skip
    assert "--by" in error["message"]
    assert ok(demo("list", "--customer", "1001", "--service", "utlagg", *JSON))
    result = ok(
        demo(*AS_EXEMPEL, "end", "1001", "-s", "utlagg", "-o", "continue", "--by", "office",
             "--yes", *JSON)
    )  # fmt: skip
    assert result["ended_by"] == "office"


def test_an_office_learns_nothing_of_a_company_it_does_not_work_for(demo: CLI) -> None:
    """``--as office:N end 1002 -s lon --dry-run``: Norrlön has never worked for 1002."""
    before = state_of(demo)
    for args in (
        ("end", "1002", "-s", "lon", "--dry-run"),
        ("end", "1002", "-s", "eekonomi", "--dry-run"),
        ("end", "1002", "-s", "eekonomi", "-o", "deactivate", "--yes"),
        ("show", "1002"),
        ("export", "1002", "-o", "-"),
    ):
        run = demo(*AS_NORRLON, *args, *JSON)
        error = error_of(run, "not-found")
        assert "1002" in error["message"], args
        # no name, no service it has, no office, no main contact
        assert_hides(run, "Snickeri", "eekonomi", EXEMPEL, "Exempel", "lars@", "revision@")
    # the same answer as for a company that does not exist: nothing to tell them apart
    hidden = error_of(demo(*AS_NORRLON, "show", "1002", *JSON), "not-found")
    missing = error_of(demo(*AS_NORRLON, "show", "9999", *JSON), "not-found")
    assert hidden["message"].replace("1002", "N") == missing["message"].replace("9999", "N")
    assert hidden["hint"] == missing["hint"]
    assert state_of(demo) == before


def test_a_dry_run_never_shows_another_offices_number(demo: CLI) -> None:
    # Siffror works for 1001 (invoicing); 1001's eEkonomi is Exempel's
    run = demo(*AS_SIFFROR, "end", "1001", "-s", "eekonomi", "--dry-run", *JSON)
    assert run.exit_code == 1
    report = json.loads(run.stdout)
    assert report["office_org_number"] is None
    assert [c["ok"] for c in report["checks"]][:2] == [True, False]
    assert report["checks"][1]["error"]["code"] == "not-a-party"
    assert_hides(run, EXEMPEL, "Exempel")
    # its own collaboration shows its own number
    own = ok(demo(*AS_SIFFROR, "end", "1001", "-s", "fakturering", "--dry-run", *JSON))
    assert own["office_org_number"] == SIFFROR


def test_customer_scope_sees_and_ends_only_its_company(demo: CLI) -> None:
    run = demo(*AS_KUND, "show", "1002", *JSON)
    error_of(run, "not-found")
    assert_hides(run, "Snickeri", EXEMPEL)
    shown = ok(demo(*AS_KUND, "show", "1001", *JSON))
    # everything of its own company, every office included
    assert {c["office_org_number"] for c in shown["collaborations"]} == {EXEMPEL, SIFFROR}
    assert len(shown["subscriptions"]) == 3

    run = demo(*AS_KUND, "end", "1007", "-s", "utlagg", "-o", "continue", "--yes", *JSON)
    error = error_of(run, "not-found")
    assert "customer:1001" in error["message"]
    assert_hides(run, "Trädgård", EXEMPEL)

    result = ok(demo(*AS_KUND, "end", "1001", "-s", "utlagg", "-o", "continue", "--yes", *JSON))
    assert result["ended_by"] == "customer"
    error_of(
        demo(*AS_KUND, "end", "1001", "-s", "eekonomi", "-o", "continue", "--by", "office",
             "--yes", *JSON),
        "invalid-input",
        2,
    )  # fmt: skip
    event = ok(demo("log", "--customer", "1001", "--service", "utlagg", *JSON))[0]
    assert event["scope"] == "customer:1001"
    assert event["details"]["ended_by"] == "customer"


def test_collabctl_as_environment_variable_sets_the_scope(demo: CLI) -> None:
    env = {"COLLABCTL_AS": "customer:1005"}
    listed = ok(demo("list", *JSON, env=env))
    assert keys(listed) == {("1005", "lon", "active")}
    error_of(
        demo("end", "1001", "-s", "eekonomi", "-o", "continue", "--yes", *JSON, env=env),
        "not-found",
    )
    # the option wins over the environment
    listed = ok(demo(*AS_NORRLON, "list", *JSON, env=env))
    assert {r["customer_number"] for r in listed} == {"1004", "1005"}


@sqlite_only  # refused before the database is read
def test_a_malformed_scope_is_invalid_input(demo: CLI) -> None:
    for party in ("office", "bureau:556677-8899", "office:556677-8898", "customer:12a"):
        error = error_of(demo("--as", party, "list", *JSON), "invalid-input", 2)
        assert "--as" in error["message"], party


def test_an_office_rerunning_its_own_end_gets_already_ended(demo: CLI) -> None:
    """Its own ended collaboration stays visible to it, so a re-run is safe."""
    assert demo("set-main-contact", "1002", "--user", "lars@snickerinorr.se").exit_code == 0
    args = ("end", "--from", "-", "-s", "eekonomi", "-o", "deactivate", "--yes",
            "--format", "jsonl")  # fmt: skip
    first = demo(*AS_EXEMPEL, *args, input="1002\n")
    assert [r["status"] for r in first.jsonl()] == ["ended"]
    again = demo(*AS_EXEMPEL, *args, input="1002\n")
    assert again.exit_code == 0
    [result] = again.jsonl()
    assert result["status"] == "already-ended" and result["outcome"] == "deactivate"
    # and another office is told nothing about it
    other = demo(*AS_SIFFROR, *args, input="1002\n")
    [result] = other.jsonl()
    assert result["status"] == "failed" and result["error"]["code"] == "not-found"
    assert_hides(other, EXEMPEL, "Snickeri")


# -- show ------------------------------------------------------------------------------


def test_office_scope_show_gives_only_its_own_collaborations(demo: CLI) -> None:
    company = ok(demo(*AS_SIFFROR, "show", "1001", *JSON))
    assert {c["office_org_number"] for c in company["collaborations"]} == {SIFFROR}
    assert {a["party"] for a in company["access"]} == {f"office:{SIFFROR}"}
    # only its own services: not 1001's accounting or expenses (Exempel's)
    assert [s["service"] for s in company["subscriptions"]] == ["fakturering"]
    for user in company["users"]:
        assert set(user["services"]) <= {"fakturering"}, user
    assert_hides(demo(*AS_SIFFROR, "show", "1001", *JSON), EXEMPEL, "Exempel", "eekonomi")
    # the company's users and main contact are what the office works with
    assert company["main_contact"] == "anna@kund.se"
    run = demo(*AS_SIFFROR, "show", "1005", *JSON)
    error_of(run, "not-found")
    assert_hides(run, "Fiskebolaget", NORRLON)


def test_a_former_office_may_not_show_the_company(demo: CLI) -> None:
    # Exempel works for 1002 on eEkonomi only; once that ends it is a former office
    assert demo("set-main-contact", "1002", "--user", "lars@snickerinorr.se").exit_code == 0
    assert ok(demo(*AS_EXEMPEL, "show", "1002", *JSON))["name"] == "Snickeri Norr AB"
    ok(demo(*AS_EXEMPEL, "end", "1002", "-s", "eekonomi", "-o", "deactivate", "--yes", *JSON))
    run = demo(*AS_EXEMPEL, "show", "1002", *JSON)
    error_of(run, "not-found")
    assert_hides(run, "Snickeri", "lars@")
    # it still lists its own (ended) collaboration, which it was part of
    assert keys(ok(demo(*AS_EXEMPEL, "list", "--customer", "1002", "--state", "all", *JSON))) == {
        ("1002", "eekonomi", "ended")
    }
    # and may no longer change the company
    error_of(demo(*AS_EXEMPEL, "add-user", "1002", "--email", "x@snickerinorr.se", *JSON),
             "not-found")  # fmt: skip


# -- changes ---------------------------------------------------------------------------


def test_an_office_changes_only_companies_it_works_for(demo: CLI) -> None:
    # users of a company the office works for
    added = ok(demo(*AS_EXEMPEL, "add-user", "1002", "--email", "ny@snickerinorr.se", *JSON))
    assert added["role"] == "user"
    before = state_of(demo)
    # and not of one it does not
    for args in (
        ("add-user", "1005", "--email", "x@fisk.se"),
        ("set-main-contact", "1004", "--user", "karin@byggumea.se"),
    ):
        run = demo(*AS_EXEMPEL, *args, *JSON)
        error = error_of(run, "not-found")
        assert "not found (acting as office:" in error["message"], args
        assert_hides(run, "Fiskebolaget", "Bygg", NORRLON)
    error_of(demo(*AS_KUND, "add-user", "1002", "--email", "y@snickerinorr.se", *JSON),
             "not-found")  # fmt: skip
    # import acts for everyone, so it refuses a scope
    run = demo(*AS_EXEMPEL, "import", "-", input='{"offices": []}')
    assert run.exit_code == 1
    assert "error[not-a-party]" in run.stderr
    assert state_of(demo) == before


def test_an_office_cannot_make_itself_a_party_nor_replace_the_main_contact(demo: CLI) -> None:
    """Norrlön has no collaboration with 1001: it may not start one for itself, nor add a
    user as main contact."""
    before = state_of(demo)
    run = demo(*AS_NORRLON, "start", "1001", "-s", "lon", "--office", NORRLON, *JSON)
    error_of(run, "not-found")
    assert_hides(run, "Kund AB", EXEMPEL, SIFFROR, "anna@")
    run = demo(*AS_NORRLON, "add-user", "1001", "--email", "evil@n.se", "--main-contact", *JSON)
    error_of(run, "not-found")
    assert_hides(run, "Kund AB", "anna@")
    run = demo(*AS_NORRLON, "set-main-contact", "1001", "--user", "erik@kund.se", *JSON)
    error_of(run, "not-found")
    # a company that does not exist gets the same answer
    error_of(demo(*AS_NORRLON, "start", "9999", "-s", "lon", "--office", NORRLON, *JSON),
             "not-found")  # fmt: skip
    assert state_of(demo) == before
    assert ok(demo("show", "1001", *JSON))["main_contact"] == "anna@kund.se"


def test_start_as_an_office_only_for_itself_and_a_company_it_works_for(demo: CLI) -> None:
    # for another office: refused, even with a company it works for
    error_of(
        demo(*AS_EXEMPEL, "start", "1002", "-s", "fakturering", "--office", SIFFROR, *JSON),
        "not-a-party",
    )
    # Exempel works for 1002: a second service with it is its own business
    started = ok(
        demo(*AS_EXEMPEL, "start", "1002", "-s", "fakturering", "--office", EXEMPEL, *JSON)
    )
    assert started["office_org_number"] == EXEMPEL
    # the customer may start one with any office; so may a support agent
    started = ok(demo("--as", "customer:1005", "start", "1005", "-s", "eekonomi", "--office",
                      EXEMPEL, *JSON))  # fmt: skip
    assert started["office_org_number"] == EXEMPEL
    error_of(demo("--as", "customer:1005", "start", "1004", "-s", "eekonomi", "--office",
                  EXEMPEL, *JSON), "not-found")  # fmt: skip


# -- export ----------------------------------------------------------------------------


def test_export_follows_the_scope(demo: CLI) -> None:
    events = len(ok(demo("log", *JSON)))
    run = demo(*AS_KUND, "export", "1002", "-o", "-", *JSON)
    error_of(run, "not-found")
    assert_hides(run, "Snickeri")
    run = demo(*AS_NORRLON, "export", "1001", "-o", "-", *JSON)
    error_of(run, "not-found")
    assert_hides(run, "Kund AB")
    # a service of a company it works for that is not its own: not-a-party, no other office
    run = demo(*AS_SIFFROR, "export", "1001", "-s", "utlagg", "-o", "-", *JSON)
    error_of(run, "not-a-party")
    assert_hides(run, EXEMPEL)
    assert len(ok(demo("log", *JSON))) == events
    document = ok(demo(*AS_KUND, "export", "1001", "-o", "-"))
    assert document["collabctl_export"]["services"] == ["eekonomi", "fakturering", "utlagg"]


# -- log -------------------------------------------------------------------------------


def _history(cli: CLI) -> None:
    """Events by several parties: an end each by Exempel and Siffror, user changes by an
    agent and by Exempel, an export by Siffror."""
    ok(cli(*AS_EXEMPEL, "end", "1001", "-s", "eekonomi", "-o", "deactivate", "--yes", *JSON))
    ok(cli(*AS_SIFFROR, "end", "1003", "-s", "eekonomi", "-o", "continue", "--yes", *JSON))
    ok(cli("add-user", "1001", "--email", "agent-added@kund.se", *JSON))
    ok(cli(*AS_EXEMPEL, "add-user", "1001", "--email", "exempel-added@kund.se", *JSON))
    ok(cli(*AS_SIFFROR, "export", "1001", "-s", "fakturering", "-o", "-"))
    # an agent ends Exempel's 1007 expenses: Exempel's own collaboration's event
    ok(cli("end", "1007", "-s", "utlagg", "-o", "continue", "--by", "customer", "--force",
           "--yes", *JSON))  # fmt: skip


def test_log_as_a_customer_is_everything_of_its_company(demo: CLI) -> None:
    _history(demo)
    everything = ok(demo("log", *JSON))
    as_customer = ok(demo(*AS_KUND, "log", *JSON))
    assert as_customer == [e for e in everything if e["customer_number"] == "1001"]
    assert {e["action"] for e in as_customer} == {"import", "end", "add-user", "export"}
    # a filter cannot widen it
    assert ok(demo(*AS_KUND, "log", "--customer", "1002", *JSON)) == []


def test_log_as_an_office_is_its_own_collaborations_and_its_own_acts(demo: CLI) -> None:
    _history(demo)
    events = {
        office: [
            (e["customer_number"], e["service"], e["action"], e["scope"])
            for e in ok(demo("--as", f"office:{office}", "log", "--reverse", *JSON))
        ]
        for office in (EXEMPEL, SIFFROR, NORRLON)
    }
    assert events[EXEMPEL] == [
        ("1001", "eekonomi", "end", f"office:{EXEMPEL}"),
        ("1001", None, "add-user", f"office:{EXEMPEL}"),
        ("1007", "utlagg", "end", "agent"),
    ]
    assert events[SIFFROR] == [
        ("1003", "eekonomi", "end", f"office:{SIFFROR}"),
        ("1001", "fakturering", "export", f"office:{SIFFROR}"),
    ]
    # Norrlön did nothing and none of its collaborations changed: no import, nobody else's acts
    assert events[NORRLON] == []
    run = demo(*AS_NORRLON, "log", *JSON)
    assert_hides(run, "agent-added@", "exempel-added@", "Kund AB")


def test_log_never_shows_an_office_company_wide_events(demo: CLI) -> None:
    _history(demo)
    for office in (EXEMPEL, SIFFROR, NORRLON):
        seen = ok(demo("--as", f"office:{office}", "log", *JSON))
        assert not [e for e in seen if e["action"] == "import"], office
        assert all(
            e["scope"] == f"office:{office}"
            or (e["action"] in ("start", "end") and e["details"]["office_org_number"] == office)
            for e in seen
        ), office
