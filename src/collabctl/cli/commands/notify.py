"""Notifications: ``notify list`` (the outbox) and ``notify send`` (deliver it over SMTP)."""

from typing import Annotated, Any

import typer

from collabctl.cli.commands import command_group
from collabctl.cli.errors import handles_errors
from collabctl.cli.options import CustomerFilter, FieldsOption, FormatOption
from collabctl.cli.output import Format, emit_object, emit_rows, message
from collabctl.cli.state import current_state
from collabctl.domain.errors import EXIT_PARTIAL, CollabError
from collabctl.domain.keys import MESSAGE_KEYS

commands = command_group()
notify = command_group(
    help="Notifications to both parties: the outbox, and sending it over SMTP.\n\n"
    "\b\nExamples:\n  collabctl notify list --state all\n  collabctl notify send",
    no_args_is_help=True,
)
commands.add_typer(notify, name="notify")

#: The columns of ``notify list`` as a table; the machine formats carry every key.
LIST_TABLE_COLUMNS = ("id", "created_at", "event", "customer_number", "service", "to", "state")
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
            help="pending, sent, failed (given up after 5 attempts), no-address "
            "(the party has no e-mail address), or all.",
            metavar="pending|sent|failed|no-address|all",
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
    last_error, sent_at.

    \b
    Examples:
      collabctl notify list
      collabctl notify list --customer 1001 --state all
      collabctl notify list --state failed --format json
    """
    from collabctl.operations.delivery import list_messages

    state = current_state()
    with state.reading() as (session, ctx):
        rows = list_messages(session.connection(), ctx, state_filter, customer)
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
    fmt: FormatOption = Format.table,
) -> None:
    """Send the pending notifications over SMTP.

    The server: COLLABCTL_SMTP_URL or smtp_url in config.toml, as
    smtp://[USER:PASSWORD@]HOST:PORT (STARTTLS when the server offers it) or
    smtps://[USER:PASSWORD@]HOST:PORT (TLS from the start); the sender:
    COLLABCTL_MAIL_FROM or mail_from. A message is marked sent once the server
    accepted it. A failure keeps it pending with the error, to be retried by
    the next run; after 5 failed attempts it is failed. Runs at the same time
    never send one message twice; a run killed between the server's acceptance
    and the sent mark sends that message again, with the same Message-ID.

    Progress and a summary go to stderr. Exit 0 when every message tried was
    sent, 4 when some were not, 3 when SMTP is not configured.

    Keys (json): sent, retrying, failed, stopped, pending.

    \b
    Examples:
      COLLABCTL_SMTP_URL=smtp://mail.byran.se:587 collabctl notify send
      collabctl notify send --limit 100
    """
    from collabctl.operations.delivery import outbox_counts, send_pending
    from collabctl.operations.mailer import smtp_settings

    state = current_state()
    env = state.env
    settings = smtp_settings(state.config)
    db = state.database()
    with state.reading() as (session, ctx):
        pending = outbox_counts(session.connection())["pending"]
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
        if delivery.error is not None:
            attempt = f"attempt {delivery.attempts} of 5"
            verdict = "failed, given up" if delivery.status == "failed" else "kept, will retry"
            say(f"message {delivery.id} to {delivery.to}: not sent ({attempt}, {verdict}): "
                f"{delivery.error}")  # fmt: skip
        if progress is not None:
            progress.advance()

    say = progress.say if progress is not None else (lambda text: message(env, text))
    if progress is not None:
        with progress:
            report = send_pending(db, settings, ctx, limit=limit, on_delivery=delivered)
    else:
        report = send_pending(db, settings, ctx, limit=limit, on_delivery=delivered)
    with state.reading() as (session, _):
        left = outbox_counts(session.connection())["pending"]
    message(env, _summary(report, left))
    if report.stopped is not None:
        message(
            env,
            f"stopped: {report.stopped}\nhint: check the server in COLLABCTL_SMTP_URL or "
            "smtp_url (host, port, user, password) and that it is running; the messages stay "
            "in the outbox for the next run",
        )
    if fmt is not Format.table:
        emit_object(env, {**report.to_dict(), "pending": left}, fmt)
    if not report.ok:
        raise typer.Exit(EXIT_PARTIAL)


def _count(n: int) -> str:
    return f"{n} message" if n == 1 else f"{n} messages"


def _summary(report: Any, pending: int) -> str:
    parts = [f"{report.sent} sent"]
    if report.retrying:
        parts.append(f"{report.retrying} not sent (will be retried)")
    if report.failed:
        parts.append(f"{report.failed} failed after 5 attempts (see `collabctl notify list "
                     "--state failed`)")  # fmt: skip
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
