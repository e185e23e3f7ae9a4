"""Render the command reference, docs/cli.md, from the commands' own ``--help``.

    python -m collabctl.cli.docgen > docs/cli.md     # regenerate
    python -m collabctl.cli.docgen --check           # exit 1 when docs/cli.md is stale

The reference is the help text itself, so it cannot say something the command
does not. The text is rendered at a fixed width with no colour, so the output
depends only on the code, never on the terminal it is generated in.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from collabctl.cli.app import app
from collabctl.cli.typer_internals import get_command

#: click's own help width on any terminal at least 80 columns wide (80 - 2), so the
#: reference reads exactly like ``collabctl COMMAND --help`` in a normal terminal.
WIDTH = 78
DEFAULT_PATH = Path("docs/cli.md")
REGENERATE = "python -m collabctl.cli.docgen > docs/cli.md"


@dataclass(frozen=True)
class CommandHelp:
    path: tuple[str, ...]  # ("collabctl", "db", "upgrade")
    summary: str
    help: str

    @property
    def name(self) -> str:
        return " ".join(self.path)

    @property
    def anchor(self) -> str:
        # the id GitHub and most Markdown renderers give a heading "collabctl db upgrade"
        return "-".join(self.path)


# Typer ships its own copy of click in newer releases: only Typer's public names are used
# here (typer.Context is click's Context), so this works with either.
Command = Any


def _context(command: Command, name: str, parent: typer.Context | None) -> typer.Context:
    settings = {
        **command.context_settings,
        "terminal_width": WIDTH,
        "max_content_width": WIDTH,
        "color": False,
    }
    return typer.Context(command, info_name=name, parent=parent, **settings)


def _walk(
    command: Command, name: str, parent: typer.Context | None
) -> Iterator[tuple[Command, typer.Context]]:
    ctx = _context(command, name, parent)
    yield command, ctx
    if hasattr(command, "list_commands"):  # a group
        # the order `--help` lists them in, so the reference reads like the tool
        for sub_name in command.list_commands(ctx):
            sub = command.get_command(ctx, sub_name)
            if sub is not None and not sub.hidden:
                yield from _walk(sub, sub_name, ctx)


def commands() -> list[CommandHelp]:
    """Every command and subcommand with its rendered help, root first."""
    root = get_command(app)
    found = []
    for command, ctx in _walk(root, "collabctl", None):
        found.append(
            CommandHelp(
                path=tuple(ctx.command_path.split()),
                summary=command.get_short_help_str(limit=200),
                help=command.get_help(ctx).rstrip() + "\n",
            )
        )
    return found


def render() -> str:
    """The whole of docs/cli.md."""
    found = commands()
    lines = [
        "# Command reference",
        "",
        f"<!-- Generated from the commands' --help by `{REGENERATE}`."
        " Do not edit: change the help text in src/collabctl/cli/ and regenerate. -->",
        "",
        "Every `collabctl` command as its `--help` prints it. Configuration, output",
        "formats, exit codes and error codes are in the [README](../README.md); the",
        "[support guide](guide.md) walks through the everyday tasks.",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    lines += [f"| [{c.name}](#{c.anchor}) | {_cell(c.summary)} |" for c in found]
    for c in found:
        lines += ["", f"## {c.name}", "", "```text", c.help.rstrip("\n"), "```"]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _write_stdout(text: str) -> None:
    # UTF-8 whatever the locale says: the file is UTF-8 and names like "Exempelbyrån" are in it
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(text)
    else:
        buffer.write(text.encode("utf-8"))
        buffer.flush()


def check(path: Path) -> str | None:
    """None when ``path`` is current, otherwise a message saying what differs and how to fix it."""
    expected = render()
    try:
        actual = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return f"{path} does not exist; create it with: {REGENERATE}"
    if actual == expected:
        return None
    diff = difflib.unified_diff(
        actual.splitlines(keepends=True),
        expected.splitlines(keepends=True),
        fromfile=f"{path} (on disk)",
        tofile=f"{path} (from --help)",
        n=1,
    )
    shown = "".join(list(diff)[:60])
    return f"{path} is out of date with the commands' --help; regenerate it with:\n    {REGENERATE}\n\n{shown}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m collabctl.cli.docgen",
        description="Print the command reference (docs/cli.md) generated from --help.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not print; exit 1 with a diff when PATH differs from the generated text",
    )
    parser.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=DEFAULT_PATH,
        help=f"the reference file for --check (default: {DEFAULT_PATH})",
    )
    args = parser.parse_args(argv)
    if args.check:
        problem = check(args.path)
        if problem is not None:
            sys.stderr.write(problem.rstrip("\n") + "\n")
            return 1
        sys.stderr.write(f"{args.path} is up to date\n")
        return 0
    _write_stdout(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
