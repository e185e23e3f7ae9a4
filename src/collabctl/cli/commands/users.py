"""A company's users, as the vendor's "Users and services" page has them: the ``user``
group (``list``, ``add``, ``set-role``, ``set-services``, ``remove``).

``user add`` is ``add-user`` under its group name: the same command, so the two never
drift apart. ``set-main-contact`` stays at the top level.

In a terminal, a left-out EMAIL or ROLE is picked from a list; otherwise the command
fails with exit 2 and names what is missing.
"""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from collabctl.cli.commands import changes, command_group
from collabctl.cli.errors import handles_errors
from collabctl.cli.options import (
    CustomerArgument,
    DryRunOption,
    FieldsOption,
    FormatOption,
    YesOption,
)
from collabctl.cli.output import Format, emit_object, emit_rows
from collabctl.cli.render import render_user_change
from collabctl.cli.state import current_state
from collabctl.domain.errors import UsageError

if TYPE_CHECKING:
    from collabctl.cli.state import State

commands = command_group()

USER_HELP = """\
A company's users: who they are, their role, and the services they have.

Roles: administrator (manages the company; the main contact is always one),
user (works in the services they have), auditor (reads only, e.g. the
company's external auditor; never the main contact).

The main contact can be neither demoted below administrator nor removed
(main-contact-required): set another main contact first with
`collabctl set-main-contact CUSTOMER --user OTHER`. Every change is one event
in the audit log, with the user before and after.

\b
Examples:
  collabctl user list 1001
  collabctl user set-role 1001 erik@kund.se administrator
  collabctl user set-services 1001 erik@kund.se --grant eekonomi --revoke utlagg
  collabctl user remove 1001 revisor@granskarna.se
"""

user = command_group(name="user", help=USER_HELP, no_args_is_help=True)
commands.add_typer(user, name="user")

#: the keys of a user in every machine format
USER_KEYS = ("email", "name", "role", "main_contact", "services")
#: the keys of a change's result (``--format json``)
CHANGE_KEYS_HELP = (
    "Keys (json): customer_number, email, name, role, main_contact, services, "
    "changed, before, after (the user before and after the change)."
)

ROLE_SUMMARY = {
    "administrator": "manages the company's users and services; the main contact is one",
    "user": "works in the services they have access to",
    "auditor": "reads only (free), e.g. the external auditor; never the main contact",
}


def _complete_role(incomplete: str) -> list[str]:
    return [role for role in ROLE_SUMMARY if role.startswith(incomplete)]


EmailArgument = Annotated[
    str | None,
    typer.Argument(
        metavar="EMAIL",
        help="The user's e-mail (any case). Picked from a list in a terminal when left out.",
        show_default=False,
    ),
]


@user.command("list")
@handles_errors
def list_cmd(
    customer: CustomerArgument, fields: FieldsOption = None, fmt: FormatOption = Format.table
) -> None:
    """List a company's users: e-mail, name, role, main contact, services.

    Keys (json, jsonl, csv): email, name, role, main_contact, services.

    \b
    Examples:
      collabctl user list 1001
      collabctl user list 1001 --format csv > users.csv
    """
    from collabctl.domain import validation
    from collabctl.operations.users import list_users

    number = validation.customer_number(customer, "CUSTOMER")
    state = current_state()
    users = state.operations.read(list_users, number)
    if fmt is Format.table:  # as `show` has them: for reading, not for parsing
        users = [
            {
                **u,
                "main_contact": "yes" if u["main_contact"] else "",
                "services": ", ".join(u["services"]),
            }
            for u in users
        ]
    emit_rows(state.env, iter(users), fmt, USER_KEYS, empty=f"customer {number} has no users")


user.command(
    "add",
    help=str(changes.add_user_cmd.__doc__ or "").replace(
        "Create a user of a company;",
        "Create a user of a company (also: collabctl add-user);",
        1,
    ),
)(changes.add_user_cmd)


@user.command("set-role")
@handles_errors
def set_role_cmd(
    customer: CustomerArgument,
    email: EmailArgument = None,
    role: Annotated[
        str | None,
        typer.Argument(
            metavar="ROLE",
            help="administrator, user or auditor. Picked from a list in a terminal when left out.",
            show_default=False,
            autocompletion=_complete_role,
        ),
    ] = None,
    dry_run: DryRunOption = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Give a user another role: administrator, user or auditor.

    The main contact stays an administrator: demoting them is refused with
    main-contact-required until another user is main contact
    (`collabctl set-main-contact CUSTOMER --user OTHER`). Setting the role a
    user has already changes nothing.

    \b
    Examples:
      collabctl user set-role 1001 erik@kund.se administrator
      collabctl user set-role 1001          (pick the user and the role, in a terminal)
    """
    from collabctl.domain import validation
    from collabctl.operations.users import set_role

    number = validation.customer_number(customer, "CUSTOMER")
    state = current_state()
    usage = f"collabctl user set-role {number} EMAIL ROLE"
    picked = _pick_user(state, number, email, "whose role?", usage)
    if role is None:
        if not state.env.can_prompt:
            raise UsageError(
                "which role? ROLE is required", f"{usage}, ROLE one of administrator|user|auditor"
            )
        role = _pick_role(state, number, picked)
    result = state.operations.write(set_role, number, picked, role, dry_run=dry_run)
    emit_object(state.env, result.to_dict(), fmt, render_user_change)


set_role_cmd.__doc__ = f"{set_role_cmd.__doc__}\n    {CHANGE_KEYS_HELP}\n"


@user.command("set-services")
@handles_errors
def set_services_cmd(
    customer: CustomerArgument,
    email: EmailArgument = None,
    grant: Annotated[
        list[str] | None,
        typer.Option("--grant", "-g", metavar="SERVICE", help="Give access (repeatable)."),
    ] = None,
    revoke: Annotated[
        list[str] | None,
        typer.Option("--revoke", "-r", metavar="SERVICE", help="Take access away (repeatable)."),
    ] = None,
    dry_run: DryRunOption = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Change which services a user has: --grant gives access, --revoke takes it away.

    A granted service must be one the company subscribes to (not-found
    otherwise); granting and revoking one service in the same call is
    invalid-input. In a terminal, without --grant and --revoke, tick the
    services from a list.

    \b
    Examples:
      collabctl user set-services 1001 erik@kund.se --grant eekonomi --revoke utlagg
      collabctl user set-services 1004 karin@byggumea.se -g lon
    """
    from collabctl.domain import validation
    from collabctl.operations.users import set_services

    number = validation.customer_number(customer, "CUSTOMER")
    state = current_state()
    usage = f"collabctl user set-services {number} EMAIL --grant SERVICE --revoke SERVICE"
    picked = _pick_user(state, number, email, "whose services?", usage)
    granted, revoked = list(grant or []), list(revoke or [])
    if not granted and not revoked:
        if not state.env.can_prompt:
            raise UsageError("which services? pass --grant or --revoke", usage)
        granted, revoked = _tick_services(state, number, picked)
        if not granted and not revoked:
            unchanged = _user(state, number, picked)
            change = {"customer_number": number, **unchanged, "changed": False}
            emit_object(
                state.env,
                {**change, "before": unchanged, "after": unchanged},
                fmt,
                render_user_change,
            )
            return
    result = state.operations.write(set_services, number, picked, granted, revoked, dry_run=dry_run)
    emit_object(state.env, result.to_dict(), fmt, render_user_change)


set_services_cmd.__doc__ = f"{set_services_cmd.__doc__}\n    {CHANGE_KEYS_HELP}\n"


@user.command("remove")
@handles_errors
def remove_cmd(
    customer: CustomerArgument,
    email: EmailArgument = None,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Remove a user from a company. Their records (expense reports, outlays) stay.

    The main contact cannot be removed (main-contact-required): set another
    main contact first (`collabctl set-main-contact CUSTOMER --user OTHER`).
    In a terminal it asks before removing; otherwise --yes is required (not
    for --dry-run).

    \b
    Examples:
      collabctl user remove 1001 revisor@granskarna.se --dry-run
      collabctl user remove 1001 revisor@granskarna.se --yes
      collabctl user remove 1001            (pick the user, in a terminal)
    """
    import shlex

    from collabctl.domain import validation
    from collabctl.domain.errors import Cancelled
    from collabctl.operations.users import remove_user

    number = validation.customer_number(customer, "CUSTOMER")
    state = current_state()
    picked = _pick_user(
        state, number, email, "which user?", f"collabctl user remove {number} EMAIL"
    )
    if not yes and not dry_run:
        # the rules first (the main contact stays), as `end` checks before it asks
        state.operations.check(remove_user, number, picked)
        if not state.env.can_prompt:
            raise UsageError(
                f"removing a user needs confirmation: pass --yes ({state.env.why_no_prompt})",
                f"collabctl user remove {number} {shlex.quote(picked)} --yes "
                "(or --dry-run to see what it would do)",
            )
        from collabctl.cli.pickers import ask

        question = f"Remove {picked} from customer {number}? Their records stay."
        if not ask(state.env, "confirm", question, default=False):
            raise Cancelled(f"cancelled: {picked} was not removed; nothing changed")
    result = state.operations.write(remove_user, number, picked, dry_run=dry_run)
    emit_object(state.env, result.to_dict(), fmt, render_user_change)


remove_cmd.__doc__ = f"{remove_cmd.__doc__}\n    {CHANGE_KEYS_HELP}\n"


# -- picking --------------------------------------------------------------------------


def _pick_user(state: "State", number: str, email: str | None, question: str, usage: str) -> str:
    """The e-mail given, or one picked from the company's users in a terminal."""
    if email is not None:
        return email
    if not state.env.can_prompt:
        raise UsageError(f"{question} EMAIL is required", usage)
    from collabctl.cli.pickers import select
    from collabctl.cli.safe_text import visible
    from collabctl.domain.errors import NotFound
    from collabctl.operations.users import list_users

    users = state.operations.read(list_users, number)
    if not users:
        raise NotFound(
            f"customer {number} has no users",
            f"add one: collabctl user add {number} --email EMAIL",
        )
    width = max(len(u["email"]) for u in users)
    choices = [
        (
            visible(
                f"{u['email']:<{width}}  {u['name']} ({u['role']}"
                + (", main contact" if u["main_contact"] else "")
                + ")"
                + (f"  {', '.join(u['services'])}" if u["services"] else "")
            ),
            u["email"],
        )
        for u in users
    ]
    return str(select(state.env, f"User of customer {number}, {question}", choices))


def _user(state: "State", number: str, email: str) -> dict[str, Any]:
    from collabctl.operations.users import get_user

    return state.operations.read(get_user, number, email)


def _pick_role(state: "State", number: str, email: str) -> str:
    from collabctl.cli.pickers import select

    current = _user(state, number, email)
    width = max(len(r) for r in ROLE_SUMMARY)
    choices = [
        (f"{r:<{width}}  {summary}" + ("  (now)" if r == current["role"] else ""), r)
        for r, summary in ROLE_SUMMARY.items()
    ]
    return str(
        select(state.env, f"New role of {current['email']}:", choices, default=current["role"])
    )


def _tick_services(state: "State", number: str, email: str) -> tuple[list[str], list[str]]:
    """Tick the services the user should have, of those the company subscribes to."""
    import questionary

    from collabctl.cli.pickers import ask
    from collabctl.operations.users import subscribed_services

    current = _user(state, number, email)
    offered = state.operations.read(subscribed_services, number)
    if not offered:
        raise UsageError(
            f"customer {number} subscribes to no service",
            f"start one first: collabctl start {number} --service SERVICE --office ORG_NUMBER",
        )
    has = set(current["services"])
    ticked = ask(
        state.env,
        "checkbox",
        f"Services of {current['email']}:",
        choices=[questionary.Choice(s, value=s, checked=s in has) for s in offered],
        instruction="(space to tick, enter when done)",
    )
    granted = [s for s in ticked if s not in has]
    revoked = [s for s in offered if s in has and s not in ticked]
    return granted, revoked
