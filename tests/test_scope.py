"""Scope: ``--as office:ORG`` / ``--as customer:NUM`` (or ``COLLABCTL_AS``) acts for one
party, which sees and changes only what it is part of."""

from __future__ import annotations

from typing import Any

from collabctl.operations.demo import EXEMPEL, NORRLON, SIFFROR
from conftest import CLI, Run

JSON = ("--format", "json")
AS_EXEMPEL = ("--as", f"office:{EXEMPEL}")
AS_SIFFROR = ("--as", f"office:{SIFFROR}")
AS_KUND = ("--as", "customer:1001")


def error_of(run: Run, code: str, exit_code: int = 1) -> dict[str, Any]:
    assert run.exit_code == exit_code, (run.stdout, run.stderr)
    error = run.json()["error"]
    assert error["code"] == code
    assert f"error[{code}]" in run.stderr
    return error


def ok(run: Run) -> Any:
    assert run.exit_code == 0, run.stderr
    return run.json()


def keys(rows: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(r["customer_number"], r["service"], r["state"]) for r in rows}


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


def test_office_scope_ends_only_its_own_collaborations(demo: CLI) -> None:
    # 1001's invoicing is Siffror's, not Exempel's
    error = error_of(
        demo(*AS_EXEMPEL, "end", "1001", "-s", "fakturering", "-o", "continue", "--yes", *JSON),
        "not-a-party",
    )
    assert f"office:{EXEMPEL}" in error["message"] and SIFFROR in error["message"]
    assert ok(demo("list", "--customer", "1001", "--service", "fakturering", *JSON))

    # its own: ended_by follows the scope, and the audit event records the scope
    result = ok(
        demo(*AS_EXEMPEL, "end", "1001", "-s", "eekonomi", "-o", "continue", "--yes", *JSON)
    )
    assert result["ended_by"] == "office"
    event = ok(demo("log", "--customer", "1001", "--service", "eekonomi", *JSON))[-1]
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


def test_customer_scope_sees_and_ends_only_its_company(demo: CLI) -> None:
    listed = ok(demo(*AS_KUND, "list", "--state", "all", *JSON))
    assert {r["customer_number"] for r in listed} == {"1001"}
    assert len(listed) == 3
    error_of(demo(*AS_KUND, "show", "1002", *JSON), "not-a-party")
    assert ok(demo(*AS_KUND, "show", "1001", *JSON))["customer_number"] == "1001"

    error = error_of(
        demo(*AS_KUND, "end", "1007", "-s", "utlagg", "-o", "continue", "--yes", *JSON),
        "not-a-party",
    )
    assert "customer:1001" in error["message"]

    result = ok(demo(*AS_KUND, "end", "1001", "-s", "utlagg", "-o", "continue", "--yes", *JSON))
    assert result["ended_by"] == "customer"
    error_of(
        demo(*AS_KUND, "end", "1001", "-s", "eekonomi", "-o", "continue", "--by", "office",
             "--yes", *JSON),
        "invalid-input",
        2,
    )  # fmt: skip
    event = ok(demo("log", "--customer", "1001", "--service", "utlagg", *JSON))[-1]
    assert event["scope"] == "customer:1001"
    assert event["details"]["ended_by"] == "customer"


def test_collabctl_as_environment_variable_sets_the_scope(demo: CLI) -> None:
    env = {"COLLABCTL_AS": "customer:1005"}
    listed = ok(demo("list", *JSON, env=env))
    assert keys(listed) == {("1005", "lon", "active")}
    error_of(
        demo("end", "1001", "-s", "eekonomi", "-o", "continue", "--yes", *JSON, env=env),
        "not-a-party",
    )
    # the option wins over the environment
    listed = ok(demo("--as", f"office:{NORRLON}", "list", *JSON, env=env))
    assert {r["customer_number"] for r in listed} == {"1004", "1005"}


def test_a_malformed_scope_is_invalid_input(demo: CLI) -> None:
    for party in ("office", "bureau:556677-8899", "office:556677-8898", "customer:12a"):
        error = error_of(demo("--as", party, "list", *JSON), "invalid-input", 2)
        assert "--as" in error["message"], party


def test_log_is_filtered_by_scope(demo: CLI) -> None:
    # history for three offices: Exempel ends 1001's eekonomi, Siffror 1003's eekonomi
    ok(demo(*AS_EXEMPEL, "end", "1001", "-s", "eekonomi", "-o", "deactivate", "--yes", *JSON))
    ok(demo(*AS_SIFFROR, "end", "1003", "-s", "eekonomi", "-o", "continue", "--yes", *JSON))

    everything = ok(demo("log", *JSON))
    as_customer = ok(demo(*AS_KUND, "log", *JSON))
    assert as_customer
    assert {e["customer_number"] for e in as_customer} == {"1001"}
    assert as_customer == [e for e in everything if e["customer_number"] == "1001"]

    as_norrlon = ok(demo("--as", f"office:{NORRLON}", "log", *JSON))
    assert {e["customer_number"] for e in as_norrlon} == {"1004", "1005"}

    # Siffror works for 1001 on invoicing only: it sees the company's own events but
    # not the end of the eekonomi collaboration between 1001 and Exempel
    as_siffror = ok(demo(*AS_SIFFROR, "log", *JSON))
    assert {e["customer_number"] for e in as_siffror} == {"1001", "1003", "1007"}
    assert not [e for e in as_siffror if e["customer_number"] == "1001" and e["service"]]
    assert [(e["customer_number"], e["service"], e["action"]) for e in as_siffror
            if e["service"]] == [("1003", "eekonomi", "end")]  # fmt: skip
    as_exempel = ok(demo(*AS_EXEMPEL, "log", "--customer", "1001", *JSON))
    assert [(e["service"], e["action"]) for e in as_exempel if e["service"]] == [
        ("eekonomi", "end")
    ]
    # and a filter cannot widen it
    assert ok(demo(*AS_KUND, "log", "--customer", "1002", *JSON)) == []


def test_office_scope_changes_only_companies_it_works_for(demo: CLI) -> None:
    # users of a company the office works for
    added = ok(demo(*AS_EXEMPEL, "add-user", "1002", "--email", "ny@snickerinorr.se", *JSON))
    assert added["role"] == "user"
    # and not of one it does not
    error_of(demo(*AS_EXEMPEL, "add-user", "1005", "--email", "x@fisk.se", *JSON), "not-a-party")
    error_of(
        demo(*AS_EXEMPEL, "set-main-contact", "1004", "--user", "karin@byggumea.se", *JSON),
        "not-a-party",
    )
    error_of(demo(*AS_KUND, "add-user", "1002", "--email", "y@snickerinorr.se", *JSON),
             "not-a-party")  # fmt: skip
    # an office starts collaborations only for itself
    error_of(
        demo(*AS_EXEMPEL, "start", "1005", "-s", "eekonomi", "--office", SIFFROR, *JSON),
        "not-a-party",
    )
    started = ok(demo(*AS_EXEMPEL, "start", "1005", "-s", "eekonomi", "--office", EXEMPEL, *JSON))
    assert started["office_org_number"] == EXEMPEL
    # import acts for everyone, so it refuses a scope
    run = demo(*AS_EXEMPEL, "import", "-", input='{"offices": []}')
    assert run.exit_code == 1
    assert "error[not-a-party]" in run.stderr
    users = {u["email"] for u in ok(demo("show", "1005", *JSON))["users"]}
    assert users == {"per@fiskebolaget.se"}


def test_office_scope_show_hides_other_offices(demo: CLI) -> None:
    company = ok(demo(*AS_SIFFROR, "show", "1001", *JSON))
    assert {c["office_org_number"] for c in company["collaborations"]} == {SIFFROR}
    assert {a["party"] for a in company["access"]} == {f"office:{SIFFROR}"}
    error_of(demo(*AS_SIFFROR, "show", "1005", *JSON), "not-a-party")
