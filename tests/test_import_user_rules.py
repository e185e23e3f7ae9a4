"""``import`` obeys the rules of users and services (SPEC 7.2, 8.1): services a user is
given must be subscribed, an auditor is never the main contact, the main contact is
never demoted below administrator. An item that breaks one fails alone, with the code
the command would give, and changes nothing."""

from __future__ import annotations

import json
from typing import Any

from company_import import export, import_company, refused
from conftest import CLI
from helpers import show


def user(company: dict[str, Any], email: str) -> dict[str, Any]:
    return next(u for u in company["users"] if u["email"] == email)


def test_a_service_the_company_does_not_subscribe_to_is_not_found(demo: CLI) -> None:
    company = export(demo, "1002")
    assert "lon" not in {s["service"] for s in company["subscriptions"]}
    company["users"].append({"email": "ny@snickerinorr.se", "name": "Ny", "services": ["lon"]})
    error = refused(demo, company, "not-found")
    index = len(company["users"]) - 1
    assert error["message"] == (
        f"line 1: company.users[{index}].services[0]: customer 1002 does not subscribe to lon"
    )
    # also for a user already there
    company["users"].pop()
    company["users"][0]["services"] = ["eekonomi", "lon"]
    refused(demo, company, "not-found")
    # subscribed in the same item, it is given
    company["subscriptions"].append({"service": "lon", "state": "active"})
    row = import_company(demo, company)
    assert row["status"] == "changed", row
    assert "lon" in next(u for u in show(demo, "1002")["users"])["services"]


def test_a_deleted_subscription_is_not_given(demo: CLI) -> None:
    ended = demo("end", "1007", "-s", "utlagg", "-o", "delete", "--by", "customer", "--yes")
    assert ended.exit_code == 0, ended.stderr
    company = export(demo, "1007")
    company["users"].append({"email": "ny@tradgardsyd.se", "services": ["utlagg"]})
    error = refused(demo, company, "not-found")
    assert "does not subscribe to utlagg (it was deleted)" in error["message"]


def test_an_auditor_as_main_contact_is_auditor_cannot_be_main_contact(demo: CLI) -> None:
    company = export(demo, "1001")
    for entry in company["users"]:
        entry["main_contact"] = False
    company["users"].append({"email": "granskare@kund.se", "role": "auditor", "main_contact": True})
    error = refused(demo, company, "auditor-cannot-be-main-contact")
    assert "an auditor cannot be the main contact" in error["message"]
    # an auditor already there, made main contact
    company["users"].pop()
    user(company, "revisor@granskarna.se")["main_contact"] = True
    del user(company, "revisor@granskarna.se")["role"]
    refused(demo, company, "auditor-cannot-be-main-contact")


def test_the_main_contact_is_never_demoted_below_administrator(demo: CLI) -> None:
    for role in ("user", "auditor"):
        company = export(demo, "1001")
        anna = user(company, "anna@kund.se")
        assert anna["main_contact"] is True
        anna["role"] = role
        del anna["main_contact"]
        error = refused(demo, company, "main-contact-required")
        assert "anna@kund.se is the main contact of customer 1001" in error["message"]
        assert f"making them {role}" in error["message"]
    # moved to someone else in the same item, the former main contact may be demoted
    company = export(demo, "1001")
    user(company, "anna@kund.se").update(role="user", main_contact=False)
    user(company, "erik@kund.se")["main_contact"] = True
    row = import_company(demo, company)
    assert row["status"] == "changed", row
    users = {u["email"]: u for u in show(demo, "1001")["users"]}
    assert (users["anna@kund.se"]["role"], users["erik@kund.se"]["role"]) == (
        "user",
        "administrator",
    )


def test_a_failing_item_fails_alone(demo: CLI) -> None:
    bad = export(demo, "1002")
    bad["users"].append({"email": "ny@snickerinorr.se", "services": ["lon"]})
    good = export(demo, "1004")
    good["name"] = "Bygg & Lön i Umeå Aktiebolag"
    lines = "".join(json.dumps({"company": c}) + "\n" for c in (bad, good))
    run = demo("import", "-", "--format", "jsonl", input=lines)
    rows = run.jsonl()
    assert [(r["key"], r["status"]) for r in rows] == [("1002", "failed"), ("1004", "changed")]
    assert rows[0]["error"]["code"] == "not-found"
    assert show(demo, "1004")["name"] == "Bygg & Lön i Umeå Aktiebolag"
    assert "ny@snickerinorr.se" not in {u["email"] for u in show(demo, "1002")["users"]}
