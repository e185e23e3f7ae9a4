"""The commands, grouped by what they do; each module is one group.

    data.py      demo, import, export      data in and out
    views.py     list, show, log           reading
    changes.py   start, set-main-contact, add-user, end
    users.py     user list|add|set-role|set-services|remove
    restore.py   restore                   a deleted company's records back
    notify.py    notify list|send|retry|cancel
    schedule.py  schedule list|cancel|run
    admin.py     doctor, db upgrade|grant|current   the setup

A new command goes into the module of its kind, or into a new module built the
same way: a ``commands = command_group()`` at the top, one function per command
decorated with ``@commands.command()`` and ``@handles_errors``, whose body reads
like its help page (the work is an operations call, the output a render call),
its module named in ``GROUPS`` and the command in ``WHERE`` in ``cli/app.py`` (running
one command imports only its module: ``cli/command_tree.py``). A sub-group (``user``) is a
``command_group(name=..., help=...)`` added to its module's group. Every command
takes the global options (``cli/global_options.py``). Shared arguments and options
come from ``cli/options.py``, the invocation's state from ``current_state()``.

No ``from __future__ import annotations`` in these modules: Typer reads the
signature of every command of a module it builds. Operations, SQLAlchemy and questionary are
imported inside the command bodies, so ``--help`` and ``--version`` stay fast.
"""

from typing import Any

import typer

from collabctl.cli import global_options


class CommandGroup(typer.Typer):
    """A Typer whose commands and sub-groups list the global options in their help in a
    section of their own (``global_options.Command`` and ``Group``)."""

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", global_options.Command)
        return super().command(*args, **kwargs)


def command_group(**settings: Any) -> CommandGroup:
    """A Typer holding a group of commands: merged into the root app by ``cli/app.py``, or
    a sub-group (``user``, ``db``) when given a ``name``."""
    settings.setdefault("cls", global_options.Group)
    return CommandGroup(rich_markup_mode=None, **settings)
