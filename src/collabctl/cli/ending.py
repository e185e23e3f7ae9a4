"""``collabctl end``: one collaboration (scripted or interactive) or many (``--from``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from collabctl.cli.output import Format, emit_object, emit_rows, message
from collabctl.domain.errors import EXIT_OK, EXIT_PARTIAL, CollabError, UsageError

if TYPE_CHECKING:
    from collabctl.cli.app import State
    from collabctl.operations.ending import EndRequest, Preflight

BULK_COLUMNS = ("line", "customer_number", "service", "status", "outcome", "error")


@dataclass
class EndOptions:
    customer: str | None
    service: str | None
    outcome: str | None
    by: str | None
    confirm: tuple[str, ...]
    force: bool
    reason: str | None
    dry_run: bool
    yes: bool
    backup: bool

    def request(self, customer: str) -> EndRequest:
        from collabctl.operations.ending import EndRequest

        return EndRequest(
            customer_number=customer,
            service=self.service,
            outcome=self.outcome,
            by=self.by,
            confirm=self.confirm,
            force=self.force,
            reason=self.reason,
            backup=self.backup,
        )


def _preflight(state: State, req: EndRequest) -> Preflight:
    from collabctl.operations.ending import preflight

    db = state.database()
    with db.session(write=False) as session:
        return preflight(session, state.context(session), req)


def _missing_input(pre: Preflight, dry_run: bool) -> UsageError | None:
    """The first required answer that is missing, in the order of the checks."""
    if dry_run:
        return None
    for check in pre.checks:
        if check.name == "party" and check.ok and pre.ended_by is None:
            return UsageError(
                "say on whose behalf the collaboration ends: --by is required",
                "pass --by customer or --by office (or act as a party with --as)",
            )
        if check.error is not None:
            return None
        if check.name == "outcome" and pre.outcome is None:
            return UsageError(
                "choose what happens afterwards: --outcome is required",
                f"pass --outcome with one of: {', '.join(pre.service.outcomes)}",
            )
    return None


def end_one(state: State, options: EndOptions, fmt: Format) -> None:
    from collabctl.domain import validation

    env = state.env
    if env.can_prompt and (
        options.customer is None
        or options.service is None
        or (not options.yes and not options.dry_run)
    ):
        from collabctl.cli.interactive import end_interactively

        end_interactively(state, options, fmt)
        return
    if options.customer is None:
        raise UsageError(
            "which company? CUSTOMER is required",
            "collabctl end CUSTOMER --service S --outcome O --by customer|office --yes",
        )
    if options.service is None:
        raise UsageError(
            "which service? --service is required",
            f"see the active collaborations: collabctl list --customer {options.customer}",
        )
    number = validation.customer_number(options.customer, "CUSTOMER")
    req = options.request(number)
    pre = _preflight(state, req)
    if options.dry_run:
        show_preflight(state, pre, fmt)
        if pre.error is not None:
            raise pre.error
        return
    missing = _missing_input(pre, options.dry_run)
    if missing is not None:
        raise missing
    if pre.error is not None:
        raise pre.error
    if not options.yes:
        raise UsageError(
            "ending needs confirmation: pass --yes (no terminal to ask in)",
            "check first with --dry-run, then run again with --yes",
        )
    apply_end(state, replace(req, outcome=pre.outcome, by=pre.ended_by), fmt)


def show_preflight(state: State, pre: Preflight, fmt: Format) -> None:
    from collabctl.cli.render import render_preflight

    emit_object(state.env, pre.to_dict(), fmt, render_preflight)


def apply_end(state: State, req: EndRequest, fmt: Format) -> dict[str, Any]:
    from collabctl.cli.render import render_end_result
    from collabctl.config import backup_dir
    from collabctl.operations.ending import end_collaboration

    db = state.database()
    result = db.transact(
        lambda session: end_collaboration(session, state.context(session), req, backup_dir())
    )
    data = result.to_dict()
    emit_object(state.env, data, fmt, render_end_result)
    return data


def end_bulk(state: State, options: EndOptions, source: str, fmt: Format) -> int:
    """End one collaboration per input line; returns the exit code (0 or 4)."""
    from collabctl.cli.app import _open_input
    from collabctl.config import backup_dir
    from collabctl.operations.bulk import end_many

    env = state.env
    if not options.yes and not options.dry_run:
        raise UsageError(
            "ending many collaborations needs --yes (or --dry-run to check them first)",
            "collabctl end --from FILE --dry-run, then the same with --yes",
        )
    if source == "-" and env.stdin_tty:
        message(
            env,
            "reading items from the terminal: one customer number or JSON object a line, Ctrl-D to end",
        )
    db = state.database()
    stream = _open_input(source, env)
    with db.session(write=False) as session:
        ctx = state.context(session)
    defaults = options.request("")
    counts: dict[str, int] = {}
    results = end_many(db, ctx, stream, defaults, dry_run=options.dry_run, backup_dir=backup_dir())

    def rows() -> Any:
        for result in results:
            counts[result.status] = counts.get(result.status, 0) + 1
            if result.error is not None and fmt is Format.table:
                _report_item_error(state, result.line, result.error)
            yield result.to_dict()

    try:
        if env.stderr_tty and not env.no_input:
            with _progress(env) as advance:
                _emit_bulk(state, _advancing(rows(), advance), fmt)
        else:
            _emit_bulk(state, rows(), fmt)
    finally:
        if stream is not env.stdin:
            stream.close()
    total = sum(counts.values())
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no items"
    message(env, f"{total} items: {summary}")
    return EXIT_OK if counts.get("failed", 0) == 0 else EXIT_PARTIAL


def _emit_bulk(state: State, rows: Any, fmt: Format) -> None:
    if fmt is Format.table:
        # one line per item as it is done, readable while it runs
        for row in rows:
            state.env.stdout.write(
                f"line {row['line']}: {row['customer_number'] or '-'} {row['service'] or '-'}: {row['status']}"
                + (f" ({row['outcome']})" if row["outcome"] and row["status"] != "failed" else "")
                + "\n"
            )
        state.env.stdout.flush()
    else:
        emit_rows(state.env, rows, fmt, BULK_COLUMNS)


def _report_item_error(state: State, line: int, error: CollabError) -> None:
    from collabctl.cli.output import error_lines

    state.env.stderr.write(
        error_lines(error.code, f"line {line}: {error.message}", error.hint) + "\n"
    )


def _advancing(rows: Any, advance: Any) -> Any:
    for row in rows:
        advance()
        yield row


class _progress:
    """A Rich progress spinner on stderr (the total is unknown: input is a stream)."""

    def __init__(self, env: Any) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        from collabctl.cli.output import console

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.completed} items"),
            TimeElapsedColumn(),
            console=console(env.stderr, env, is_stdout=False),
            transient=True,
        )
        self._task = self._progress.add_task("end", total=None)

    def __enter__(self) -> Any:
        self._progress.start()
        return lambda: self._progress.advance(self._task)

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()
