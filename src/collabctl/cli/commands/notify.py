"""Notifications: ``notify list`` (the outbox) and ``notify send`` (deliver it over SMTP)."""

from typing import Annotated, Any

import typer

from collabctl.cli.commands import command_group
from collabctl.cli.errors import handles_errors
from collabctl.cli.options import CustomerFilter, FieldsOption, FormatOption
from collabctl.cli.output import Format, emit_object, emit_rows, message
from collabctl.cli.state import current_state
from collabctl.domain.errors import EXIT_PARTIAL, CollabError, UsageError
from collabctl.domain.keys import MESSAGE_KEYS

commands = command_group()
notify = command_group(
    help="Notifications to both parties: the outbox, sending it over SMTP, retrying and "
    "cancelling messages.\n\n"
    "\b\nExamples:\n  collabctl notify list --state all\n  collabctl notify send\n"
    "  collabctl notify retry --failed",
    no_args_is_help=True,
)
commands.add_typer(notify, name="notify")

#: The columns of ``notify list`` as a table; the machine formats carry every key.
#: when a deferred message is due again comes last: the first column a narrow terminal drops
LIST_TABLE_COLUMNS = (
    "id", "created_at", "event", "customer_number", "service", "to", "state", "next_attempt_at",
)  # fmt: skip
_SMTP_HINT = (
    "set COLLABCTL_SMTP_URL=smtp://[USER:PASSWORD@]HOST:PORT and COLLABCTL_MAIL_FROM=ADDRESS, "
    "or smtp_url and mail_from in config.toml"
)


@notify.command("list")
@handles_errors
def notify_list(
    state_filter: Annotated[
        str,
        typer.Option(
            "--state",
            help="pending, sent, failed (refused for good, or expired), no-address "
            "(the party has no e-mail address), cancelled, or all.",
            metavar="pending|sent|failed|no-address|cancelled|all",
        ),
    ] = "pending",
    customer: CustomerFilter = None,
    fields: FieldsOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """List the notifications in the outbox, oldest first (pending ones unless --state says).

    Every start, end and main-contact change queues one message to the
    company's main contact and one to the office, in the same transaction as
    the change. `notify send` delivers them.

    Keys (json, jsonl, csv): id, created_at, event (start, end, main-contact),
    customer_number, service, to (null: no address), subject, state, attempts,
    deferrals (temporary failures so far), next_attempt_at (when a deferred
    message is due again), last_error, sent_at.

    \b
    Examples:
      collabctl notify list
      collabctl notify list --customer 1001 --state all
      collabctl notify list --state failed --format json
    """
    from collabctl.operations.delivery import list_messages

    state = current_state()
    with state.operations.querying(list_messages, state_filter, customer) as rows:
        emit_rows(
            state.env,
            rows,
            fmt,
            MESSAGE_KEYS,
            table_columns=LIST_TABLE_COLUMNS,
            empty="no notifications match",
        )


@notify.command("send")
@handles_errors
def notify_send(
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="Send at most N messages in this run.", metavar="N"),
    ] = None,
    all_due: Annotated[
        bool,
        typer.Option(
            "--all", help="Try every pending message now, also those waiting out a backoff."
        ),
    ] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Send the pending notifications that are due over SMTP.

    The server: COLLABCTL_SMTP_URL or smtp_url in config.toml, as
    smtp://[USER:PASSWORD@]HOST:PORT (STARTTLS when the server offers it; a
    user and password only over an encrypted connection) or
    smtps://[USER:PASSWORD@]HOST:PORT (TLS from the start); the sender:
    COLLABCTL_MAIL_FROM or mail_from (an address, or "Support <support@example.se>").

    A message is marked sent once the server accepted it. A temporary failure
    (server unreachable, connection dropped, a 4xx reply such as greylisting)
    defers it: it stays pending and is due again after 1 minute, then 2, 4 …
    at most 1 hour; a message still undelivered notify_expire_hours (72) after
    it was queued fails. A 5xx reply for the recipient or the message fails it
    at once. A server that refuses collabctl itself (its login, its sender,
    530 authentication required) stops the run, charges no message, exit 3.
    A server that closes the connection after some messages is reconnected.
    Runs at the same time never send one message twice; a run killed between
    the server's acceptance and the sent mark sends that message again, with
    the same Message-ID.

    Progress and a summary go to stderr. Exit 0 when every message tried was
    sent, 4 when some were deferred or failed, 3 when SMTP is not configured
    or the server refuses collabctl.

    Keys (json): sent, deferred, failed, stopped, pending.

    \b
    Examples:
      COLLABCTL_SMTP_URL=smtp://mail.byran.se:25 collabctl notify send
      collabctl notify send --limit 100
      collabctl notify send --all
    """
    from collabctl.operations.delivery import expire_hours, pending_count, send_pending
    from collabctl.operations.mailer import smtp_settings

    state = current_state()
    env = state.env
    settings = smtp_settings(state.config)
    expire_after = expire_hours(state.config)
    ops = state.operations
    pending = ops.query(pending_count)
    ctx = ops.context()
    if settings is None:
        raise CollabError(
            f"SMTP is not configured: {_count(pending)} wait{'s' if pending == 1 else ''} "
            "in the outbox",
            _SMTP_HINT,
            code="config-invalid",
        )
    total = min(pending, limit) if limit is not None else pending
    progress = _Progress(env, total) if env.stderr_tty and total else None

    def delivered(delivery: Any) -> None:
        if delivery.status == "deferred":
            say(f"message {delivery.id} to {delivery.to}: deferred (due again "
                f"{delivery.next_attempt_at}): {delivery.error}")  # fmt: skip
        elif delivery.status == "failed":
            say(f"message {delivery.id} to {delivery.to}: failed: {delivery.error}")
        if progress is not None:
            progress.advance()

    say = progress.say if progress is not None else (lambda text: message(env, text))

    def run() -> Any:
        return send_pending(
            ops.database,
            settings,
            ctx,
            limit=limit,
            all_due=all_due,
            expire_after=expire_after,
            on_delivery=delivered,
        )

    if progress is not None:
        with progress:
            report = run()
    else:
        report = run()
    left = ops.query(pending_count)
    message(env, _summary(report, left))
    if report.refusal is not None:
        raise report.refusal
    if report.stopped is not None:
        message(
            env,
            f"stopped: {report.stopped}\nhint: the messages stay in the outbox and are tried "
            "again by the next run; `collabctl doctor` checks the server",
        )
    if fmt is not Format.table:
        emit_object(env, {**report.to_dict(), "pending": left}, fmt)
    if not report.ok:
        raise typer.Exit(EXIT_PARTIAL)


IdArguments = Annotated[
    list[str] | None,
    typer.Argument(
        help="Message ids, as `notify list` shows them.", metavar="ID...", show_default=False
    ),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
]
_CHANGE_COLUMNS = ("id", "customer_number", "to", "before", "after", "status")


@notify.command("retry")
@handles_errors
def notify_retry(
    ids: IdArguments = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="Every failed message (of --customer, if given).")
    ] = False,
    customer: CustomerFilter = None,
    dry_run: DryRunOption = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Put failed messages back to pending: the next `notify send` tries them.

    A retried message is due at once and may wait notify_expire_hours (72)
    again before it expires. One audit event (notify-retry) per company.

    Keys (json, jsonl, csv): id, customer_number, to, before, after, status
    (retried, or would-retry with --dry-run).

    \b
    Examples:
      collabctl notify retry 17 18
      collabctl notify retry --failed --customer 1001 --dry-run
    """
    from collabctl.operations.requeue import plan_retry, retry_messages

    if bool(ids) == failed:
        raise UsageError(
            "name the messages: ID... or --failed, not both"
            if ids
            else "which messages? pass ID... or --failed",
            "collabctl notify retry 17 18, or collabctl notify retry --failed",
        )
    if customer is not None and not failed:
        raise UsageError(
            "--customer goes with --failed", "collabctl notify retry --failed --customer 1001"
        )
    _change(
        plan_retry,
        retry_messages,
        {"ids": ids or (), "failed": failed, "customer": customer},
        "notify-retry",
        dry_run,
        fmt,
        empty="no failed messages",
    )


@notify.command("cancel")
@handles_errors
def notify_cancel(
    ids: IdArguments = None,
    dry_run: DryRunOption = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Cancel pending or failed messages: they are never sent.

    One audit event (notify-cancel) per company. A message being sent at
    this moment by a `notify send` run cannot be cancelled (conflict).

    Keys (json, jsonl, csv): id, customer_number, to, before, after, status
    (cancelled, or would-cancel with --dry-run).

    \b
    Examples:
      collabctl notify cancel 17
      collabctl notify cancel 17 18 --dry-run
    """
    from collabctl.operations.requeue import cancel_messages, plan_cancel

    if not ids:
        raise UsageError("which messages? pass ID...", "collabctl notify cancel 17 18")
    _change(plan_cancel, cancel_messages, {"ids": ids}, "notify-cancel", dry_run, fmt)


def _change(
    plan: Any,
    change: Any,
    which: dict[str, Any],
    action: str,
    dry_run: bool,
    fmt: Format,
    empty: str = "nothing to change",
) -> None:
    """Show the plan of the messages ``which`` names (a dry run), or make the change, then
    print what changed."""
    from collabctl.operations.requeue import CHANGE_KEYS

    state = current_state()
    if dry_run:
        changes = state.operations.read(plan, **which, dry_run=True)
    else:
        changes = state.operations.write(change, **which)
    emit_rows(
        state.env,
        (c.to_dict() for c in changes),
        fmt,
        CHANGE_KEYS,
        table_columns=_CHANGE_COLUMNS,
        empty=empty,
    )
    verb = {"notify-retry": "put back to pending", "notify-cancel": "cancelled"}[action]
    if dry_run:
        message(
            state.env,
            f"would have {_count(len(changes))} {verb}; nothing changed; run again without --dry-run",
        )
    else:
        message(state.env, f"{_count(len(changes))} {verb}")


def _count(n: int) -> str:
    return f"{n} message" if n == 1 else f"{n} messages"


def _summary(report: Any, pending: int) -> str:
    parts = [f"{report.sent} sent"]
    if report.deferred:
        parts.append(f"{report.deferred} deferred (tried again later)")
    if report.failed:
        parts.append(f"{report.failed} failed (see `collabctl notify list --state failed`)")
    return f"notify send: {', '.join(parts)}; {_count(pending)} pending"


class _Progress:
    """A bar on stderr while messages go out (only when stderr is a terminal)."""

    def __init__(self, env: Any, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        from collabctl.cli.output import console

        self._progress = Progress(
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console(env.stderr, env, is_stdout=False),
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task = self._progress.add_task("send", total=total)

    def advance(self) -> None:
        self._progress.advance(self._task)

    def say(self, text: str) -> None:
        self._progress.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def __enter__(self) -> "_Progress":
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()
