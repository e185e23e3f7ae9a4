"""Data in and out: ``demo``, ``import``, ``export``."""

from pathlib import Path
from typing import Annotated, Any

import typer

from collabctl.cli.commands import command_group
from collabctl.cli.errors import handles_errors
from collabctl.cli.options import (
    CustomerArgument,
    DryRunOption,
    FormatOption,
    ServiceFilter,
    YesOption,
)
from collabctl.cli.output import Format, dumps, emit_object, message
from collabctl.cli.run_report import RunReport
from collabctl.cli.state import current_state
from collabctl.domain.errors import EXIT_PARTIAL, CollabError, UsageError
from collabctl.domain.wording import counted

commands = command_group()

NEXT_STEPS = """\
Demo data loaded: {companies} companies, {offices} accounting offices.

Try next:
  collabctl list                                   # the active collaborations
  collabctl show 1003                              # users, subscriptions, who can read what
  collabctl end 1001 --service eekonomi --outcome continue --by customer --dry-run
  collabctl end 1002 --service eekonomi --outcome deactivate --by office --yes
                                                   # fails: no main contact; the hint says how to fix it
  collabctl end 1003 --service utlagg --outcome continue --by office --yes
                                                   # fails: draft expense report and outlay
  collabctl end                                    # the interactive flow, in a terminal
  collabctl log                                    # the audit log
"""


@commands.command()
@handles_errors
def demo(
    force: Annotated[
        bool, typer.Option("--force", help="Load even if the database already has data.")
    ] = False,
    reset: Annotated[
        bool,
        typer.Option(
            "--reset",
            help="Empty the database first (every row, the audit log's too), then load.",
        ),
    ] = False,
    yes: YesOption = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Load a small, realistic demo data set and print what to try next.

    Refuses a database that already has data unless --force (loads the demo
    over what is there) or --reset (empties the database first: everything in
    it is deleted, the audit log too; asks in a terminal, needs --yes
    otherwise). Keys (json): offices, companies, database.

    \b
    Examples:
      collabctl demo && collabctl list
      collabctl demo --reset --yes                 (start over)
      COLLABCTL_HOME=/tmp/try collabctl demo      (a scratch database of its own)
    """
    from collabctl.operations.demo import load_demo, reset_demo

    state = current_state()
    db = state.operations.database
    if reset and not yes:
        if not state.env.can_prompt:
            raise UsageError(
                f"demo --reset deletes everything in the database: pass --yes "
                f"({state.env.why_no_prompt})",
                "collabctl demo --reset --yes",
            )
        from collabctl.cli.pickers import ask
        from collabctl.domain.errors import Cancelled

        # the URL on a line of its own: a long path would wrap the question
        message(state.env, f"database: {db.display_url}")
        question = "Delete everything in this database (the audit log too) and load the demo?"
        if not ask(state.env, "confirm", question, default=False):
            raise Cancelled("cancelled: nothing was deleted")
    # each commits as it goes (the demo is loaded by import)
    loaded = (
        state.operations.run(reset_demo) if reset else state.operations.run(load_demo, force=force)
    )
    summary = {**loaded, "database": db.display_url}
    if fmt is Format.table:
        message(state.env, NEXT_STEPS.format(**summary).rstrip())
    else:
        emit_object(state.env, summary, fmt)


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
and the failing item's exit code (2 for invalid input) when all failed. Stopped early
(Ctrl-C: exit 130; its output closed: 141), it says how far it got: each company is
imported whole or not at all, and the same input run again finishes the rest.

Import follows the same rules as the commands: the state of an existing subscription
changes only through start, end and restore, an ended collaboration's history never
changes, and an active collaboration needs an active subscription (error[conflict], exit 1
for that item, naming the command to use). An export imports back unchanged; the backup of
a deleted service is brought back with `collabctl restore BACKUP_FILE`.

Output: a summary on stderr, and a progress display when stderr is a terminal. Keys with
--format jsonl, one line per item: line, kind (office|company|service, null for input that
cannot be read), key (the org number, customer number or service code, whenever it can be
read), status (changed|unchanged|failed), changes, error; with json or csv: changed,
unchanged, failed, items. An empty input (no item: nothing, or blank lines only) is
invalid-input (exit 2), as for `end --from`. --dry-run imports everything as a real run
would, reports the same results, and then changes nothing.

\b
Examples:
  collabctl import companies.json --dry-run
  collabctl import companies.json
  collabctl import - --format jsonl < companies.jsonl > results.jsonl
  collabctl export 1001 -o - | collabctl import -
"""


@commands.command("import", help=IMPORT_HELP)
@handles_errors
def import_(
    file: Annotated[
        str, typer.Argument(metavar="FILE|-", help="JSON or JSON Lines file, - for stdin.")
    ],
    dry_run: DryRunOption = False,
    fmt: FormatOption = Format.table,
) -> None:
    from collabctl.operations.importing import import_items
    from collabctl.operations.importing.reader import ItemReader

    state = current_state()
    env = state.env
    state.operations.open()  # a database it cannot use is reported before the input
    stream = env.open_input(file)
    reader = ItemReader(stream)
    report = _ImportReport(env, fmt, reader, dry_run=dry_run)
    try:
        # import commits its batches as it goes: a result is written after its commit
        with state.operations.running(import_items, reader, dry_run=dry_run) as results, report:
            try:
                for result in results:
                    report.item(result)
            except CollabError as exc:
                # the input cannot be read any further: what was read before is committed
                report.stopped(exc)
    except (KeyboardInterrupt, BrokenPipeError) as exc:
        report.run.stopped_early(
            exc,
            report.summary(),
            "every company is either imported whole or untouched; run the same input "
            "again to finish (what is in already reports unchanged)",
        )
    finally:
        if stream is not env.stdin:
            stream.close()
    report.finish()


class _ImportReport:
    """What ``import`` says: one line per item with jsonl, errors and a summary on stderr
    (``RunReport``), then the counts on stdout with json or csv, and the exit code."""

    def __init__(self, env: Any, fmt: Format, reader: Any, *, dry_run: bool = False) -> None:
        self.env = env
        self.dry_run = dry_run
        self.fmt = fmt
        self.run = RunReport(
            env,
            reader,
            "importing",
            ("changed", "unchanged", "failed"),
            streamed=fmt is Format.jsonl,
            progress_statuses=("failed",),
        )
        self.first_error: CollabError | None = None
        self.stop: CollabError | None = None

    def __enter__(self) -> "_ImportReport":
        self.run.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.run.__exit__(*exc)

    def item(self, result: Any) -> None:
        self.run.count(result.status)
        error = result.error
        if error is not None:
            self.first_error = self.first_error or error
            if self.fmt is not Format.jsonl:
                self.run.error(error)
        if self.fmt is Format.jsonl:
            self.env.stdout.write(dumps(result.to_dict()) + "\n")
        self.run.update()

    def stopped(self, error: CollabError) -> None:
        """The input cannot be read further (or is empty): not an item, but the run's end."""
        self.stop = error
        self.first_error = self.first_error or error
        self.run.error(error)

    def summary(self) -> str:
        """``imported 5 items: 4 changed, 1 unchanged, 0 failed`` (``4 of 5 items`` when
        some failed), so far."""
        counts = self.run.counts
        imported = counts["changed"] + counts["unchanged"]
        return ("dry run, nothing was changed: would have " if self.dry_run else "") + (
            "imported " + self.run.summary(done=imported, every_status=True)
        )

    def finish(self) -> None:
        counts = self.run.counts
        total = self.run.total
        imported = counts["changed"] + counts["unchanged"]
        if total or self.stop is None:
            message(
                self.env,
                self.summary() + ("; the rest of the input could not be read" if self.stop else ""),
            )
        if self.fmt in (Format.json, Format.csv):
            emit_object(self.env, {**counts, "items": total}, self.fmt)
        if self.first_error is not None:
            raise typer.Exit(self.first_error.exit_code if not imported else EXIT_PARTIAL)


@commands.command()
@handles_errors
def export(
    customer: CustomerArgument,
    service: ServiceFilter = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="File to write (private to you), - for stdout. "
            "Default: collabctl-export-CUSTOMER-SERVICE-TIME.json here.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the file if it exists already.")
    ] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Write a company's data (one service or all) to a JSON file, recorded in the audit log.

    The file is in the import format (`collabctl import FILE` restores it). An
    export of a service made after the last change to its records meets the
    `backup-handed-over` checklist item. An existing file is never replaced
    without --force (invalid-input, nothing written or recorded).

    Keys (json): customer_number, path, services, records (how many).

    \b
    Examples:
      collabctl export 1005 --service lon
      collabctl export 1001 -o kund-ab.json --force
      collabctl export 1001 -o - | jq .companies[0].name
    """
    from collabctl.domain import validation
    from collabctl.operations.context import now_iso
    from collabctl.operations.exporting import default_export_path, export_then_record

    number = validation.customer_number(customer, "CUSTOMER")
    state = current_state()
    path = (
        None
        if output == "-"
        else Path(output)
        if output
        else default_export_path(number, service, now_iso())
    )
    details = state.operations.write(
        export_then_record, number, service, path, state.env.stdout, overwrite=force
    )
    if path is None:
        return
    if fmt is Format.table:
        services = ", ".join(details["services"]) or "no service"
        records = counted(details["records"], "record")
        message(state.env, f"exported {records} of {services} to {details['path']}")
    else:
        emit_object(state.env, {"customer_number": number, **details}, fmt)
