"""``restore BACKUP_FILE``: undo the data loss of ``end --outcome delete``."""

from typing import Annotated, Any

import typer

from collabctl.cli.commands import command_group
from collabctl.cli.errors import handles_errors
from collabctl.cli.options import FormatOption
from collabctl.cli.output import Format, emit_object
from collabctl.cli.state import current_state
from collabctl.domain.errors import UsageError

commands = command_group()

RESTORE_HELP = """\
Put back the records a delete removed, from the backup file it wrote.

BACKUP_FILE is the file `end --outcome delete` wrote (its path is in the end's
result, and in `collabctl log` as backup_path). Given several backups of one
company's service (backups/1007-utlagg-*.json after two deletes), it restores
the newest: the one the latest delete wrote. Checked before anything
changes: the file is a complete collabctl backup whose content matches the
SHA-256 it carries (invalid-input otherwise: truncated, changed, or not a
backup, of at most 256 MiB); the company and the service exist (not-found);
the company is the one the backup was taken of (invalid-input); the service's
subscription is deleted and holds no records (conflict otherwise, e.g. when it
was restored already or started afresh); the file is the backup of the latest
delete of that service: its SHA-256 is the one that delete recorded in the
audit log (conflict for the backup of an earlier delete, naming the latest
one's file; invalid-input for any other file, e.g. one changed and resealed).

Then, in one transaction: the records are back, the subscription is active,
and one audit event names the file and its hash. The ended collaboration
stays ended; `collabctl start` begins a new one (the result says how).

A backup whose delete recorded no SHA-256 in the audit log (an older
collabctl) is restored only with --force, and the restore's audit event says
it was forced; a file whose content does not match its SHA-256, or another
hash than the one recorded, never is.

Without a terminal, --yes is required (not for --dry-run).

Keys (json): customer_number, company_name, service, backup_path, sha256,
verified, forced, backup_written_at, records (how many), record_ids,
subscription_before, subscription_state, next (the command that starts a new
collaboration), status (restored|would-restore).

\b
Examples:
  collabctl restore backups/1007-utlagg-20261126T172622860803Z.json --dry-run
  collabctl restore backups/1007-utlagg-20261126T172622860803Z.json --yes
"""


@commands.command(help=RESTORE_HELP)
@handles_errors
def restore(
    backup_files: Annotated[
        list[str],
        typer.Argument(
            metavar="BACKUP_FILE",
            help="The backup file a delete wrote; of several (a pattern such as "
            "backups/1007-utlagg-*.json), the newest.",
            show_default=False,
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check everything and show what would be restored.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Accept a backup whose delete recorded no SHA-256 (older collabctl).",
        ),
    ] = False,
    fmt: FormatOption = Format.table,
) -> None:
    import shlex

    from collabctl.operations.restore import check_restore, read_backup, restore_backup

    state = current_state()
    backup = _newest([read_backup(name, force=force) for name in backup_files])
    if len(backup_files) > 1:
        from collabctl.cli.output import message

        message(
            state.env,
            f"{len(backup_files)} backups of {backup.service} for customer "
            f"{backup.customer_number}: the newest is {backup.path}",
        )
    if dry_run or not yes:
        plan = state.operations.read(check_restore, backup, force=force)
        if dry_run:
            emit_object(state.env, plan, fmt, render_restore)
            return
        if not state.env.can_prompt:
            raise UsageError(
                "restore changes data: confirm with --yes",
                f"collabctl restore {shlex.quote(str(backup.path))} --yes "
                "(or --dry-run to see what it would do)",
            )
        from collabctl.cli.output import console
        from collabctl.cli.pickers import ask
        from collabctl.domain.errors import Cancelled

        render_restore(console(state.env.stderr, state.env, is_stdout=False), plan, asking=True)
        if not ask(state.env, "confirm", "Restore these records?", default=False):
            raise Cancelled("cancelled: nothing was restored")
    result = state.operations.write(restore_backup, backup, force=force)
    emit_object(state.env, result, fmt, render_restore)


def _newest(backups: list[Any]) -> Any:
    """The newest of backups of one company's service: the one its latest delete wrote."""
    kinds = {(b.customer_number, b.service) for b in backups}
    if len(kinds) > 1:
        shown = ", ".join(f"{number} {service}" for number, service in sorted(kinds))
        raise UsageError(
            f"the backups are of different services or companies ({shown})",
            "give the backups of one company's service, e.g. backups/1007-utlagg-*.json",
        )
    return max(backups, key=lambda b: (b.written_at or "", b.path.name))


def render_restore(console: Any, r: dict[str, Any], *, asking: bool = False) -> None:
    """What a restore did, or would do (``asking``: the preview before the question)."""
    from collabctl.cli.safe_text import visible

    company = visible(f"{r['customer_number']} {r['company_name']}")
    count = r["records"]
    records = f"{count} record{'' if count == 1 else 's'}"
    # the hash itself is in the machine formats and the audit event
    intact = (
        "The backup is intact: its content matches the SHA-256 its delete recorded."
        if not r["forced"]
        else "The backup's delete recorded no SHA-256 (accepted with --force)."
        if r["verified"]
        else "The backup has no SHA-256 of its own (accepted with --force)."
    )
    if r["status"] == "would-restore":
        shown = ", ".join(r["record_ids"][:10])
        more = len(r["record_ids"]) - 10
        console.print(
            f"Would restore {records} of {r['service']} for {company} from {visible(r['backup_path'])}"
            + (f": {visible(shown)}" + (f" and {more} more" if more > 0 else "") if count else "")
            + ".",
            markup=False,
            soft_wrap=True,
        )
        console.print(intact, markup=False, soft_wrap=True)
        console.print(
            f"The subscription would go from {r['subscription_before']} to active; "
            "the ended collaboration stays ended.",
            markup=False,
            soft_wrap=True,
        )
        if not asking:
            console.print(
                "Nothing changed; run again with --yes to restore.", markup=False, soft_wrap=True
            )
        return
    console.print(
        f"Restored {records} of {r['service']} for {company} from {visible(r['backup_path'])}.",
        markup=False,
        soft_wrap=True,
    )
    console.print(intact, markup=False, soft_wrap=True)
    console.print(
        "The subscription is active again; the ended collaboration stays ended.", markup=False
    )
    console.print(f"To work with an office in it again: {r['next']}", markup=False, soft_wrap=True)
