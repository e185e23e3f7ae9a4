"""``end --at``: schedule the end instead of doing it (one, or many with ``--from``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from collabctl.cli.output import Format, emit_object, message
from collabctl.domain.errors import UsageError

if TYPE_CHECKING:
    from collabctl.cli.ending import EndOptions
    from collabctl.cli.state import State
    from collabctl.domain.schedule_dates import EndDay


def end_day_of(state: State, at: str) -> EndDay:
    """The day ``--at`` names, by the clock of this machine, in the configured time zone."""
    from datetime import UTC, datetime

    from collabctl.domain.schedule_dates import DEFAULT_TIMEZONE, end_day, zone

    tz = zone(state.config.get("timezone", DEFAULT_TIMEZONE))
    return end_day(at, now=datetime.now(UTC), tz=tz)


def check_schedule_flags(options: EndOptions) -> None:
    if not options.backup:
        raise UsageError(
            "--no-backup does not apply to a scheduled end: a scheduled delete always writes "
            "its backup first",
            "drop --no-backup, or end now without --at",
        )


def schedule_one(state: State, options: EndOptions, at: str, replace: bool, fmt: Format) -> None:
    """``end CUSTOMER --service S --outcome O --by P --at DATE``: schedule one end."""
    from collabctl.domain import validation
    from collabctl.operations.scheduling import schedule_end

    if options.customer is None:
        raise UsageError(
            "which company? CUSTOMER is required",
            "collabctl end CUSTOMER --service S --outcome O --by customer|office --at DATE --yes",
        )
    if options.service is None:
        raise UsageError(
            "which service? --service is required",
            f"see the active collaborations: collabctl list --customer {options.customer}",
        )
    number = validation.customer_number(options.customer, "CUSTOMER")
    check_schedule_flags(options)
    day = end_day_of(state, at)
    req = options.request(number)
    if options.dry_run:
        result = state.operations.read(
            schedule_end, req, day, replace_existing=replace, dry_run=True
        )
    else:
        if not options.yes and not confirmed(state, number, req.service or "", day):
            raise UsageError(
                "scheduling an end needs confirmation: pass --yes (no terminal to ask in)",
                "check first with --dry-run, then run again with --yes",
            )
        result = state.operations.write(schedule_end, req, day, replace_existing=replace)
    emit_object(state.env, result, fmt, render_scheduled)
    message(state.env, verdict(result, options.dry_run))


def confirmed(state: State, number: str, service: str, day: EndDay) -> bool:
    """Ask at a terminal (False when no one can be asked)."""
    if not state.env.can_prompt:
        return False
    from collabctl.cli.pickers import ask

    return bool(
        ask(
            state.env,
            "confirm",
            f"Schedule the end of the {service} collaboration of {number} "
            f"for the end of {day.ends_on.isoformat()}?",
            default=False,
        )
    )


def verdict(result: dict[str, Any], dry_run: bool) -> str:
    what = (
        f"the {result['service']} collaboration of {result['customer_number']} with office "
        f"{result['office_org_number']} ends at the end of {result['ends_on']} "
        f"(due {result['due_at']})"
    )
    if dry_run:
        return f"would schedule: {what}; nothing changed; run again with --yes"
    moved = f", moved from {result['replaced']}" if result.get("replaced") else ""
    return f"scheduled (schedule {result['id']}{moved}): {what}"


def render_scheduled(console: Any, r: dict[str, Any]) -> None:
    console.print(
        f"{r['customer_number']} {r['service']} (office {r['office_org_number']}): "
        f"ends {r['ends_on']} by the {r['by']}, outcome {r['outcome']}",
        markup=False,
    )
    for item in r.get("to_do") or []:
        console.print(f"to do by then ({item['check']}): {item['message']}", markup=False)
        if item.get("hint"):
            for line in str(item["hint"]).splitlines():
                console.print(f"  {line}", markup=False)


def schedule_bulk(
    state: State, options: EndOptions, source: str, at: str, replace: bool, fmt: Format
) -> int:
    """``end --from FILE|- --at DATE``: schedule one end per input line (the runner of
    ``end --from``); returns the exit code (0, or 4 when some lines failed)."""
    from collabctl.cli.bulk import end_bulk
    from collabctl.operations.scheduling import schedule_item

    check_schedule_flags(options)
    day = end_day_of(state, at)
    return end_bulk(state, options, source, fmt, act=schedule_item(day, replace))


# -- the interactive flow: now, at the end of this month, or on a date ----------------------


def ask_when(state: State) -> str | None:
    """Ask when the collaboration ends: None for now, else what ``--at`` would say."""
    from datetime import UTC, datetime

    from collabctl.cli.pickers import ask, select
    from collabctl.domain.errors import InvalidInput
    from collabctl.domain.schedule_dates import DEFAULT_TIMEZONE, end_day, zone

    tz = zone(state.config.get("timezone", DEFAULT_TIMEZONE))
    now = datetime.now(UTC)
    month_end = end_day("month-end", now=now, tz=tz).ends_on.isoformat()
    choice = select(
        state.env,
        "When does the collaboration end?",
        [
            ("now", "now"),
            (f"at the end of this month ({month_end})", "month-end"),
            ("at the end of another day", "date"),
        ],
    )
    if choice == "now":
        return None
    if choice == "month-end":
        return "month-end"

    def valid_day(text: str) -> bool | str:
        try:
            end_day(text, now=now, tz=tz)
        except InvalidInput as exc:
            return exc.message
        return True

    return str(
        ask(
            state.env,
            "text",
            "The collaboration's last day (YYYY-MM-DD):",
            validate=valid_day,
            validate_while_typing=False,
        )
    ).strip()


def schedule_chosen(state: State, req: Any, options: EndOptions, fmt: Format) -> None:
    """The end of the interactive flow when the end is scheduled: confirm, then schedule."""
    from collabctl.domain.errors import Cancelled
    from collabctl.operations.scheduling import schedule_end

    assert options.at is not None
    check_schedule_flags(options)
    day = end_day_of(state, options.at)
    if not options.yes and not confirmed(state, req.customer_number, req.service or "", day):
        raise Cancelled("cancelled: nothing was scheduled")
    result = state.operations.write(schedule_end, req, day, replace_existing=options.replace)
    emit_object(state.env, result, fmt, render_scheduled)
    message(state.env, verdict(result, False))
