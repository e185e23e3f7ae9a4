"""The ``collabctl`` command line.

Each command parses its options, asks the operations layer to do the work, and
renders the result. Heavy libraries (SQLAlchemy, Alembic, questionary) are
imported inside the commands, so ``--help`` and ``--version`` stay fast.
"""

# No `from __future__ import annotations`: Typer reads every command's signature at
# each start, and string annotations would be compiled and evaluated then (start-up
# time, docs/performance.md). Names imported only for type checking stay quoted.

import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from collabctl import __version__
from collabctl.cli.env import Environment
from collabctl.cli.errors import guard_main, handles_errors
from collabctl.cli.options import FormatOption
from collabctl.cli.output import Format, emit_error, emit_object, emit_rows, message
from collabctl.cli.state import State, begin, current_state
from collabctl.domain.errors import EXIT_PARTIAL, CollabError, UsageError
from collabctl.domain.keys import COLLABORATION_KEYS, EVENT_KEYS

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from collabctl.operations.context import Context

HELP = """\
End, start and audit collaborations between companies and their accounting offices.

A company and its accounting office collaborate per service (eekonomi,
fakturering, lon, utlagg). `collabctl end` ends one collaboration, checking the
rules first (main contact, allowed outcome, checklist); `end --from` ends many.

Data lives in a local SQLite file unless --database-url points elsewhere.
Start with `collabctl demo` to load example data.

Exit codes: 0 done, 1 refused by a rule, 2 usage error or invalid input,
3 database or configuration problem, 4 bulk run with failed items, 130 interrupted.

\b
Examples:
  collabctl demo && collabctl list
  collabctl show 1001
  collabctl end 1001 -s eekonomi -o continue --by customer --dry-run
  collabctl end                  (interactive, in a terminal)

Run `collabctl COMMAND --help` for the details of a command.
"""

app = typer.Typer(
    name="collabctl",
    help=HELP,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
db_app = typer.Typer(
    help="Schema migrations: see and upgrade the database schema.", no_args_is_help=True
)
app.add_typer(db_app, name="db")


# -- global options -------------------------------------------------------------------


def _version(value: bool) -> None:
    if value:
        print(f"collabctl {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            metavar="URL",
            help="Database to use: sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DB. "
            "Default: COLLABCTL_DATABASE_URL, then database_url in config.toml, "
            "then a SQLite file in the user data directory.",
            show_default=False,
        ),
    ] = None,
    party: Annotated[
        str | None,
        typer.Option(
            "--as",
            envvar="COLLABCTL_AS",
            metavar="PARTY",
            help="Act for one party: office:ORG_NUMBER or customer:CUSTOMER_NUMBER. "
            "Without it collabctl acts as a support agent, for all parties.",
            show_default=False,
        ),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            "--actor",
            envvar="COLLABCTL_ACTOR",
            metavar="NAME",
            help="Name recorded in the audit log. Default: your login name.",
            show_default=False,
        ),
    ] = None,
    no_input: Annotated[
        bool,
        typer.Option(
            "--no-input",
            envvar="COLLABCTL_NO_INPUT",
            help="Never prompt; fail with exit 2 naming the missing flag instead.",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    if isinstance(ctx.obj, Environment):  # given by the caller, e.g. a test
        env = ctx.obj
        env.no_input = env.no_input or no_input
    else:
        env = Environment.detect(no_input=no_input)
    if actor is None:
        try:
            actor = getpass.getuser()
        except (KeyError, OSError):
            actor = "unknown"
    state = ctx.obj = begin(State(env=env, database_url=database_url, party=party, actor=actor))
    ctx.call_on_close(state.close)


# -- demo, import, list, show ---------------------------------------------------------


@app.command()
@handles_errors
def demo(
    force: Annotated[
        bool, typer.Option("--force", help="Load even if the database already has data.")
    ] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Load a small, realistic demo data set and print what to try next.

    Refuses a database that already has data unless --force. Keys (json):
    offices, companies, database.
    """
    from collabctl.operations.demo import (
        COMPANIES,
        NEXT_STEPS,
        OFFICES,
        database_is_empty,
        demo_items,
    )
    from collabctl.operations.importing import import_items

    state = current_state()
    db = state.database()
    with db.session() as session:
        if not force and not database_is_empty(session):
            raise UsageError(
                "the database already has data; demo only loads into an empty database",
                "pass --force to load the demo data anyway (it is upserted over what is there)",
            )
        ctx = state.context(session)
        results = list(import_items(session, ctx, demo_items()))
    failed = [r for r in results if r.error]
    if failed:  # the demo data is ours: a failure here is a bug, not bad input
        raise failed[0].error  # type: ignore[misc]
    summary = {"offices": len(OFFICES), "companies": len(COMPANIES), "database": db.display_url}
    if fmt is Format.table:
        message(state.env, NEXT_STEPS.format(**summary).rstrip())
    else:
        emit_object(state.env, summary, fmt, lambda c, o: None)


IMPORT_HELP = """\
Load offices, companies, users, subscriptions, collaborations and records.

FILE is a JSON document or JSON Lines, or - for standard input:

\b
  {"offices": [{"org_number": "556677-8899", "name": "Exempelbyrån AB"}],
   "companies": [{"customer_number": "1001", "org_number": "556036-0793",
                  "name": "Kund AB", "users": [...], "subscriptions": [...],
                  "collaborations": [...], "records": [...]}],
   "services": [{"code": "tid", "name": "Tidrapportering",
                 "outcomes": ["continue"], "checklist": []}]}

JSON Lines: one {"office": {...}}, {"company": {...}} or {"service": {...}} a line.

Records are upserted by key (office: org_number, company: customer_number, user: e-mail,
subscription: service, collaboration: service + office + started_at, record: service + id),
so importing the same file twice changes nothing. Each item is checked in full first: a bad
item is reported (error[invalid-input] naming the line and field) and nothing of it is written;
the other items are imported. Exit 0 when every item was imported, 4 when some failed,
and the failing item's exit code (2 for invalid input) when all failed.

Output: a summary on stderr. Keys with --format jsonl, one line per item: item, key,
status (changed|unchanged|failed), changes, error; with json or csv: changed,
unchanged, failed, items. A backup or an export file imports as it is, which is how
deleted service data is restored.
"""


@app.command("import", help=IMPORT_HELP)
@handles_errors
def import_(
    file: Annotated[
        str, typer.Argument(metavar="FILE|-", help="JSON or JSON Lines file, - for stdin.")
    ],
    fmt: FormatOption = Format.table,
) -> None:
    from collabctl.operations.importing import import_items
    from collabctl.operations.jsonstream import iter_items

    state = current_state()
    env = state.env
    db = state.database()
    stream = env.open_input(file)
    counts = {"changed": 0, "unchanged": 0, "failed": 0}
    first_error: CollabError | None = None
    try:
        with db.session() as session:
            ctx = state.context(session)
            try:
                for result in import_items(session, ctx, iter_items(stream)):
                    counts[result.status] += 1
                    row = {
                        "item": result.kind,
                        "key": result.key,
                        "status": result.status,
                        "changes": result.changes,
                        "error": result.error.to_dict() if result.error else None,
                    }
                    if result.error is not None:
                        first_error = first_error or result.error
                        if fmt is not Format.jsonl:
                            emit_error(
                                env,
                                result.error.code,
                                result.error.message,
                                result.error.hint,
                                None,
                            )
                    if fmt is Format.jsonl:
                        env.stdout.write(_dumps(row) + "\n")
            except CollabError as exc:
                # the input itself cannot be read further: keep what was committed, say where it stopped
                session.commit()
                counts["failed"] += 1
                first_error = first_error or exc
                emit_error(env, exc.code, exc.message, exc.hint, None)
    finally:
        if stream is not env.stdin:
            stream.close()
    total = sum(counts.values())
    summary = f"imported {total} items: {counts['changed']} changed, {counts['unchanged']} unchanged, {counts['failed']} failed"
    message(env, summary)
    if fmt in (Format.json, Format.csv):
        emit_object(env, {**counts, "items": total}, fmt, lambda c, o: None)
    if first_error is not None:
        raise typer.Exit(first_error.exit_code if counts["failed"] == total else EXIT_PARTIAL)


def _dumps(value: Any) -> str:
    from collabctl.cli.output import dumps

    return dumps(value)


@app.command("list")
@handles_errors
def list_(
    customer: Annotated[
        str | None, typer.Option("--customer", help="Only this customer number.")
    ] = None,
    office: Annotated[
        str | None, typer.Option("--office", help="Only this office (org number).")
    ] = None,
    service: Annotated[
        str | None, typer.Option("--service", help="Only this service code.")
    ] = None,
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
    db = state.database()
    with db.session(write=False) as session:
        rows = list_collaborations(
            session,
            state.context(session),
            customer=customer,
            office=office,
            service=service,
            state=state_filter,
        )
        emit_rows(
            state.env,
            rows,
            fmt,
            COLLABORATION_KEYS,
            table_columns=(
                "customer_number",
                "company_name",
                "service",
                "office_name",
                "state",
                "started_at",
                "ended_at",
                "outcome",
            ),
            empty="no collaborations match",
        )


@app.command()
@handles_errors
def show(
    customer: Annotated[str, typer.Argument(metavar="CUSTOMER", help="Customer number.")],
    fmt: FormatOption = Format.table,
) -> None:
    """Show one company: users, subscriptions, collaborations, and who can read or write what now.

    Keys (json): customer_number, org_number, name, main_contact, users
    (email, name, role, main_contact, services), subscriptions (service, state,
    records), collaborations, access (service, party, access: read-write|read|none).

    The access table answers "who can work in this service now". Active service:
    the company reads and writes, and so does the office while its collaboration
    is active. Read-only (deactivated): the company reads, and so does a former
    office while it has another active collaboration with the company. No-access
    and deleted: nobody.
    """
    from collabctl.cli.render import render_company
    from collabctl.operations.views import show_company

    state = current_state()
    db = state.database()
    with db.session(write=False) as session:
        company = show_company(session, state.context(session), customer)
    emit_object(state.env, company, fmt, render_company)


# -- changes --------------------------------------------------------------------------


@app.command()
@handles_errors
def start(
    customer: Annotated[str, typer.Argument(metavar="CUSTOMER", help="Customer number.")],
    service: Annotated[str, typer.Option("--service", "-s", help="Service code, e.g. eekonomi.")],
    office: Annotated[str, typer.Option("--office", help="The accounting office's org number.")],
    fmt: FormatOption = Format.table,
) -> None:
    """Start a collaboration between a company and an office for one service.

    Creates the subscription if the company has none; a read-only or no-access
    subscription becomes active again; a deleted one starts fresh and empty.
    Refused with duplicate when the service already has an active collaboration.

    Keys (json): the collaboration, as in `collabctl list`.
    """
    from collabctl.cli.render import render_collaboration
    from collabctl.domain import validation
    from collabctl.operations.parties import start_collaboration

    number = validation.customer_number(customer, "CUSTOMER")
    org = validation.org_number(office, "--office")
    state = current_state()
    result = state.transact(lambda s, c: start_collaboration(s, c, number, service, org))
    emit_object(state.env, result, fmt, render_collaboration)


@app.command("set-main-contact")
@handles_errors
def set_main_contact_cmd(
    customer: Annotated[str, typer.Argument(metavar="CUSTOMER", help="Customer number.")],
    user: Annotated[
        str | None, typer.Option("--user", "-u", help="E-mail of the user to make main contact.")
    ] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Make a user the company's main contact.

    A user with role `user` is promoted to administrator; an auditor cannot be
    main contact. The previous main contact stays administrator. Without --user,
    pick the user from a list (in a terminal).

    Keys (json): email, name, role, main_contact, services, changed, promoted,
    previous_main_contact.
    """
    from collabctl.cli.render import render_user
    from collabctl.domain import validation
    from collabctl.operations.parties import set_main_contact

    number = validation.customer_number(customer, "CUSTOMER")
    state = current_state()
    if user is None:
        if not state.env.can_prompt:
            raise UsageError(
                "which user? --user is required",
                f"collabctl set-main-contact {number} --user EMAIL",
            )
        from collabctl.cli import interactive

        db = state.database()
        with db.session(write=False) as session:
            from collabctl.operations.companies import company_users, get_company
            from collabctl.operations.parties import require_party_to_company

            get_company(session, number)
            # a scope sees the users only of a company it may change
            require_party_to_company(session, state.context(session), number)
            users = company_users(session, number)
        user = interactive.pick_main_contact(users)
    email = user
    result = state.transact(lambda s, c: set_main_contact(s, c, number, email))
    emit_object(state.env, result, fmt, render_user)


@app.command("add-user")
@handles_errors
def add_user_cmd(
    customer: Annotated[str, typer.Argument(metavar="CUSTOMER", help="Customer number.")],
    email: Annotated[
        str, typer.Option("--email", "-e", help="The user's e-mail (unique in the company).")
    ],
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="Full name. Default: from the e-mail.")
    ] = None,
    role: Annotated[
        str | None,
        typer.Option(
            "--role", "-r", help="administrator, user or auditor. Default: user.", metavar="ROLE"
        ),
    ] = None,
    services: Annotated[
        list[str] | None,
        typer.Option(
            "--service", "-s", metavar="SERVICE", help="Give access to a service (repeatable)."
        ),
    ] = None,
    main_contact: Annotated[
        bool, typer.Option("--main-contact", help="Make the user administrator and main contact.")
    ] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Create a user of a company; --main-contact makes them administrator and main contact.

    Use it when the person who should be main contact is not yet a user, or to
    give the customer a user with access to a service (e.g. --service lon before
    a payroll handover).

    Keys (json): email, name, role, main_contact, services, promoted,
    previous_main_contact.
    """
    from collabctl.cli.render import render_user
    from collabctl.domain import validation
    from collabctl.operations.parties import add_user

    number = validation.customer_number(customer, "CUSTOMER")
    state = current_state()
    result = state.transact(
        lambda s, c: add_user(s, c, number, email, name, role, services or [], main_contact)
    )
    emit_object(state.env, result, fmt, render_user)


@app.command()
@handles_errors
def export(
    customer: Annotated[str, typer.Argument(metavar="CUSTOMER", help="Customer number.")],
    service: Annotated[
        str | None, typer.Option("--service", "-s", help="Only this service.")
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="File to write (private to you), - for stdout. "
            "Default: collabctl-export-CUSTOMER-SERVICE-TIME.json here.",
        ),
    ] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Write a company's data (one service or all) to a JSON file, recorded in the audit log.

    The file is in the import format (`collabctl import FILE` restores it). An
    export of a service made after the last change to its records meets the
    `backup-handed-over` checklist item.

    Keys (json): customer_number, path, services, records (how many).
    """
    import json

    from collabctl.domain import validation
    from collabctl.operations.context import now_iso
    from collabctl.operations.ending import write_private_json
    from collabctl.operations.exporting import default_export_path, export_company

    number = validation.customer_number(customer, "CUSTOMER")
    state = current_state()
    to_stdout = output == "-"
    path = (
        None
        if to_stdout
        else Path(output)
        if output
        else default_export_path(number, service, now_iso())
    )
    destination = "-" if path is None else str(path.resolve())

    def work(session: "Session", ctx: "Context") -> dict[str, Any]:
        document, details = export_company(session, ctx, number, service, destination)
        if path is None:
            state.env.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
        else:
            try:
                write_private_json(path, document)
            except OSError as exc:
                raise UsageError(
                    f"cannot write {path}: {exc.strerror}", "choose another path with -o"
                ) from None
        return details

    details = state.transact(work)
    if path is not None:
        summary = {"customer_number": number, **details}
        if fmt is Format.table:
            message(
                state.env,
                f"exported {details['records']} records of {', '.join(details['services']) or 'no service'} to {destination}",
            )
        else:
            emit_object(state.env, summary, fmt, lambda c, o: None)


@app.command()
@handles_errors
def log(
    customer: Annotated[
        str | None, typer.Option("--customer", help="Only this customer number.")
    ] = None,
    service: Annotated[str | None, typer.Option("--service", help="Only this service.")] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only events at or after this time (ISO 8601, UTC)."),
    ] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Show the audit log, oldest first.

    One event per change: start, end, user added, main contact or role changed,
    import, export. details holds the rest as JSON: before and after, outcome,
    checklist state, confirmed and forced items, reason, backup path.

    Keys: id, at, actor, scope, action, customer_number, service, details.

    Example: collabctl log --customer 1003 --since 2024-01-01 --format jsonl
    """
    from collabctl.operations.views import audit_events

    state = current_state()
    db = state.database()
    with db.session(write=False) as session:
        events = audit_events(
            session, state.context(session), customer=customer, service=service, since=since
        )
        emit_rows(state.env, events, fmt, EVENT_KEYS, empty="no events match")


# -- end ------------------------------------------------------------------------------

END_HELP = """\
End a collaboration: the company keeps or loses the service as the outcome says.

Checked in this order, all before anything changes: an active collaboration
exists (not-found, already-ended); the acting party is part of it (not-a-party);
the company has a main contact (main-contact-missing); the outcome is allowed
for the service (outcome-not-allowed); the service's checklist is done
(checklist-incomplete, unless --force); you confirmed (prompt, or --yes).

Outcomes: continue (company keeps working alone), deactivate (read-only),
delete (all data deleted after a private backup file), handover (payroll: no
access; continues from the handed-over backup).

Checklist: --confirm ITEM attests an item that only a person can know (e.g.
data-synchronised, backup-handed-over); items computed from the data (no draft
expense reports or outlays, a user with access) are met by fixing the data.
--force ends despite unmet items and records them as forced in the audit log.

delete writes the backup, readable by you only, to backups/ in the user data
directory (COLLABCTL_HOME/backups when set) and prints its path; --no-backup
skips it. `collabctl import BACKUP` restores the data.

In a terminal, missing arguments are asked for. Otherwise they are required,
and so is --yes (not for --dry-run).

Keys (json): the ended collaboration (as in `collabctl list`) plus
subscription_state, forced, backup_path, records_deleted. With --dry-run:
customer_number, service, office_org_number, ended_by, outcome, ok, checks
(check, ok, message, error) and checklist (item, met, by, detail).

With --from FILE|-, end many: one customer number or JSON object a line
({"customer_number", "service", "outcome", "by", "reason", "confirm", "force"});
the flags fill in what a line leaves out. One result per line (--format jsonl:
line, customer_number, service, status ended|already-ended|would-end|failed,
outcome, error). Exit 0 when every line ended or had already ended, 4 otherwise.

\b
Examples:
  collabctl end 1001 -s eekonomi -o continue --by customer --dry-run
  collabctl end 1001 -s eekonomi -o continue --by customer --yes
  collabctl end 1005 -s lon -o handover --by office -c data-synchronised -y
  collabctl end --from customers.txt -s utlagg -o continue --by office --yes
  collabctl end                  (interactive: asks for what is missing)
"""


@app.command(help=END_HELP)
@handles_errors
def end(
    customer: Annotated[
        str | None,
        typer.Argument(metavar="CUSTOMER", help="Customer number.", show_default=False),
    ] = None,
    service: Annotated[str | None, typer.Option("--service", "-s", help="Service code.")] = None,
    outcome: Annotated[
        str | None,
        typer.Option(
            "--outcome",
            "-o",
            help="What happens afterwards: continue, deactivate, delete, handover.",
        ),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            help="On whose behalf: customer or office (implied by --as).",
            metavar="customer|office",
        ),
    ] = None,
    confirm: Annotated[
        list[str] | None,
        typer.Option(
            "--confirm", "-c", help="Attest a checklist item as done (repeatable).", metavar="ITEM"
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="End even if checklist items are not met (recorded).")
    ] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why; recorded with the collaboration.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show every check; change nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    no_backup: Annotated[
        bool, typer.Option("--no-backup", help="Delete without writing a backup file first.")
    ] = False,
    from_file: Annotated[
        str | None,
        typer.Option("--from", metavar="FILE|-", help="End many: one item a line, - for stdin."),
    ] = None,
    fmt: FormatOption = Format.table,
) -> None:
    from collabctl.cli import ending

    state = current_state()
    options = ending.EndOptions(
        customer=customer,
        service=service,
        outcome=outcome,
        by=by,
        confirm=tuple(confirm or ()),
        force=force,
        reason=reason,
        dry_run=dry_run,
        yes=yes,
        backup=not no_backup,
    )
    if from_file is not None:
        if customer is not None:
            raise UsageError(
                "give either CUSTOMER or --from, not both", "collabctl end --from FILE|- [flags]"
            )
        code = ending.end_bulk(state, options, from_file, fmt)
        raise typer.Exit(code)
    ending.end_one(state, options, fmt)


# -- doctor, db -----------------------------------------------------------------------


@app.command()
@handles_errors
def doctor(fmt: FormatOption = Format.table) -> None:
    """Smoke check: configuration, database reachable, schema current, a write (rolled back).

    Exit 0 when all is well, 3 otherwise. Safe to run from CI: it changes no
    data (the test write is rolled back; the embedded database is created on
    first use, as by any command).

    Keys: check, ok, detail (one row per check).
    """
    from collabctl.cli.doctor import run_checks

    state = current_state()
    checks = run_checks(state)
    emit_rows(state.env, iter(checks), fmt, ("check", "ok", "detail"))
    if not all(c["ok"] for c in checks):
        raise typer.Exit(3)


@db_app.command("upgrade")
@handles_errors
def db_upgrade(fmt: FormatOption = Format.table) -> None:
    """Upgrade the database schema to the newest revision (safe to repeat).

    The embedded SQLite database is upgraded on first use; a shared database
    is not, and commands fail with schema-outdated until this is run.

    Keys (json): database, before, after, head.
    """
    from collabctl.store.database import HEAD_REVISION

    state = current_state()
    db = state.database(ensure_schema=False)
    before = db.upgrade()  # read under the migration lock: right also when upgrades race
    result = {
        "database": db.display_url,
        "before": before,
        "after": db.current_revision(),
        "head": HEAD_REVISION,
    }
    if fmt is Format.table:
        if before == result["after"]:
            message(state.env, f"schema already at {before} (newest): nothing to do")
        else:
            message(state.env, f"schema upgraded from {before or 'empty'} to {result['after']}")
    else:
        emit_object(state.env, result, fmt, lambda c, o: None)


@db_app.command("current")
@handles_errors
def db_current(fmt: FormatOption = Format.table) -> None:
    """Show the database's schema revision and whether it is the newest.

    Keys (json): database, revision, head, current.
    """
    from collabctl.store.database import HEAD_REVISION

    state = current_state()
    db = state.database(ensure_schema=False)
    revision = db.current_revision()
    result = {
        "database": db.display_url,
        "revision": revision,
        "head": HEAD_REVISION,
        "current": revision == HEAD_REVISION,
    }
    if fmt is Format.table:
        status = "current" if result["current"] else "outdated: run `collabctl db upgrade`"
        state.env.stdout.write(f"{revision or 'empty'} (head {HEAD_REVISION}): {status}\n")
    else:
        emit_object(state.env, result, fmt, lambda c, o: None)


def main() -> None:
    """Console entry point."""
    guard_main(app)
