"""What the interactive flows offer (operations/picking.py) as plain data, and a question
answered in-process through an injected Environment (no pseudo-terminal)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any, cast

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from typer.testing import CliRunner

from collabctl.cli.app import app
from collabctl.cli.env import Environment
from collabctl.cli.state import State
from collabctl.domain.errors import NotFound
from collabctl.operations.gateway import Operations
from collabctl.operations.picking import (
    CompanyChoice,
    UserChoice,
    companies_with_active_collaboration,
    company_collaborations,
    main_contact_candidates,
    users_of,
)
from conftest import CLI
from helpers import show, sqlite_only

EXEMPEL = "556677-8899"
NORRLON = "556234-5677"


@pytest.fixture
def reading(demo: CLI) -> Iterator[Any]:
    """``reading(party).read(operation, ...)``: an operation read on the demo data, acting
    as ``party``."""
    states: list[State] = []

    def open_as(party: str | None = None) -> Operations:
        state = State(Environment.for_test(), party=party, actor="tester")
        states.append(state)
        return state.operations

    yield open_as
    for state in states:
        state.close()


def test_companies_with_an_active_collaboration_are_plain_data(reading: Any) -> None:
    companies = reading().read(companies_with_active_collaboration)
    assert all(type(c) is CompanyChoice for c in companies)
    numbers = [c.customer_number for c in companies]
    assert numbers == sorted(numbers)
    assert "1001" in numbers
    assert CompanyChoice("1001", "Kund AB") in companies
    assert CompanyChoice("1001", "Kund AB").label == "1001  Kund AB"


def test_the_service_narrows_the_companies(reading: Any) -> None:
    everyone = reading().read(companies_with_active_collaboration)
    payroll = reading().read(companies_with_active_collaboration, "lon")
    assert payroll
    assert set(payroll) < set(everyone)


def test_an_office_is_offered_only_its_own_companies(reading: Any) -> None:
    everyone = reading().read(companies_with_active_collaboration)
    office = reading(f"office:{NORRLON}")
    own = office.read(companies_with_active_collaboration)
    for company in own:
        offices = {
            c["office_org_number"]
            for c in office.read(company_collaborations, company.customer_number).active
        }
        assert offices == {NORRLON}
    assert own
    assert set(own) < set(everyone)


def test_a_customer_is_offered_only_itself(reading: Any) -> None:
    assert reading("customer:1001").read(companies_with_active_collaboration) == [
        CompanyChoice("1001", "Kund AB")
    ]


def test_the_collaborations_of_a_company(reading: Any) -> None:
    company = reading().read(company_collaborations, "1001")
    with pytest.raises(NotFound):
        reading().read(company_collaborations, "9999")
    assert company.name == "Kund AB"
    assert sorted(c["service"] for c in company.active) == ["eekonomi", "fakturering", "utlagg"]


def test_main_contact_candidates_leave_out_auditors(demo: CLI, reading: Any) -> None:
    everyone = reading().read(users_of, "1002")
    candidates = reading().read(main_contact_candidates, "1002")
    assert all(type(u) is UserChoice for u in everyone)
    auditors = [u for u in everyone if u.role == "auditor"]
    assert auditors, "the demo's 1002 has an auditor"
    assert candidates == [u for u in everyone if u.role != "auditor"]
    assert [u.email for u in everyone] == [u["email"] for u in show(demo, "1002")["users"]]


def test_main_contact_candidates_need_a_party_to_the_company(reading: Any) -> None:
    # Exempelbyrån has no collaboration with 1004
    with pytest.raises(NotFound):
        reading(f"office:{EXEMPEL}").read(main_contact_candidates, "1004")


@sqlite_only  # the prompt's mechanics; what is offered runs on both backends above
def test_a_question_answered_through_the_injected_environment(demo: CLI) -> None:
    with create_pipe_input() as keys:
        keys.send_text("\r")  # the first user offered
        env = Environment.for_test(tty=True, prompt_input=keys, prompt_output=DummyOutput())
        result = CliRunner().invoke(app, ["set-main-contact", "1002", "--format", "json"], obj=env)
    stderr = cast(io.StringIO, env.stderr).getvalue()
    assert result.exit_code == 0, stderr
    chosen = json.loads(cast(io.StringIO, env.stdout).getvalue())
    assert chosen["main_contact"] is True
    assert chosen["role"] == "administrator"
    assert show(demo, "1002")["main_contact"] == chosen["email"]
