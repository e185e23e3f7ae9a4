"""``collabctl end --from``: many ends, one result per input line, streamed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from collabctl.cli.ending import EndOptions
from collabctl.cli.fields import check_fields
from collabctl.cli.output import (
    Format,
    dumps,
    emit_error,
    emit_rows,
    error_lines,
    message,
)
from collabctl.cli.run_report import RunReport
from collabctl.cli.safe_text import visible
from collabctl.domain.errors import (
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    UsageError,
)
from collabctl.domain.json_text import raw_string as string
from collabctl.domain.json_text import safe

if TYPE_CHECKING:
    from collabctl.cli.state import State

BULK_COLUMNS = ("line", "customer_number", "service", "status", "outcome", "error")
#: a failed item's error, under its row of the table: below the customer column
ERROR_INDENT = " " * 8


def end_bulk(
    state: State, options: EndOptions, source: str, fmt: Format, *, act: Any = None
) -> int:
    """End one collaboration per input line; returns the exit code (0 or 4).

    Results stream out batch by batch, each after its batch is committed; the
    summary goes to stderr, and so does a progress display when stderr is a
    terminal and the results go elsewhere (at a terminal, they are the progress).
    """
    from collabctl.config import backup_dir
    from collabctl.operations.bulk import STATUSES, LineReader, end_item, end_many

    env = state.env
    if env.fields is not None:  # before anything is ended
        check_fields(
            env.fields, BULK_COLUMNS if fmt in (Format.json, Format.jsonl) else BULK_CSV_COLUMNS
        )
    if not options.yes and not options.dry_run:
        raise UsageError(
            "ending many collaborations needs --yes (or --dry-run to check them first)",
            "collabctl end --from FILE --dry-run, then the same with --yes",
        )
    ops = state.operations
    ctx = ops.context()
    stream = env.open_input(source)
    if source == "-" and env.stdin_tty:
        message(
            env,
            "reading items from the terminal: one customer number or JSON object a line, Ctrl-D to end",
        )
    reader = LineReader(stream)
    batches = end_many(
        ops.database,
        ctx,
        reader,
        options.request(""),
        dry_run=options.dry_run,
        backup_dir=backup_dir(),
        act=act or end_item,
    )
    label = "checking" if options.dry_run else "ending" if act is None else "scheduling"
    # every format streams its rows: at a terminal, they are the progress
    report = RunReport(env, reader, label, STATUSES, streamed=True)

    def rows() -> Any:
        for batch in batches:
            # counted before it is written: a run stopped while writing a batch still
            # reports every item of it (committed before its results are written)
            for result in batch:
                report.count(result.status)
            for result in batch:
                yield result
                # the row is written (the table asks for the next one only then): its
                # error goes under it, on stderr
                if result.error is not None and fmt is Format.table:
                    env.stdout.flush()
                    error = result.error
                    text = error_lines(
                        error.code, f"line {result.line}: {error.message}", error.hint
                    )
                    report.say("\n".join(ERROR_INDENT + line for line in text.splitlines()))
            # the batch is committed and written: let the reader of stdout see it now
            env.stdout.flush()
            report.update()

    try:
        with report:
            _emit_bulk(state, rows(), fmt)
    except (KeyboardInterrupt, BrokenPipeError) as exc:
        report.stopped_early(
            exc,
            _summary(report, options.dry_run),
            "every item is either done or untouched, never half done; run the same "
            "input again to finish (what is done reports already-ended)",
        )
    except Exception:
        # a failure that stops the run (say, the database went away): what was done so far
        message(env, "stopped: " + _summary(report, options.dry_run))
        raise
    finally:
        if stream is not env.stdin:
            stream.close()
    if not report.total:
        # the rule of `import` too: no item at all is a mistake upstream, not a success
        # (what went to stdout, an empty list, stays one document)
        emit_error(
            env,
            "invalid-input",
            "the input is empty",
            "give one customer number or JSON object a line",
            None,
        )
        return EXIT_USAGE
    message(env, _summary(report, options.dry_run))
    if report.counts["failed"]:
        message(
            env,
            "hint: fix the failed lines, then run again without --dry-run"
            if options.dry_run
            else "hint: fix the failed lines and run the same input again; "
            "what already ended reports already-ended",
        )
        return EXIT_PARTIAL
    return EXIT_OK


def _summary(report: RunReport, dry_run: bool) -> str:
    return report.summary() + (" (dry run: nothing was changed)" if dry_run else "")


BULK_CSV_COLUMNS = (
    "line",
    "customer_number",
    "service",
    "status",
    "outcome",
    "error_code",
    "error_message",
    "error_hint",
)


def _emit_bulk(state: State, results: Any, fmt: Format) -> None:
    out = state.env.stdout
    if state.env.fields is not None:
        # --fields: the columns chosen, through the generic writer (streamed as well)
        if fmt in (Format.json, Format.jsonl):
            emit_rows(state.env, (r.to_dict() for r in results), fmt, BULK_COLUMNS)
        else:
            emit_rows(state.env, (_flat(r) for r in results), fmt, BULK_CSV_COLUMNS)
    elif fmt is Format.table:
        # one line per item as soon as it is done: readable while it runs, and streamed
        header = False
        for r in results:
            if not header:
                out.write(
                    f"{'line':>6}  {'customer':<10}  {'service':<12}  {'status':<13}  "
                    f"{'outcome':<10}  error\n"
                )
                header = True
            # the number and service are as the line gave them: shown, never obeyed
            row = (
                f"{r.line:>6}  {visible(r.customer_number or '-'):<10}  "
                f"{visible(r.service or '-'):<12}  "
                f"{r.status:<13}  {visible(r.outcome or '-'):<10}  {r.error.code if r.error else ''}"
            )
            out.write(row.rstrip() + "\n")
        out.flush()
    elif fmt is Format.jsonl:
        for r in results:
            out.write(jsonl_line(r))
        out.flush()
    elif fmt is Format.csv:
        emit_rows(state.env, (_flat(r) for r in results), fmt, BULK_CSV_COLUMNS)
    else:
        emit_rows(state.env, (r.to_dict() for r in results), fmt, BULK_COLUMNS)


def jsonl_line(result: Any) -> str:
    """A result as its line of JSON Lines: ``output.dumps(result.to_dict())`` and a newline.

    A result that went through (no error) is written from a template, a few
    microseconds an item less in a run of many; the same text (tested).
    """
    if result.error is not None:
        return dumps(result.to_dict()) + "\n"
    number, service, outcome = result.customer_number, result.service, result.outcome
    return safe(
        f'{{"line":{result.line},'
        f'"customer_number":{"null" if number is None else string(number)},'
        f'"service":{"null" if service is None else string(service)},'
        f'"status":{string(result.status)},'
        f'"outcome":{"null" if outcome is None else string(outcome)},"error":null}}\n'
    )


def _flat(result: Any) -> dict[str, Any]:
    """A result with its error spread over columns, for spreadsheets."""
    row = result.to_dict()
    error = row.pop("error") or {}
    row.update(
        error_code=error.get("code"),
        error_message=error.get("message"),
        error_hint=error.get("hint"),
    )
    return row
