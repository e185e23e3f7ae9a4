"""The setup: ``doctor`` and the ``db`` group (schema migrations)."""

from typing import Annotated

import typer

from collabctl.cli import verify_and_grant
from collabctl.cli.commands import command_group
from collabctl.cli.errors import fail, handles_errors
from collabctl.cli.options import FieldsOption, FormatOption
from collabctl.cli.output import Format, emit_object, emit_rows, message
from collabctl.cli.safe_text import visible
from collabctl.cli.state import current_state
from collabctl.domain.errors import EXIT_DATABASE

commands = command_group()
db = command_group(
    help="Schema migrations, and the rights of database roles.\n\n"
    "\b\nExamples:\n  collabctl db current\n  collabctl db upgrade",
    no_args_is_help=True,
)
commands.add_typer(db, name="db")


@commands.command()
@handles_errors
def doctor(fields: FieldsOption = None, fmt: FormatOption = Format.table) -> None:
    """Smoke check: configuration, database reachable, schema current, a write (rolled back).

    Exit 0 when all is well, 3 otherwise. Safe to run from CI: it changes no
    data (the test write is rolled back; the embedded database is created on
    first use, as by any command).

    Keys: check, ok, detail (one row per check).

    \b
    Examples:
      collabctl doctor
      collabctl doctor --format json            (in CI: exit 3 when something is wrong)
    """
    from collabctl.operations.health import check_health

    state = current_state()
    findings = check_health(state.database_url, state.actor)
    emit_rows(state.env, (f.to_dict() for f in findings), fmt, ("check", "ok", "detail"))
    if not all(f.ok for f in findings):
        raise typer.Exit(EXIT_DATABASE)


@db.command("upgrade")
@handles_errors
def db_upgrade(fmt: FormatOption = Format.table) -> None:
    """Upgrade the database schema to the newest revision (safe to repeat).

    The embedded SQLite database is upgraded on first use; a shared database
    is not, and commands fail with schema-outdated until this is run.

    Keys (json): database, before, after, head.

    \b
    Examples:
      collabctl db upgrade
      collabctl --database-url postgresql://admin@db.example/collab db upgrade
    """
    state = current_state()
    result = state.operations.upgrade_schema()
    if fmt is not Format.table:
        emit_object(state.env, result, fmt)
    elif result["before"] == result["after"]:
        message(state.env, f"schema already at {result['before']} (newest): nothing to do")
    else:
        message(
            state.env, f"schema upgraded from {result['before'] or 'empty'} to {result['after']}"
        )


@db.command("grant")
@handles_errors
def db_grant(
    role: Annotated[str, typer.Argument(metavar="ROLE", help="The PostgreSQL role.")],
    agent: Annotated[
        bool, typer.Option("--agent", help="Every command; the audit log append-only.")
    ] = False,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="list, show, log, log --verify, doctor.")
    ] = False,
    apply: Annotated[
        bool, typer.Option("--apply", help="Run the statements (as the tables' owner).")
    ] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Give a PostgreSQL role the rights of an agent or a reader (prints the SQL).

    Prints the GRANT and REVOKE statements that give ROLE exactly these rights
    (run again, or with the other kind, they replace what the role had), or
    runs them with --apply, connected as the owner of collabctl's tables. The
    role must exist. Not for SQLite, which has no roles.

    Keys (json): role, kind, database, schema, owner, applied, statements.

    \b
    Examples:
      collabctl db grant collabctl_agent --agent            (prints the SQL)
      collabctl db grant collabctl_agent --agent --apply
      collabctl db grant collabctl_reader --read-only --apply
    """
    verify_and_grant.grant(current_state(), role, agent, read_only, apply, fmt)


@db.command("current")
@handles_errors
def db_current(fmt: FormatOption = Format.table) -> None:
    """Show the database's schema revision and where it stands against this collabctl.

    Exit 0 when this collabctl can use the schema (current, or older: then run
    `collabctl db upgrade`); 3 with schema-outdated when a newer collabctl
    upgraded it (upgrade collabctl) or its revision is not one this collabctl
    knows.

    Keys (json): database, revision, head, current, state (empty, behind,
    current, newer or unknown), and error (code, message, hint) with exit 3.

    \b
    Examples:
      collabctl db current
      collabctl db current --format json
    """
    state = current_state()
    report = state.operations.schema_report()
    refusal = report.refusal
    if fmt is Format.table:
        state.env.stdout.write(visible(report.line) + "\n")
    else:
        result = report.to_dict()
        if refusal is not None:
            result["error"] = refusal.to_dict()
        emit_object(state.env, result, fmt)
    if refusal is not None:  # said on stdout already in a machine format: stderr only here
        fail(state.env, refusal.code, refusal.message, refusal.hint, None, refusal.exit_code)
