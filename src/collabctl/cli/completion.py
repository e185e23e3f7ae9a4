"""Shell completion: what each argument and option may be, for Typer's completion protocol.

``collabctl --install-completion`` (or ``source <(collabctl --show-completion bash)``)
makes the shell ask collabctl itself: it runs ``collabctl`` with
``_COLLABCTL_COMPLETE=complete_bash`` and the words typed so far, and collabctl
answers with the values that fit. Options with fixed values complete them
(services, outcomes, ``--by``, checklist items, roles, states, formats); CUSTOMER
completes the customer numbers in the database, with the company's name as the
description where the shell shows one (zsh, fish).

Every function here is silent: a completion that fails offers nothing rather than
printing an error into the middle of a command line. Reading the database is
read-only and never creates one: no database file, nothing offered.

No ``from __future__ import annotations``: Typer reads these signatures to know
which arguments to pass. Nothing heavy is imported at the top: this module is
loaded with the options, on every start.
"""

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import typer

#: CUSTOMER completions offered at once; a shell lists more only after more digits.
MAX_CUSTOMERS = 50

Completion = tuple[str, str]


def _matching(items: Iterable[Completion], incomplete: str) -> list[Completion]:
    return [(value, help) for value, help in items if value.startswith(incomplete)]


def _root_params(ctx: Any) -> dict[str, Any]:
    try:
        return dict(ctx.find_root().params)
    except Exception:
        return {}


def _given(ctx: Any, name: str) -> str | None:
    """A value already on the command line (``-s lon`` narrows the outcomes to lon's)."""
    value = getattr(ctx, "params", {}).get(name)
    return value if isinstance(value, str) else None


def _catalogue(ctx: Any) -> Any:
    """The services known here: the configuration's catalogue, plus those the database
    holds when it can be read; the built-in services when neither can."""
    from collabctl.domain.catalogue import Catalogue

    try:
        from collabctl.config import load_catalogue, load_config_file

        config = load_config_file()
        base = load_catalogue(config)
    except Exception:
        return Catalogue()
    try:
        # the catalogue is everyone's: --as plays no part in it
        with _gateway(ctx, config, scoped=False) as ops:
            if ops is None:
                return base
            return ops.context(writing=False).catalogue
    except Exception:
        return base


class _Invocation:
    """The command line typed so far, as the operations gateway reads it: the database it names, and
    the party of ``--as`` (or COLLABCTL_AS), so a scope completes only what it may see."""

    actor = "unknown"  # a completion only reads

    def __init__(self, ctx: Any, config: dict[str, Any], party: str | None) -> None:
        from collabctl.operations.database_schema import open_database

        self.config = config
        self.party = party
        self.db = open_database(_root_params(ctx).get("database_url"), config)

    def database(self, *, ensure_schema: bool = True) -> Any:
        return self.db

    def ready(self) -> bool:
        """There is a database, at the current schema: nothing is created or migrated."""
        if self.db.sqlite_path is not None and not self.db.sqlite_path.is_file():
            return False
        return bool(self.db.schema_status().current)


@contextmanager
def _gateway(
    ctx: Any, config: dict[str, Any] | None = None, *, scoped: bool = True
) -> Iterator[Any]:
    """The operations gateway on the database the command line names, or None when there is no
    database there yet, or its schema is not current. ``scoped``: acting as the party
    of ``--as``; otherwise as an agent."""
    from collabctl.config import load_config_file
    from collabctl.operations.gateway import Operations

    party = _root_params(ctx).get("party") if scoped else None
    invocation = _Invocation(
        ctx, config if config is not None else load_config_file(), party or None
    )
    try:
        yield Operations(invocation) if invocation.ready() else None
    finally:
        invocation.db.dispose()


def _silent(func: Callable[..., list[Completion]]) -> Callable[..., list[Completion]]:
    def wrapper(ctx: typer.Context, incomplete: str) -> list[Completion]:
        try:
            return func(ctx, incomplete or "")
        except Exception:
            return []

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


@_silent
def customers(ctx: typer.Context, incomplete: str) -> list[Completion]:
    """Customer numbers starting with what was typed, each with its company's name."""
    with _gateway(ctx) as ops:
        if ops is None:
            return []
        from collabctl.operations.companies import customers_starting_with

        return ops.query(customers_starting_with, incomplete, MAX_CUSTOMERS)


@_silent
def services(ctx: typer.Context, incomplete: str) -> list[Completion]:
    """The service codes of the catalogue, each with its name."""
    return _matching(((s.code, s.name) for s in _catalogue(ctx)), incomplete)


@_silent
def outcomes(ctx: typer.Context, incomplete: str) -> list[Completion]:
    """The outcomes, only those of the service when ``--service`` came first."""
    from collabctl.domain.catalogue import OUTCOMES

    allowed: Iterable[str] = OUTCOMES
    code = _given(ctx, "service")
    if code is not None:
        catalogue = _catalogue(ctx)
        if code in catalogue:
            allowed = catalogue.get(code).outcomes
    return _matching(((o, OUTCOMES[o].summary) for o in allowed), incomplete)


@_silent
def checklist_items(ctx: typer.Context, incomplete: str) -> list[Completion]:
    """The checklist items ``--confirm`` can attest, only the service's when it came first."""
    from collabctl.domain.catalogue import CHECKLIST_ITEMS

    items: Iterable[str] = CHECKLIST_ITEMS
    code = _given(ctx, "service")
    if code is not None:
        catalogue = _catalogue(ctx)
        if code in catalogue:
            items = catalogue.get(code).checklist
    found = (CHECKLIST_ITEMS[i] for i in items)
    return _matching(((i.code, i.summary) for i in found if i.attestable), incomplete)


@_silent
def ended_by(ctx: typer.Context, incomplete: str) -> list[Completion]:
    """Who ends a collaboration."""
    return _matching(
        (("customer", "the company ends it"), ("office", "the accounting office ends it")),
        incomplete,
    )


@_silent
def roles(ctx: typer.Context, incomplete: str) -> list[Completion]:
    """A user's roles."""
    return _matching(
        (
            ("administrator", "manages the company; the main contact is one"),
            ("user", "works in the services they have"),
            ("auditor", "reads only; never the main contact"),
        ),
        incomplete,
    )


def words(*choices: str) -> Callable[..., list[Completion]]:
    """A completion of fixed words, e.g. the states an option takes."""

    @_silent
    def complete(ctx: typer.Context, incomplete: str) -> list[Completion]:
        return _matching(((choice, "") for choice in choices), incomplete)

    return complete
