"""The ``collabctl`` command line: the root app, its global options, and its commands.

The commands live in ``cli/commands/``, one module per kind; this module merges
them into the root app (``GROUPS``), each when first needed (``command_tree``).
Entry points: ``collabctl.cli.app:app`` (the Typer app) and
``collabctl.cli.app:main`` (the console script).
"""

# No `from __future__ import annotations`: Typer reads the root's signature (and the
# command's run) at each start, and string annotations would be compiled and
# evaluated then (start-up time, docs/performance.md).

import getpass
from typing import Annotated, Any

import typer

from collabctl import __version__
from collabctl.cli import global_options
from collabctl.cli.command_tree import LazyCommands
from collabctl.cli.env import Environment
from collabctl.cli.errors import ContractGroup, closed_output_exits, guard_main
from collabctl.cli.output import ColorMode
from collabctl.cli.state import State, begin

HELP = """\
End, start and audit collaborations between companies and their accounting offices.

A company and its accounting office collaborate per service (eekonomi,
fakturering, lon, utlagg). `collabctl end` ends one collaboration, checking the
rules first (main contact, allowed outcome, checklist); `end --from` ends many.

Data lives in a local SQLite file unless --database-url points elsewhere.
Start with `collabctl demo` to load example data.

Exit codes: 0 done, 1 refused by a rule, 2 usage error or invalid input,
3 database or configuration problem, 4 bulk run with failed items, 130 interrupted,
141 output closed (stdout closed, or its reader went away: what was done stays done).

\b
Examples:
  collabctl demo && collabctl list
  collabctl show 1001
  collabctl end 1001 -s eekonomi -o continue --by customer --dry-run
  collabctl end                  (interactive, in a terminal)

The options below, but --version, also work after the command, with the same result:

\b
  collabctl list --as office:556677-8899
  collabctl --as office:556677-8899 list

Run `collabctl COMMAND --help` for the details of a command.
"""

#: The command groups (modules of ``cli/commands/``), merged into the root app, in the
#: order their commands join it. A module is imported when one of its commands is run
#: (``command_tree``), or when the commands are listed.
GROUPS = ("data", "views", "changes", "users", "restore", "notify", "schedule", "admin")

#: The group of each command, so that running one builds only its group; a command
#: missing here still works, found by building every group (tests/test_startup.py
#: checks that this is complete).
WHERE = {
    **dict.fromkeys(("demo", "import", "export"), "data"),
    **dict.fromkeys(("list", "show", "log"), "views"),
    **dict.fromkeys(("start", "set-main-contact", "add-user", "end"), "changes"),
    "user": "users",
    "restore": "restore",
    "notify": "notify",
    "schedule": "schedule",
    "doctor": "admin",
    "db": "admin",
}

_PACKAGE = "collabctl.cli.commands."

#: The order of the commands in ``collabctl --help``: first what a new user tries,
#: then the changes, then the setup. Commands not named here follow, in the order
#: their groups are registered.
HELP_ORDER = (
    "demo",
    "import",
    "list",
    "show",
    "start",
    "set-main-contact",
    "add-user",
    "user",
    "export",
    "log",
    "end",
    "restore",
    "schedule",
    "notify",
    "doctor",
    "db",
)


class _Root(ContractGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = LazyCommands(
            self.commands,
            [_PACKAGE + group for group in GROUPS],
            {name: _PACKAGE + group for name, group in WHERE.items()},
            self._prepare,
        )

    def _prepare(self, command: Any) -> None:
        """What the root does for each of its commands (``ContractGroup``), as it is built."""
        from collabctl.cli.options import apply_conventions

        apply_conventions(command)
        global_options.inherit(self, command)

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        rank = {name: i for i, name in enumerate(HELP_ORDER)}
        return sorted(names, key=lambda name: rank.get(name, len(rank)))

    # Standard output closed or its reader gone, wherever it shows: exit 141, silently.
    def make_context(self, *args: Any, **kwargs: Any) -> Any:  # --help, --version
        with closed_output_exits():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:  # the commands
        with closed_output_exits():
            return super().invoke(ctx)


app = typer.Typer(
    name="collabctl",
    cls=_Root,
    help=HELP,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        out = Environment.detect().stdout
        out.write(f"collabctl {__version__}\n")
        out.flush()
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            metavar="URL",
            help="Database to use: sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DB. "
            "Default: COLLABCTL_DATABASE_URL, then database_url in config.toml, "
            "then a SQLite file in the user data directory.",
            show_default=False,
        ),
    ] = None,
    party: Annotated[
        str | None,
        typer.Option(
            "--as",
            envvar="COLLABCTL_AS",
            metavar="PARTY",
            help="Act for one party: office:ORG_NUMBER or customer:CUSTOMER_NUMBER. "
            "Without it collabctl acts as a support agent, for all parties.",
            show_default=False,
        ),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            "--actor",
            envvar="COLLABCTL_ACTOR",
            metavar="NAME",
            help="Name recorded in the audit log. Default: your login name.",
            show_default=False,
        ),
    ] = None,
    no_input: Annotated[
        bool,
        typer.Option(
            "--no-input",
            envvar="COLLABCTL_NO_INPUT",
            help="Never prompt; fail with exit 2 naming the missing flag instead.",
        ),
    ] = False,
    color: Annotated[
        ColorMode | None,
        typer.Option(
            "--color",
            envvar="COLLABCTL_COLOR",
            case_sensitive=False,
            help="Colour: auto (on a terminal, unless NO_COLOR is set), always or never.",
            show_default=False,
        ),
    ] = None,
    no_pager: Annotated[
        bool,
        typer.Option(
            "--no-pager",
            help="Print long output straight to the terminal "
            "(the pager: COLLABCTL_PAGER, then PAGER, else less -FRX).",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    # an Environment given by the caller (a test), or the detected one
    env = ctx.obj if isinstance(ctx.obj, Environment) else Environment.detect()
    login = _login_name()
    state = ctx.obj = begin(State(env=env, actor=login, login=login))
    # the same path as the options given after the command (global_options.inherit)
    for name, value in (
        ("database_url", database_url),
        ("party", party),
        ("actor", actor),
        ("no_input", no_input),
        ("color", color),
        ("no_pager", no_pager),
    ):
        global_options.apply(state, name, value)
    ctx.call_on_close(state.close)


#: The longest name ``--actor`` may record in the audit log.
ACTOR_MAX_LENGTH = global_options.ACTOR_MAX_LENGTH


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def main() -> None:
    """Console entry point."""
    guard_main(app)
