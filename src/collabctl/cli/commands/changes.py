"""Changes: ``start``, ``set-main-contact``, ``add-user``, ``end``."""

from typing import Annotated

import typer

from collabctl.cli import completion
from collabctl.cli.commands import command_group
from collabctl.cli.errors import handles_errors
from collabctl.cli.options import (
    CustomerArgument,
    DryRunOption,
    FieldsOption,
    FormatOption,
    OptionalCustomerArgument,
    OptionalServiceOption,
    ServiceOption,
)
from collabctl.cli.output import Format, emit_object
from collabctl.cli.state import current_state
from collabctl.domain.errors import UsageError

commands = command_group()


@commands.command()
@handles_errors
def start(
    customer: CustomerArgument,
    service: ServiceOption,
    office: Annotated[
        str,
        typer.Option("--office", metavar="ORG_NUMBER", help="The accounting office's org number."),
    ],
    dry_run: DryRunOption = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Start a collaboration between a company and an office for one service.

    Creates the subscription if the company has none; a read-only or no-access
    subscription becomes active again; a deleted one starts fresh and empty.
    Refused with duplicate when the service already has an active collaboration.

    Keys (json): the collaboration, as in `collabctl list`.

    \b
    Examples:
      collabctl start 0042 --service eekonomi --office 556677-8899
      collabctl start 1002 -s fakturering --office 559123-4561 --format json
      collabctl start 0042 -s eekonomi --office 556677-8899 --dry-run
    """
    from collabctl.cli.render import render_collaboration
    from collabctl.domain import validation
    from collabctl.operations.parties import start_collaboration

    number = validation.customer_number(customer, "CUSTOMER")
    org = validation.org_number(office, "--office")
    state = current_state()
    result = state.operations.write(start_collaboration, number, service, org, dry_run=dry_run)
    emit_object(state.env, result, fmt, render_collaboration)


@commands.command("set-main-contact")
@handles_errors
def set_main_contact_cmd(
    customer: CustomerArgument,
    user: Annotated[
        str | None,
        typer.Option(
            "--user", "-u", metavar="EMAIL", help="E-mail of the user to make main contact."
        ),
    ] = None,
    dry_run: DryRunOption = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Make a user the company's main contact.

    A user with role `user` is promoted to administrator; an auditor cannot be
    main contact. The previous main contact stays administrator. Without --user,
    pick the user from a list (in a terminal).

    Keys (json): email, name, role, main_contact, services, changed, promoted,
    previous_main_contact.

    \b
    Examples:
      collabctl set-main-contact 1002 --user lars@snickerinorr.se
      collabctl set-main-contact 1002          (pick the user, in a terminal)
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
        from collabctl.cli.pickers import pick_main_contact
        from collabctl.operations.picking import main_contact_candidates

        # a scope sees the users only of a company it may change
        candidates = state.operations.read(main_contact_candidates, number)
        user = pick_main_contact(state.env, candidates)
    result = state.operations.write(set_main_contact, number, user, dry_run=dry_run)
    emit_object(state.env, result, fmt, render_user)


@commands.command("add-user")
@handles_errors
def add_user_cmd(
    customer: CustomerArgument,
    email: Annotated[
        str,
        typer.Option(
            "--email", "-e", metavar="EMAIL", help="The user's e-mail (unique in the company)."
        ),
    ],
    name: Annotated[
        str | None,
        typer.Option("--name", "-n", metavar="NAME", help="Full name. Default: from the e-mail."),
    ] = None,
    role: Annotated[
        str | None,
        typer.Option(
            "--role",
            "-r",
            help="administrator, user or auditor. Default: user.",
            metavar="ROLE",
            autocompletion=completion.roles,
        ),
    ] = None,
    services: Annotated[
        list[str] | None,
        typer.Option(
            "--service",
            "-s",
            metavar="SERVICE",
            help="Give access to a service (repeatable).",
            autocompletion=completion.services,
        ),
    ] = None,
    main_contact: Annotated[
        bool, typer.Option("--main-contact", help="Make the user administrator and main contact.")
    ] = False,
    dry_run: DryRunOption = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Create a user of a company; --main-contact makes them administrator and main contact.

    Use it when the person who should be main contact is not yet a user, or to
    give the customer a user with access to a service (e.g. --service lon before
    a payroll handover).

    Keys (json): email, name, role, main_contact, services, promoted,
    previous_main_contact.

    \b
    Examples:
      collabctl add-user 1002 --email karin@snickerinorr.se --name "Karin Berg" --main-contact
      collabctl add-user 1004 -e lisa@byggumea.se -n "Lisa Ek" --service lon
    """
    from collabctl.cli.render import render_user
    from collabctl.domain import validation
    from collabctl.operations.parties import add_user

    number = validation.customer_number(customer, "CUSTOMER")
    state = current_state()
    result = state.operations.write(
        add_user, number, email, name, role, services or [], main_contact, dry_run=dry_run
    )
    emit_object(state.env, result, fmt, render_user)


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
skips it. `collabctl restore BACKUP_FILE` puts the data back.

In a terminal, missing arguments are asked for. Otherwise they are required,
and so is --yes (not for --dry-run).

Keys (json): the ended collaboration (as in `collabctl list`) plus
subscription_state, forced, backup_path, records_deleted. With --dry-run:
customer_number, service, office_org_number, ended_by, outcome, ok, checks
(check, ok, message, error) and checklist (item, met, by, detail).

With --at DATE|month-end|year-end, schedule the end instead: it takes effect at
the end of that day in the configured time zone (timezone in config.toml,
default Europe/Stockholm; due at 00:00 the next day) when `collabctl schedule
run` performs it, with the same checks then. What cannot change by then refuses
now (not-found, already-ended, not-a-party, outcome-not-allowed); a missing main
contact or an unmet checklist item is shown as what must be done by then. One
scheduled end per collaboration (duplicate); --replace moves it. Keys (json):
the scheduled end (as in `collabctl schedule list`) plus ends_on, replaced and
to_do (check, message, hint).

With --from FILE|-, end many: one customer number or JSON object a line
({"customer_number", "service", "outcome", "by", "reason", "confirm", "force"});
the flags fill in what a line leaves out. One result per line (--format jsonl:
line, customer_number, service, status ended|already-ended|would-end|failed,
outcome, error). Exit 0 when every line ended or had already ended, 4 otherwise;
an input without any item is invalid-input (exit 2), as for `collabctl import`.

\b
Examples:
  collabctl end 1001 -s eekonomi -o continue --by customer --dry-run
  collabctl end 1001 -s eekonomi -o continue --by customer --yes
  collabctl end 1005 -s lon -o handover --by office -c data-synchronised -y
  collabctl end --from customers.txt -s utlagg -o continue --by office --yes
  collabctl end 1001 -s eekonomi -o continue --by office --at 2027-01-31 --yes
  collabctl end --from customers.txt -s eekonomi -o continue --by office --at year-end --yes
  collabctl end                  (interactive: asks for what is missing)
"""


@commands.command(help=END_HELP)
@handles_errors
def end(
    customer: OptionalCustomerArgument = None,
    service: OptionalServiceOption = None,
    outcome: Annotated[
        str | None,
        typer.Option(
            "--outcome",
            "-o",
            metavar="OUTCOME",
            help="What happens afterwards: continue, deactivate, delete, handover.",
            autocompletion=completion.outcomes,
        ),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            help="On whose behalf: customer or office (implied by --as).",
            metavar="customer|office",
            autocompletion=completion.ended_by,
        ),
    ] = None,
    confirm: Annotated[
        list[str] | None,
        typer.Option(
            "--confirm",
            "-c",
            help="Attest a checklist item as done (repeatable).",
            metavar="ITEM",
            autocompletion=completion.checklist_items,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="End even if checklist items are not met (recorded).")
    ] = False,
    reason: Annotated[
        str | None,
        typer.Option("--reason", metavar="TEXT", help="Why; recorded with the collaboration."),
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
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="DATE|month-end|year-end",
            help="Schedule the end for the end of this day (YYYY-MM-DD, from tomorrow on); "
            "`collabctl schedule run` performs it.",
        ),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="With --at: move the scheduled end to the new day.")
    ] = False,
    fields: FieldsOption = None,
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
        at=at,
        replace=replace,
    )
    if fields is not None and from_file is None:
        raise UsageError(
            "--fields chooses the keys of the results of --from",
            "collabctl end --from FILE --fields line,customer_number,status ...",
        )
    if replace and at is None:
        raise UsageError(
            "--replace moves a scheduled end: it needs --at",
            "collabctl end ... --at DATE --replace",
        )
    if from_file is not None:
        if customer is not None:
            raise UsageError(
                "give either CUSTOMER or --from, not both", "collabctl end --from FILE|- [flags]"
            )
        if at is not None:
            from collabctl.cli.scheduling import schedule_bulk

            raise typer.Exit(schedule_bulk(state, options, from_file, at, replace, fmt))
        from collabctl.cli.bulk import end_bulk

        raise typer.Exit(end_bulk(state, options, from_file, fmt))
    if at is not None and customer is not None and service is not None:
        from collabctl.cli.scheduling import schedule_one

        schedule_one(state, options, at, replace, fmt)
    elif ending.asks(state, options):
        from collabctl.cli.interactive import end_interactively

        end_interactively(state, options, fmt)
    else:
        ending.end_one(state, options, fmt)
