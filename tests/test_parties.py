"""``start``, ``set-main-contact`` and ``add-user``: what they change, what they refuse,
and the audit events they write."""

from __future__ import annotations

from typing import Any

from collabctl.operations.demo import EXEMPEL, NORRLON, SIFFROR
from conftest import CLI, Run
from helpers import sqlite_only

JSON = ("--format", "json")
UNKNOWN_OFFICE = "556999-0004"  # a valid organisation number no office has


def error_of(run: Run, code: str, exit_code: int = 1) -> dict[str, Any]:
    assert run.exit_code == exit_code, (run.stdout, run.stderr)
    error = run.json()["error"]
    assert error["code"] == code
    assert f"error[{code}]: {error['message']}" in run.stderr
    assert error["hint"] and "hint: " in run.stderr
    return error


def show(cli: CLI, customer: str) -> dict[str, Any]:
    run = cli("show", customer, *JSON)
    assert run.exit_code == 0, run.stderr
    return run.json()


def users(cli: CLI, customer: str) -> dict[str, dict[str, Any]]:
    return {u["email"]: u for u in show(cli, customer)["users"]}


def subscription(cli: CLI, customer: str, service: str) -> dict[str, Any] | None:
    subs = show(cli, customer)["subscriptions"]
    return next((s for s in subs if s["service"] == service), None)


def log(cli: CLI, *args: str) -> list[dict[str, Any]]:
    run = cli("log", *args, "--reverse", *JSON)
    assert run.exit_code == 0, run.stderr
    return run.json()


# -- start ----------------------------------------------------------------------------


def test_start_creates_collaboration_and_subscription(demo: CLI) -> None:
    assert subscription(demo, "1005", "eekonomi") is None
    run = demo("start", "1005", "--service", "eekonomi", "--office", SIFFROR, *JSON)
    assert run.exit_code == 0, run.stderr
    started = run.json()
    assert started["customer_number"] == "1005"
    assert started["service"] == "eekonomi"
    assert started["office_org_number"] == SIFFROR
    assert started["office_name"] == "Siffror & Balans Redovisning AB"
    assert started["state"] == "active"
    assert started["started_at"]
    assert started["ended_at"] is None
    assert subscription(demo, "1005", "eekonomi") == {
        "service": "eekonomi",
        "state": "active",
        "records": 0,
    }
    listed = demo("list", "--customer", "1005", *JSON).json()
    assert {(r["service"], r["office_org_number"]) for r in listed} == {
        ("eekonomi", SIFFROR),
        ("lon", NORRLON),
    }
    event = log(demo, "--customer", "1005")[-1]
    assert event["action"] == "start"
    assert event["service"] == "eekonomi"
    assert event["at"] == started["started_at"]
    assert event["details"] == {
        "office_org_number": SIFFROR,
        "subscription": {"before": None, "after": "active"},
    }

    # the new collaboration can be ended like any other
    ended = demo("end", "1005", "-s", "eekonomi", "-o", "deactivate", "--by", "office", "--yes")
    assert ended.exit_code == 0, ended.stderr


def test_start_reactivates_a_read_only_subscription(demo: CLI) -> None:
    assert subscription(demo, "0042", "eekonomi")["state"] == "read-only"  # type: ignore[index]
    run = demo("start", "0042", "--service", "eekonomi", "--office", SIFFROR, *JSON)
    assert run.exit_code == 0, run.stderr
    assert subscription(demo, "0042", "eekonomi")["state"] == "active"  # type: ignore[index]
    history = demo("list", "--customer", "0042", "--service", "eekonomi", "--state", "all", *JSON)
    assert [(r["state"], r["office_org_number"]) for r in history.json()] == [
        ("ended", EXEMPEL),
        ("active", SIFFROR),
    ]
    details = log(demo, "--customer", "0042", "--service", "eekonomi")[-1]["details"]
    assert details["subscription"] == {"before": "read-only", "after": "active"}


def test_start_reactivates_a_no_access_subscription_with_its_records(demo: CLI) -> None:
    ended = demo("end", "1005", "-s", "lon", "--by", "customer", "--force", "--yes", *JSON)
    assert ended.exit_code == 0, ended.stderr
    assert subscription(demo, "1005", "lon") == {
        "service": "lon",
        "state": "no-access",
        "records": 1,
    }
    run = demo("start", "1005", "--service", "lon", "--office", EXEMPEL, *JSON)
    assert run.exit_code == 0, run.stderr
    assert subscription(demo, "1005", "lon") == {"service": "lon", "state": "active", "records": 1}


def test_start_refusals(demo: CLI) -> None:
    before = (demo("list", "--state", "all", *JSON).stdout, log(demo))

    error = error_of(
        demo("start", "1001", "--service", "eekonomi", "--office", SIFFROR, *JSON), "duplicate"
    )
    assert EXEMPEL in error["message"], "names the office of the active collaboration"
    assert "collabctl end 1001 --service eekonomi" in error["hint"]
    # the same office again is a duplicate too
    error_of(demo("start", "1001", "-s", "eekonomi", "--office", EXEMPEL, *JSON), "duplicate")

    error = error_of(
        demo("start", "1001", "-s", "lon", "--office", UNKNOWN_OFFICE, *JSON), "not-found"
    )
    assert UNKNOWN_OFFICE in error["message"]
    error = error_of(demo("start", "9999", "-s", "lon", "--office", EXEMPEL, *JSON), "not-found")
    assert "9999" in error["message"]

    error = error_of(
        demo("start", "1001", "-s", "payroll", "--office", EXEMPEL, *JSON), "invalid-input", 2
    )
    assert "payroll" in error["message"]
    error = error_of(
        demo("start", "1001", "-s", "lon", "--office", "556677-8898", *JSON), "invalid-input", 2
    )
    assert "--office" in error["message"]

    assert (demo("list", "--state", "all", *JSON).stdout, log(demo)) == before
    assert subscription(demo, "1001", "lon") is None


# -- set-main-contact -------------------------------------------------------------------


def test_set_main_contact_promotes_a_user_and_says_so(demo: CLI) -> None:
    run = demo("set-main-contact", "1002", "--user", "lars@snickerinorr.se", *JSON)
    assert run.exit_code == 0, run.stderr
    result = run.json()
    assert result["email"] == "lars@snickerinorr.se"
    assert result["role"] == "administrator"
    assert result["main_contact"] is True
    assert result["promoted"] is True
    assert result["changed"] is True
    assert result["previous_main_contact"] is None

    company = show(demo, "1002")
    assert company["main_contact"] == "lars@snickerinorr.se"
    assert users(demo, "1002")["lars@snickerinorr.se"]["role"] == "administrator"
    assert users(demo, "1002")["revision@norrrevision.se"]["role"] == "auditor"

    event = log(demo, "--customer", "1002")[-1]
    assert event["action"] == "set-main-contact"
    assert event["details"] == {
        "before": None,
        "after": "lars@snickerinorr.se",
        "role": {"before": "user", "after": "administrator"},
        "promoted": True,
    }


@sqlite_only  # the rendering of a result already read
def test_set_main_contact_table_output_tells_of_the_promotion(demo: CLI) -> None:
    run = demo("set-main-contact", "1002", "--user", "lars@snickerinorr.se")
    assert run.exit_code == 0, run.stderr
    assert "promoted to administrator" in run.stdout
    assert "main contact" in run.stdout


def test_set_main_contact_refuses_an_auditor(demo: CLI) -> None:
    before = show(demo, "1002")
    events = len(log(demo))
    run = demo("set-main-contact", "1002", "--user", "revision@norrrevision.se", *JSON)
    error = error_of(run, "auditor-cannot-be-main-contact")
    assert "revision@norrrevision.se" in error["message"]
    assert "collabctl add-user 1002" in error["hint"]
    assert show(demo, "1002") == before
    assert len(log(demo)) == events


def test_set_main_contact_moves_the_flag(demo: CLI) -> None:
    run = demo("set-main-contact", "1001", "--user", "Erik@Kund.SE", *JSON)
    assert run.exit_code == 0, run.stderr
    result = run.json()
    assert result["email"] == "erik@kund.se", "found case-insensitively, stored as given"
    assert result["previous_main_contact"] == "anna@kund.se"
    assert result["promoted"] is True

    after = users(demo, "1001")
    assert after["erik@kund.se"]["main_contact"] is True
    assert after["erik@kund.se"]["role"] == "administrator"
    assert after["anna@kund.se"]["main_contact"] is False
    assert after["anna@kund.se"]["role"] == "administrator", "the previous stays administrator"
    assert [u for u in after.values() if u["main_contact"]] == [after["erik@kund.se"]]
    assert show(demo, "1001")["main_contact"] == "erik@kund.se"
    details = log(demo, "--customer", "1001")[-1]["details"]
    assert (details["before"], details["after"]) == ("anna@kund.se", "erik@kund.se")

    # back to Anna: an administrator is not "promoted"
    run = demo("set-main-contact", "1001", "--user", "anna@kund.se", *JSON)
    assert run.json()["promoted"] is False
    assert run.json()["previous_main_contact"] == "erik@kund.se"
    assert users(demo, "1001")["erik@kund.se"]["role"] == "administrator"


def test_set_main_contact_to_the_current_one_changes_nothing(demo: CLI) -> None:
    events = len(log(demo))
    run = demo("set-main-contact", "1001", "--user", "anna@kund.se", *JSON)
    assert run.exit_code == 0, run.stderr
    assert run.json()["changed"] is False
    assert len(log(demo)) == events, "no change, no audit event"


def test_set_main_contact_refusals(demo: CLI) -> None:
    error = error_of(demo("set-main-contact", "1001", "--user", "nobody@kund.se", *JSON),
                     "not-found")  # fmt: skip
    assert "nobody@kund.se" in error["message"]
    assert "collabctl add-user 1001 --email nobody@kund.se --main-contact" in error["hint"]
    error_of(demo("set-main-contact", "9999", "--user", "a@b.se", *JSON), "not-found")
    # no --user and no terminal to pick in
    error = error_of(demo("set-main-contact", "1002", *JSON), "invalid-input", 2)
    assert "--user" in error["message"]
    assert show(demo, "1002")["main_contact"] is None


# -- add-user ---------------------------------------------------------------------------


def test_add_user_as_main_contact_in_one_step(demo: CLI) -> None:
    run = demo("add-user", "1002", "--email", "Stina@SnickeriNorr.se", "--name", "Stina Berg",
               "--service", "eekonomi", "--main-contact", *JSON)  # fmt: skip
    assert run.exit_code == 0, run.stderr
    result = run.json()
    assert result["email"] == "Stina@SnickeriNorr.se"
    assert result["name"] == "Stina Berg"
    assert result["role"] == "administrator"
    assert result["main_contact"] is True
    assert result["services"] == ["eekonomi"]
    assert result["previous_main_contact"] is None

    assert show(demo, "1002")["main_contact"] == "Stina@SnickeriNorr.se"
    assert users(demo, "1002")["lars@snickerinorr.se"]["role"] == "user", "others untouched"
    event = log(demo, "--customer", "1002")[-1]
    assert event["action"] == "add-user"
    assert event["details"]["user"]["email"] == "Stina@SnickeriNorr.se"
    assert event["details"]["main_contact"] == {"before": None, "after": "Stina@SnickeriNorr.se"}

    # the end that needed a main contact now goes through
    run = demo("end", "1002", "-s", "eekonomi", "-o", "deactivate", "--by", "office", "--yes")
    assert run.exit_code == 0, run.stderr


def test_add_user_main_contact_takes_the_flag_and_promotes(demo: CLI) -> None:
    run = demo("add-user", "1001", "--email", "ny@kund.se", "--role", "user", "--main-contact",
               *JSON)  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert run.json()["role"] == "administrator"
    assert run.json()["promoted"] is True
    assert run.json()["previous_main_contact"] == "anna@kund.se"
    after = users(demo, "1001")
    assert after["anna@kund.se"]["main_contact"] is False
    assert after["anna@kund.se"]["role"] == "administrator"
    assert after["ny@kund.se"]["name"] == "ny", "the name defaults to the e-mail's local part"
    assert show(demo, "1001")["main_contact"] == "ny@kund.se"


def test_add_user_plain_defaults_to_role_user(demo: CLI) -> None:
    run = demo("add-user", "1001", "--email", "extra@kund.se", "-s", "utlagg", "-s", "eekonomi",
               *JSON)  # fmt: skip
    assert run.exit_code == 0, run.stderr
    added = users(demo, "1001")["extra@kund.se"]
    assert added["role"] == "user"
    assert added["main_contact"] is False
    assert added["services"] == ["utlagg", "eekonomi"]
    assert show(demo, "1001")["main_contact"] == "anna@kund.se"


def test_add_user_refusals(demo: CLI) -> None:
    before = show(demo, "1001")
    events = len(log(demo))

    error = error_of(demo("add-user", "1001", "--email", "ANNA@kund.se", *JSON), "duplicate")
    assert "anna@kund.se" in error["message"]
    assert "collabctl set-main-contact 1001 --user anna@kund.se" in error["hint"]

    error = error_of(
        demo("add-user", "1001", "--email", "rev2@kund.se", "--role", "auditor",
             "--main-contact", *JSON),
        "auditor-cannot-be-main-contact",
    )  # fmt: skip
    assert "--role auditor" in error["hint"] or "--main-contact" in error["hint"]

    for args, field in (
        (("--email", "not-an-email"), "--email"),
        (("--email", "x@kund.se", "--role", "owner"), "--role"),
        (("--email", "x@kund.se", "--service", "tid"), "--service"),
    ):
        error = error_of(demo("add-user", "1001", *args, *JSON), "invalid-input", 2)
        assert error["message"].startswith(field), error
    error_of(demo("add-user", "9999", "--email", "x@y.se", *JSON), "not-found")
    # only services the company subscribes to (SPEC §7.2); 1001 has no payroll
    for command in (("add-user",), ("user", "add")):
        error = error_of(
            demo(*command, "1001", "--email", "lon@kund.se", "--service", "utlagg",
                 "--service", "lon", *JSON),
            "not-found",
        )  # fmt: skip
        assert error["message"] == "customer 1001 does not subscribe to lon"
        assert "collabctl start 1001 --service lon" in error["hint"]

    assert show(demo, "1001") == before
    assert len(log(demo)) == events
