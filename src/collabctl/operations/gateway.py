"""The one way the command line reaches the operations: an :class:`Operations` gateway per
invocation (the Factory of other command lines).

A command never opens a session. It hands an operation and its arguments to the
gateway of its invocation, which opens the database, builds the acting
:class:`~collabctl.operations.context.Context` and runs the operation in the
transaction it needs::

    state.operations.write(users.set_role, number, email, role, dry_run=dry_run)
    state.operations.read(users.list_users, number)
    rows = state.operations.query(views.show_company, number)

Each operation is a function ``(session_or_connection, ctx, *args, **kwargs)`` that
returns plain data. A method ending in ``-ing`` (:meth:`Operations.querying`,
:meth:`Operations.running`) is a context manager: the transaction stays open while the
caller uses what the operation returned (rows streamed to the terminal, items of an
import).

Nothing heavy is imported here at the top: ``list``, ``show`` and ``log`` come through
:meth:`Operations.query` and load neither the ORM nor SQLModel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from collabctl.operations.context import Context
    from collabctl.operations.database_schema import Database, SchemaReport
    from collabctl.store.database import Reader

T = TypeVar("T")


class Invocation(Protocol):
    """What the gateway needs to know of the command line: who acts, for whom, with which
    settings and database (the command line's State is one)."""

    actor: str
    #: ``office:ORG`` or ``customer:NUMBER`` as given, None for an agent
    party: str | None

    @property
    def config(self) -> dict[str, Any]: ...

    def database(self, *, ensure_schema: bool = True) -> Database: ...


class Operations:
    """The operations of one invocation, each run in the transaction it needs.

    ``on_dry_run``: called after a change was run with ``dry_run`` and rolled back (the
    command line says on stderr that nothing changed).
    """

    def __init__(
        self, invocation: Invocation, *, on_dry_run: Callable[[], None] | None = None
    ) -> None:
        self._invocation = invocation
        self._on_dry_run = on_dry_run

    # -- the database ------------------------------------------------------------------

    @property
    def database(self) -> Database:
        """The database, opened on first use, its schema checked (the embedded one made
        current): for the operations that run their own transactions (bulk end, import's
        batches, ``schedule run``, ``notify send``, ``log --verify``, ``db grant``)."""
        return self._invocation.database()

    def open(self) -> None:
        """Open the database and check its schema now: a command that reads its input
        afterwards reports a database it cannot use before a problem with the input."""
        self._invocation.database()

    def upgrade_schema(self) -> dict[str, Any]:
        """``db upgrade``: see :func:`collabctl.operations.database_schema.upgrade`."""
        from collabctl.operations.database_schema import upgrade

        return upgrade(self._invocation.database(ensure_schema=False))

    def schema_report(self) -> SchemaReport:
        """``db current``: see :func:`collabctl.operations.database_schema.status`."""
        from collabctl.operations.database_schema import status

        return status(self._invocation.database(ensure_schema=False))

    # -- the acting context ------------------------------------------------------------

    def context(self, *, writing: bool = True) -> Context:
        """The acting context, read in a transaction of its own: for an operation that
        runs its own transactions (:attr:`database`) and is given the context."""
        with self.database.reading() as connection:
            return self._context(connection, writing=writing)

    def _context(self, reader: Reader, *, writing: bool = True) -> Context:
        """The acting context; a read (``writing`` false) queues no message, so it leaves
        the language of notifications at its default and the mail templates unloaded."""
        from collabctl.config import load_catalogue as configured_catalogue
        from collabctl.operations.context import Context, Party, load_catalogue

        invocation = self._invocation
        party = Party.parse(invocation.party) if invocation.party else None
        catalogue = load_catalogue(reader, configured_catalogue(invocation.config))
        if not writing:
            return Context(invocation.actor, party, catalogue)
        from collabctl.operations.mail_templates import language_setting

        return Context(
            invocation.actor,
            party,
            catalogue,
            mail_language=language_setting(invocation.config),
        )

    # -- running operations ------------------------------------------------------------

    def write(
        self, work: Callable[..., T], /, *args: Any, dry_run: bool = False, **kwargs: Any
    ) -> T:
        """``work(session, ctx, *args, **kwargs)`` in one writing transaction, run again on
        lock conflicts, and committed.

        ``dry_run``: run it just the same (every rule, every row, the audit event) and
        roll it back, so a dry run cannot differ from the real run.
        """
        result = self.database.transact(
            lambda session: work(session, self._context(session), *args, **kwargs),
            commit=not dry_run,
        )
        if dry_run and self._on_dry_run is not None:
            self._on_dry_run()
        return result

    def check(self, work: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``work`` run as :meth:`write` runs it and rolled back, without a word: the
        refusals of a change, before asking whether to make it."""
        return self.database.transact(
            lambda session: work(session, self._context(session), *args, **kwargs),
            commit=False,
        )

    def read(self, work: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``work(session, ctx, *args, **kwargs)`` in a read-only session."""
        with self.database.session(write=False) as session:
            return work(session, self._context(session), *args, **kwargs)

    def query(self, work: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``work(connection, ctx, *args, **kwargs)`` on a read-only Core connection, with
        a reading context: neither the ORM nor SQLModel is loaded."""
        with self.querying(work, *args, **kwargs) as result:
            return result

    @contextmanager
    def querying(self, work: Callable[..., T], /, *args: Any, **kwargs: Any) -> Iterator[T]:
        """:meth:`query`, its read transaction open until the block ends: for rows that are
        streamed out as they are read."""
        with self.database.reading() as connection:
            yield work(connection, self._context(connection, writing=False), *args, **kwargs)

    def run(self, work: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``work(session, ctx, *args, **kwargs)`` in a writing session whose transactions
        ``work`` commits itself, as it goes (the demo, loaded by import)."""
        with self.database.session() as session:
            return work(session, self._context(session), *args, **kwargs)

    @contextmanager
    def running(
        self, work: Callable[..., Iterable[T]], /, *args: Any, **kwargs: Any
    ) -> Iterator[Iterator[T]]:
        """:meth:`run` for an operation that yields its results as it commits them
        (import's items), its session open until the block ends.

        The context is built, and ``work`` called, when the first result is asked for:
        a refusal of either comes out of the iteration, where the caller reports the
        failures of the items; a failure of the database comes out of the block, as
        a ``CollabError`` saying what went wrong with the database.
        """
        with self.database.session() as session:

            def results() -> Iterator[T]:
                yield from work(session, self._context(session), *args, **kwargs)

            yield results()
