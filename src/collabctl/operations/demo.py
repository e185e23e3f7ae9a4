"""A small, realistic data set that touches every service, outcome and checklist item."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from collabctl.domain.errors import UsageError
from collabctl.operations.context import Context
from collabctl.operations.importing.reader import Item
from collabctl.store.models import Company, Office

EXEMPEL = "556677-8899"
SIFFROR = "559123-4561"
NORRLON = "556234-5677"

OFFICES = [
    # notifications go to the offices' addresses; Siffror & Balans has none
    {"org_number": EXEMPEL, "name": "Exempelbyrån AB", "email": "info@exempelbyran.se"},
    {"org_number": SIFFROR, "name": "Siffror & Balans Redovisning AB"},
    {"org_number": NORRLON, "name": "Norrlands Lönebyrå AB", "email": "kontor@norrlandslon.se"},
]


def _collab(service: str, office: str, started: str, **ended: Any) -> dict[str, Any]:
    return {
        "service": service,
        "office": office,
        "started_at": started,
        "state": "ended" if ended else "active",
        **ended,
    }


COMPANIES: list[dict[str, Any]] = [
    {
        # Everything in order: every outcome of eEkonomi, Fakturering and Utlägg works here.
        "customer_number": "1001",
        "org_number": "556036-0793",
        "name": "Kund AB",
        "users": [
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
                "services": ["utlagg"],
            },
            {
                "email": "revisor@granskarna.se",
                "name": "Greta Granskare",
                "role": "auditor",
                "services": ["eekonomi"],
            },
        ],
        "subscriptions": [
            {"service": "eekonomi"},
            {"service": "fakturering"},
            {"service": "utlagg"},
        ],
        "collaborations": [
            _collab("eekonomi", EXEMPEL, "2023-03-01T08:00:00Z"),
            _collab("fakturering", SIFFROR, "2024-01-31T09:00:00Z"),
            _collab("utlagg", EXEMPEL, "2024-06-15T10:30:00Z"),
        ],
        "records": [
            {
                "id": "ER-1001",
                "service": "utlagg",
                "kind": "expense-report",
                "owner": "erik@kund.se",
                "status": "submitted",
                "payload": {"period": "2026-10", "amount_sek": 1840},
            },
            {
                "id": "OL-1001",
                "service": "utlagg",
                "kind": "outlay",
                "owner": "erik@kund.se",
                "status": "submitted",
                "payload": {"description": "Tåg Stockholm–Göteborg", "amount_sek": 695},
            },
        ],
    },
    {
        # No main contact: ending fails with main-contact-missing until one is set.
        "customer_number": "1002",
        "org_number": "556345-6788",
        "name": "Snickeri Norr AB",
        "users": [
            {
                "email": "lars@snickerinorr.se",
                "name": "Lars Berg",
                "role": "user",
                "services": ["eekonomi"],
            },
            {
                "email": "revision@norrrevision.se",
                "name": "Norr Revision",
                "role": "auditor",
                "services": ["eekonomi"],
            },
        ],
        "subscriptions": [{"service": "eekonomi"}],
        "collaborations": [_collab("eekonomi", EXEMPEL, "2022-09-01T07:00:00Z")],
    },
    {
        # Unsubmitted expense report and outlay: Utlägg's checklist is incomplete.
        "customer_number": "1003",
        "org_number": "556456-7898",
        "name": "Resor & Möten i Väst AB",
        "users": [
            {
                "email": "maria@resormoten.se",
                "name": "Maria Ek",
                "role": "administrator",
                "main_contact": True,
                "services": ["eekonomi", "utlagg"],
            },
            {
                "email": "johan@resormoten.se",
                "name": "Johan Ek",
                "role": "user",
                "services": ["utlagg"],
            },
        ],
        "subscriptions": [{"service": "eekonomi"}, {"service": "utlagg"}],
        "collaborations": [
            _collab("eekonomi", SIFFROR, "2021-02-01T08:00:00Z"),
            _collab("utlagg", SIFFROR, "2023-05-10T08:00:00Z"),
        ],
        "records": [
            {
                "id": "ER-3101",
                "service": "utlagg",
                "kind": "expense-report",
                "owner": "johan@resormoten.se",
                "status": "draft",
                "payload": {"period": "2026-11"},
            },
            {
                "id": "ER-3102",
                "service": "utlagg",
                "kind": "expense-report",
                "owner": "maria@resormoten.se",
                "status": "submitted",
                "payload": {"period": "2026-10"},
            },
            {
                "id": "OL-3201",
                "service": "utlagg",
                "kind": "outlay",
                "owner": "johan@resormoten.se",
                "status": "draft",
                "payload": {"description": "Hotell Malmö", "amount_sek": 1450},
            },
        ],
    },
    {
        # Payroll where no user of the company has access to Lön yet.
        "customer_number": "1004",
        "org_number": "556567-8900",
        "name": "Bygg & Lön i Umeå AB",
        "users": [
            {
                "email": "karin@byggumea.se",
                "name": "Karin Nilsson",
                "role": "administrator",
                "main_contact": True,
                "services": ["eekonomi"],
            },
        ],
        "subscriptions": [{"service": "eekonomi"}, {"service": "lon"}],
        "collaborations": [
            _collab("eekonomi", NORRLON, "2020-01-15T08:00:00Z"),
            _collab("lon", NORRLON, "2020-01-15T08:00:00Z"),
        ],
        "records": [
            {
                "id": "PR-2026-10",
                "service": "lon",
                "kind": "payroll-run",
                "owner": "karin@byggumea.se",
                "status": "submitted",
                "payload": {"employees": 14, "period": "2026-10"},
            },
        ],
    },
    {
        # Payroll ready for handover once exported and the data synchronisation is confirmed.
        "customer_number": "1005",
        "org_number": "556678-9011",
        "name": "Fiskebolaget i Göteborg AB",
        "users": [
            {
                "email": "per@fiskebolaget.se",
                "name": "Per Holm",
                "role": "administrator",
                "main_contact": True,
                "services": ["lon"],
            },
        ],
        "subscriptions": [{"service": "lon"}],
        "collaborations": [_collab("lon", NORRLON, "2022-04-01T08:00:00Z")],
        "records": [
            {
                "id": "PR-2026-10",
                "service": "lon",
                "kind": "payroll-run",
                "owner": "per@fiskebolaget.se",
                "status": "submitted",
                "payload": {"employees": 6, "period": "2026-10"},
            },
        ],
    },
    {
        # Leading zero, history: eEkonomi was deactivated, invoicing goes on with the same office.
        "customer_number": "0042",
        "org_number": "556789-0123",
        "name": "Café Hörnet HB",
        "users": [
            {
                "email": "sara@cafehornet.se",
                "name": "Sara Öberg",
                "role": "administrator",
                "main_contact": True,
                "services": ["eekonomi", "fakturering"],
            },
        ],
        "subscriptions": [
            {"service": "eekonomi", "state": "read-only"},
            {"service": "fakturering"},
        ],
        "collaborations": [
            _collab(
                "eekonomi",
                EXEMPEL,
                "2019-05-01T08:00:00Z",
                ended_at="2025-12-31T16:00:00Z",
                ended_by="customer",
                outcome="deactivate",
                reason="closing the bookkeeping service",
            ),
            _collab("fakturering", EXEMPEL, "2019-05-01T08:00:00Z"),
        ],
    },
    {
        # Expenses all submitted: Utlägg can end with continue or delete.
        "customer_number": "1007",
        "org_number": "556890-1234",
        "name": "Trädgårdsdesign Syd AB",
        "users": [
            {
                "email": "olle@tradgardsyd.se",
                "name": "Olle Persson",
                "role": "administrator",
                "main_contact": True,
                "services": ["utlagg", "eekonomi"],
            },
            {
                "email": "lisa@tradgardsyd.se",
                "name": "Lisa Persson",
                "role": "user",
                "services": ["utlagg"],
            },
        ],
        "subscriptions": [{"service": "utlagg"}, {"service": "eekonomi"}],
        "collaborations": [
            _collab("utlagg", EXEMPEL, "2024-02-01T08:00:00Z"),
            _collab("eekonomi", SIFFROR, "2024-02-01T08:00:00Z"),
        ],
        "records": [
            {
                "id": "ER-7001",
                "service": "utlagg",
                "kind": "expense-report",
                "owner": "lisa@tradgardsyd.se",
                "status": "submitted",
                "payload": {"period": "2026-09"},
            },
            {
                "id": "OL-7002",
                "service": "utlagg",
                "kind": "outlay",
                "owner": "lisa@tradgardsyd.se",
                "status": "submitted",
                "payload": {"description": "Plantor", "amount_sek": 3200},
            },
        ],
    },
]


def demo_items() -> Iterator[Item]:
    for index, office in enumerate(OFFICES):
        yield Item("office", f"demo offices[{index}]", office)
    for index, company in enumerate(COMPANIES):
        yield Item("company", f"demo companies[{index}]", company)


def database_is_empty(session: Session) -> bool:
    return (
        session.scalars(select(col(Company.customer_number)).limit(1)).first() is None
        and session.scalars(select(col(Office.org_number)).limit(1)).first() is None
    )


def load_demo(session: Session, ctx: Context, *, force: bool = False) -> dict[str, int]:
    """Import the demo data into an empty database (any database with ``force``).

    Returns how many offices and companies it holds. The session must be a
    writing one; the import commits it.
    """
    from collabctl.operations.importing import import_items

    if not force and not database_is_empty(session):
        raise UsageError(
            "the database already has data; demo only loads into an empty database",
            f"start over with `{RESET}` (deletes everything in it), or load the demo "
            "over what is there with `collabctl demo --force`",
        )
    for result in import_items(session, ctx, demo_items()):
        if result.error is not None:
            # the demo data is ours: only a change made since (an end) can refuse it
            result.error.hint = (
                f"the data changed since the demo was loaded; start over with `{RESET}`"
            )
            raise result.error
    return {"offices": len(OFFICES), "companies": len(COMPANIES)}


#: The command that empties the database and loads the demo again.
RESET = "collabctl demo --reset --yes"


def reset_demo(session: Session, ctx: Context) -> dict[str, int]:
    """Empty the database (every row, the audit log's included) and load the demo data.

    Emptying is committed before the demo is imported (the import commits as it goes).
    """
    from collabctl.store.emptying import empty_database

    empty_database(session)
    session.commit()
    return load_demo(session, ctx)
