"""Scheduled ends: ``schedule list``, ``schedule cancel`` and ``schedule run``
(``end --at`` schedules them)."""

from typing import Annotated, Any

import typer

from collabctl.cli.commands import command_group
from collabctl.cli.errors import handles_errors
from collabctl.cli.fields import check_fields
from collabctl.cli.options import (
    CustomerFilter,
    FieldsOption,
    FormatOption,
    OptionalServiceOption,
)
from collabctl.cli.output import Format, dumps, emit_object, emit_rows, message
from collabctl.cli.state import current_state
from collabctl.domain.errors import EXIT_OK, EXIT_PARTIAL, UsageError
from collabctl.domain.keys import SCHEDULE_KEYS
from collabctl.domain.wording import counted

commands = command_group()
schedule = command_group(
    help="Scheduled ends: list them, cancel one, and perform those that are due.\n\n"
    "`collabctl end ... --at DATE` schedules an end; `collabctl schedule run`, from cron "
    "or a systemd timer, performs it when it is due.\n\n"
    "\b\nExamples:\n  collabctl schedule list --due\n  collabctl schedule cancel 12\n"
    "  collabctl schedule run",
    no_args_is_help=True,
)
commands.add_typer(schedule, name="schedule")

LIST_TABLE_COLUMNS = (
    "id",
    "customer_number",
    "service",
    "outcome",
    "by",
    "due_at",
    "state",
    "error",
)
RUN_KEYS = ("id", "customer_number", "service", "status", "outcome", "error")


@schedule.command("list")
@handles_errors
def schedule_list(
    customer: CustomerFilter = None,
    office: Annotated[
        str | None,
        typer.Option("--office", metavar="ORG_NUMBER", help="Only this office's."),
    ] = None,
    state_filter: Annotated[
        str,
        typer.Option(
            "--state",
            help="scheduled (the default), done, failed, cancelled, or all.",
            metavar="scheduled|done|failed|cancelled|all",
        ),
    ] = "scheduled",
    due: Annotated[
        bool, typer.Option("--due", help="Only scheduled ends that are due now (not run yet).")
    ] = False,
    fields: FieldsOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """List scheduled ends, the soonest due first.

    Keys (json, jsonl, csv): id, customer_number, service, office_org_number,
    outcome, by, due_at (ISO 8601, UTC), state (scheduled, done, failed,
    cancelled), scheduled_by, error (code, message, hint: why a run could not
    end it).

    \b
    Examples:
      collabctl schedule list
      collabctl schedule list --due
      collabctl schedule list --customer 1001 --state all --format json
    """
    from datetime import UTC, datetime

    from collabctl.operations.scheduling import list_schedules

    state = current_state()
    rows = state.operations.read(
        list_schedules,
        customer=customer,
        office=office,
        state=state_filter,
        due=due,
        now=datetime.now(UTC),
    )
    if fmt is Format.table:
        rows = [{**row, "error": _reason(row["error"])} for row in rows]
    emit_rows(
        state.env,
        rows,
        fmt,
        SCHEDULE_KEYS,
        table_columns=LIST_TABLE_COLUMNS,
        empty="no scheduled ends match",
    )


@schedule.command("cancel")
@handles_errors
def schedule_cancel(
    target: Annotated[
        str,
        typer.Argument(
            metavar="ID|CUSTOMER",
            help="The scheduled end's id, or a customer number with --service.",
            show_default=False,
        ),
    ],
    service: OptionalServiceOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be cancelled; change nothing.")
    ] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Cancel a scheduled end: the collaboration goes on.

    Name it by its id (`collabctl schedule list`), or by customer number and
    --service. Only a scheduled end that has not been performed can be
    cancelled (conflict otherwise). Both parties are notified.

    Keys (json): as in `collabctl schedule list`, state cancelled.

    \b
    Examples:
      collabctl schedule cancel 12
      collabctl schedule cancel 1001 --service eekonomi --dry-run
    """
    from collabctl.domain.errors import InvalidInput
    from collabctl.operations.scheduling import cancel_schedule

    state = current_state()
    schedule_id: int | None = None
    customer: str | None = None
    if service is None:
        if not target.isascii() or not target.isdigit() or not 0 < int(target) < 2**31:
            raise InvalidInput(
                f"ID: {target!r} is not the id of a scheduled end",
                "name it by id (collabctl schedule list shows them), or by CUSTOMER --service S",
            )
        schedule_id = int(target)
    else:
        customer = target

    which: dict[str, Any] = {"schedule_id": schedule_id, "customer": customer, "service": service}
    if dry_run:  # what it would cancel, read
        result = state.operations.read(cancel_schedule, dry_run=True, **which)
    else:
        result = state.operations.write(cancel_schedule, **which)
    emit_object(state.env, result, fmt)
    what = f"schedule {result['id']}: the end of {result['customer_number']} {result['service']}"
    if dry_run:
        message(state.env, f"would cancel {what} due {result['due_at']}; nothing changed")
    else:
        message(state.env, f"cancelled {what} due {result['due_at']}")


@schedule.command("run")
@handles_errors
def schedule_run(fields: FieldsOption = None, fmt: FormatOption = Format.table) -> None:
    """Perform every scheduled end that is due by this machine's clock.

    Each end is performed exactly as `collabctl end` would: the same checks
    (main contact and checklist again), the backup before a delete, the audit
    event (naming the schedule id) and the notifications. Each on its own: one
    whose rule no longer holds is marked failed with the error, the others go on.
    Runs at the same time never perform one end twice; a run stopped at any
    moment leaves each end done or still due, and the next run completes it.
    Run it from cron or a systemd timer (docs/deploy.md).

    Exit 0 when every due end was done, 4 when some failed.

    Keys (jsonl, json, csv): id, customer_number, service, status (done,
    failed), outcome, error.

    \b
    Examples:
      collabctl schedule run
      collabctl schedule run --format jsonl
    """
    from datetime import UTC, datetime

    from collabctl.config import backup_dir
    from collabctl.operations.schedule_run import run_due

    state = current_state()
    if state.env.fields is not None:  # before anything is performed
        check_fields(state.env.fields, RUN_KEYS)
    if state.party is not None:
        raise UsageError(
            "schedule run performs the ends every party scheduled: run it without --as "
            "(or COLLABCTL_AS)",
            "collabctl schedule run",
        )
    ops = state.operations
    ctx = ops.context()
    counts = {"done": 0, "failed": 0}

    batches = run_due(ops.database, ctx, now=datetime.now(UTC), backup_dir=backup_dir())
    if fmt is Format.jsonl:  # streamed, each batch once it is committed
        out = state.env.stdout
        chosen = state.env.fields
        for batch in batches:
            for result in batch:
                counts[result.status] += 1
                if chosen is None:
                    out.write(_jsonl_line(result))
                else:
                    row = result.to_dict()
                    out.write(dumps({key: row[key] for key in chosen}) + "\n")
            out.flush()
        if not any(counts.values()):
            message(state.env, "no scheduled end is due")
    else:

        def rows() -> Any:
            for batch in batches:
                for result in batch:
                    counts[result.status] += 1
                    row = result.to_dict()
                    if fmt is Format.table:
                        row["error"] = _reason(row["error"])
                    yield row

        emit_rows(state.env, rows(), fmt, RUN_KEYS, empty="no scheduled end is due")
    total = counts["done"] + counts["failed"]
    message(
        state.env,
        f"{counted(total, 'scheduled end')} due: {counts['done']} done, {counts['failed']} failed",
    )
    if counts["failed"]:
        message(
            state.env,
            "hint: see why: collabctl schedule list --state failed; fix it, then end those "
            "collaborations with `collabctl end` or schedule them again",
        )
        raise typer.Exit(EXIT_PARTIAL)
    raise typer.Exit(EXIT_OK)


def _reason(error: dict[str, Any] | None) -> str | None:
    """A failed end's error as people read it in a table: its code and message (the hint
    and the whole object are in the machine formats)."""
    return None if error is None else f"{error['code']}: {error['message']}"


def _jsonl_line(result: Any) -> str:
    """A run's result as its line of JSON Lines: ``dumps(result.to_dict())`` and a newline,
    from a template when it went through (the same text; a run may have thousands)."""
    from collabctl.domain.json_text import raw_string as string
    from collabctl.domain.json_text import safe

    if result.error is not None or result.outcome is None:
        return dumps(result.to_dict()) + "\n"
    return safe(
        f'{{"id":{result.id},"customer_number":{string(result.customer_number)},'
        f'"service":{string(result.service)},"status":{string(result.status)},'
        f'"outcome":{string(result.outcome)},"error":null}}\n'
    )
