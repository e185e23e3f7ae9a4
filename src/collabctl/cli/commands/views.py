"""Reading: ``list``, ``show``, ``log``."""

from typing import Annotated

import typer

from collabctl.cli import trust
from collabctl.cli.commands import command_group
from collabctl.cli.errors import handles_errors
from collabctl.cli.options import (
    CustomerArgument,
    CustomerFilter,
    FormatOption,
    ServiceFilter,
)
from collabctl.cli.output import Format, emit_object, emit_rows
from collabctl.cli.state import current_state
from collabctl.domain.keys import COLLABORATION_KEYS, EVENT_KEYS

commands = command_group()

#: The columns of ``list`` as a table; the machine formats carry every key.
LIST_TABLE_COLUMNS = (
    "customer_number",
    "company_name",
    "service",
    "office_name",
    "state",
    "started_at",
    "ended_at",
    "outcome",
)


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
    fmt: FormatOption = Format.table,
) -> None:
    """List collaborations (active ones unless --state says otherwise).

    Keys (json, jsonl, csv): customer_number, company_name, service,
    office_org_number, office_name, state, started_at, ended_at, ended_by,
    outcome, reason. Times are UTC, ISO 8601.

    \b
    Examples:
      collabctl list --customer 1001 --state all
      collabctl list --office 556677-8899 --format csv > collaborations.csv
    """
    from collabctl.operations.views import list_collaborations

    state = current_state()
    with state.reading() as (session, ctx):
        rows = list_collaborations(
            session, ctx, customer=customer, office=office, service=service, state=state_filter
        )
        emit_rows(
            state.env,
            rows,
            fmt,
            COLLABORATION_KEYS,
            table_columns=LIST_TABLE_COLUMNS,
            empty="no collaborations match",
        )


@commands.command()
@handles_errors
def show(customer: CustomerArgument, fmt: FormatOption = Format.table) -> None:
    """Show one company: users, subscriptions, collaborations, and who can read or write what now.

    Keys (json): customer_number, org_number, name, main_contact, users
    (email, name, role, main_contact, services), subscriptions (service, state,
    records), collaborations, offices (org_number, name, email: where their
    notifications go, or null), access (service, party, access: read-write|read|none).

    The access table answers "who can work in this service now". Active service:
    the company reads and writes, and so does the office while its collaboration
    is active. Read-only (deactivated): the company reads, and so does a former
    office while it has another active collaboration with the company. No-access
    and deleted: nobody.
    """
    from collabctl.cli.render import render_company
    from collabctl.operations.views import show_company

    state = current_state()
    with state.reading() as (session, ctx):
        company = show_company(session, ctx, customer)
    emit_object(state.env, company, fmt, render_company)


@commands.command()
@handles_errors
def log(
    customer: CustomerFilter = None,
    service: ServiceFilter = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only events at or after this time (ISO 8601, UTC)."),
    ] = None,
    verify: Annotated[bool, typer.Option("--verify", help=trust.VERIFY_HELP)] = False,
    anchor: Annotated[
        str | None, typer.Option("--anchor", metavar="DIGEST", help=trust.ANCHOR_HELP)
    ] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Show the audit log, oldest first.

    One event per change: start, end, user added, main contact or role changed,
    import, export. details holds the rest as JSON: before and after, outcome,
    checklist state, confirmed and forced items, reason, backup path.

    Keys: id, at, actor, db_user, scope, action, customer_number, service,
    details. db_user is who the database says wrote the event: the PostgreSQL
    role, or the OS login on SQLite; actor is what collabctl was told.

    --verify checks the hash chains instead (keys: events, chains, intact,
    digest, anchor); keep the digest it prints and give it back with --anchor.

    Example: collabctl log --customer 1003 --since 2024-01-01 --format jsonl
    """
    from collabctl.operations.views import audit_events

    state = current_state()
    if verify:
        given = {"--customer": customer, "--service": service, "--since": since}
        trust.verify(state, anchor, fmt, filtered=[k for k, v in given.items() if v is not None])
        return
    if anchor is not None:
        raise trust.anchor_without_verify()
    with state.reading() as (session, ctx):
        events = audit_events(session, ctx, customer=customer, service=service, since=since)
        emit_rows(state.env, events, fmt, EVENT_KEYS, empty="no events match")
