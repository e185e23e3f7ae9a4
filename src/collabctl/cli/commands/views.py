"""Reading: ``list``, ``show``, ``log``."""

from enum import StrEnum
from typing import Annotated

import typer

from collabctl.cli import verify_and_grant
from collabctl.cli.commands import command_group
from collabctl.cli.errors import handles_errors
from collabctl.cli.options import (
    CustomerFilter,
    FieldsOption,
    FormatOption,
    ServiceFilter,
)
from collabctl.cli.output import Format, emit_object, emit_rows
from collabctl.cli.state import current_state
from collabctl.cli.tables import BELOW, KEY, TEXT, Column, day, minute
from collabctl.domain.keys import COLLABORATION_KEYS, EVENT_KEYS

commands = command_group()

#: The columns of ``list`` as a table, most important first; the machine formats carry
#: every key. On a narrow terminal the highest priority number goes first.
LIST_TABLE_COLUMNS = (
    Column("customer_number", "customer", KEY, 1),
    Column("company_name", "company", TEXT, 2),
    Column("service", "service", KEY, 1),
    Column("office_org_number", "office org", KEY, 2),
    Column("office_name", "office", TEXT, 6),
    Column("state", "state", KEY, 1),
    Column("started_at", "started", KEY, 5, day),
    Column("ended_at", "ended", KEY, 4, day),
    Column("outcome", "outcome", KEY, 3),
    # a scheduled end (end --at): the day it is due, in UTC
    Column("ends_at", "ends", KEY, 4, day),
)

#: ``limit`` of ``list`` and ``log``.
LimitOption = Annotated[
    int | None,
    typer.Option("--limit", "-n", metavar="N", help="Show at most N rows.", show_default=False),
]


class ListSort(StrEnum):
    customer = "customer"
    started = "started"
    ended = "ended"


@commands.command("list")
@handles_errors
def list_(
    customer: CustomerFilter = None,
    office: Annotated[
        str | None, typer.Option("--office", help="Only this office (org number).")
    ] = None,
    service: ServiceFilter = None,
    state_filter: Annotated[
        str, typer.Option("--state", help="active, ended or all.", metavar="active|ended|all")
    ] = "active",
    search: Annotated[
        str | None,
        typer.Option(
            "--search",
            metavar="TEXT",
            help="Only companies whose customer number or org number is TEXT, "
            "or whose name contains it (any case).",
            show_default=False,
        ),
    ] = None,
    sort: Annotated[
        ListSort,
        typer.Option(
            "--sort",
            help="Order: by customer number, by start or by end (still active last).",
        ),
    ] = ListSort.customer,
    limit: LimitOption = None,
    fields: FieldsOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """List collaborations (active ones unless --state says otherwise).

    Keys (json, jsonl, csv): customer_number, company_name, service,
    office_org_number, office_name, state, started_at, ended_at, ended_by,
    outcome, reason. Times are UTC, ISO 8601.

    The table fits the terminal: on a narrow one the columns of least use are
    left out (it says which); in a pipe it is plain aligned columns, one row a
    line. Long output on a terminal goes through a pager.

    \b
    Examples:
      collabctl list --customer 1001 --state all
      collabctl list --search "kund ab" --state all
      collabctl list --state ended --sort ended --limit 20
      collabctl list --office 556677-8899 --format csv > collaborations.csv
    """
    from collabctl.operations.views import list_collaborations

    state = current_state()
    with state.operations.querying(
        list_collaborations,
        customer=customer,
        office=office,
        service=service,
        state=state_filter,
        search=search,
        sort=sort.value,
        limit=limit,
    ) as rows:
        emit_rows(
            state.env,
            rows,
            fmt,
            COLLABORATION_KEYS,
            table_columns=LIST_TABLE_COLUMNS,
            empty="no collaborations match",
            page=True,
        )


@commands.command()
@handles_errors
def show(
    customer: Annotated[
        str,
        typer.Argument(
            metavar="CUSTOMER",
            help="Customer number, or the company's org number (NNNNNN-NNNN).",
        ),
    ],
    fields: FieldsOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Show one company: users, subscriptions, collaborations, and who can read or write what now.

    CUSTOMER is a customer number or the company's org number.

    Keys (json): customer_number, org_number, name, main_contact, users
    (email, name, role, main_contact, services), subscriptions (service, state,
    records), collaborations, offices (org_number, name, email: where their
    notifications go, or null), access (service, party, access: read-write|read|none).

    The access table answers "who can work in this service now". Active service:
    the company reads and writes, and so does the office while its collaboration
    is active. Read-only (deactivated): the company reads, and so does a former
    office while it has another active collaboration with the company. No-access
    and deleted: nobody.

    \b
    Examples:
      collabctl show 1001
      collabctl show 556036-0793
    """
    from collabctl.cli.render import render_company
    from collabctl.operations.views import show_company

    state = current_state()
    company = state.operations.query(show_company, customer)
    emit_object(state.env, company, fmt, render_company, page=True)


@commands.command()
@handles_errors
def log(
    customer: CustomerFilter = None,
    service: ServiceFilter = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", metavar="TIME", help="Only events at or after TIME (ISO 8601, UTC)."
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until", metavar="TIME", help="Only events at or before TIME (ISO 8601, UTC)."
        ),
    ] = None,
    action: Annotated[
        str | None,
        typer.Option(
            "--action",
            metavar="ACTION",
            help="Only events of this kind, e.g. end, start, import, export, add-user.",
        ),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option("--actor", metavar="NAME", help="Only events recorded with this actor."),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            "-n",
            metavar="N",
            help="Only the newest N events.",
            show_default=False,
        ),
    ] = None,
    reverse: Annotated[
        bool,
        typer.Option("--reverse", help="Oldest first (with --limit: the newest N, oldest first)."),
    ] = False,
    verify: Annotated[bool, typer.Option("--verify", help=verify_and_grant.VERIFY_HELP)] = False,
    anchor: Annotated[
        str | None, typer.Option("--anchor", metavar="DIGEST", help=verify_and_grant.ANCHOR_HELP)
    ] = None,
    fields: FieldsOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Show the audit log, newest first (as git log does).

    One event per change: start, end, user added, main contact or role changed,
    import, export, restore. details holds the rest: before and after, outcome,
    checklist state, confirmed and forced items, reason, backup path. The table
    shows it as key: value lines under each event; the machine formats as JSON.

    Keys: id, at, actor, db_user, scope, action, customer_number, service,
    details. db_user is who the database says wrote the event: the PostgreSQL
    role (set by the database, as are id and at), or on SQLite the OS account
    of the process's user id; actor is what collabctl was told.

    --verify checks the hash chains instead (keys: events, chains, intact,
    digest, anchor); keep the digest it prints and give it back with --anchor.

    \b
    Examples:
      collabctl log --limit 20
      collabctl log --customer 1003 --since 2024-01-01 --format jsonl
      collabctl log --action end --actor anna --reverse
    """
    from collabctl.operations.views import audit_events

    state = current_state()
    if verify:
        given = {
            "--customer": customer,
            "--service": service,
            "--since": since,
            "--until": until,
            "--action": action,
            "--actor": actor,
            "--limit": limit,
            "--reverse": reverse or None,
        }
        verify_and_grant.verify(
            state, anchor, fmt, filtered=[k for k, v in given.items() if v is not None]
        )
        return
    if anchor is not None:
        raise verify_and_grant.anchor_without_verify()
    with state.operations.querying(
        audit_events,
        customer=customer,
        service=service,
        since=since,
        until=until,
        action=action,
        actor=actor,
        limit=limit,
        reverse=reverse,
    ) as events:
        emit_rows(
            state.env,
            events,
            fmt,
            EVENT_KEYS,
            table_columns=_log_columns(),
            empty="no events match",
            page=True,
        )


def _log_columns() -> tuple[Column, ...]:
    """The columns of ``log`` as a table: the details under each event, as key: value lines."""
    from collabctl.cli.render import details_lines

    return (
        Column("id", kind=KEY, priority=4),
        Column("at", kind=KEY, priority=1, show=minute),
        Column("actor", kind=KEY, priority=2),
        Column("db_user", "db user", KEY, 6),
        Column("scope", kind=KEY, priority=5),
        Column("action", kind=KEY, priority=1),
        Column("customer_number", "customer", KEY, 1),
        Column("service", kind=KEY, priority=3),
        Column("details", kind=BELOW, show=details_lines),
    )
