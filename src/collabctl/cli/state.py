"""What one invocation knows: the terminal, the global options, and the database once opened.

The root callback (``cli/app.py``) makes the State from the global options and
the Environment; every command reads it with ``current_state()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from collabctl.cli.env import Environment

if TYPE_CHECKING:
    from collabctl.domain.errors import CollabError, UsageError
    from collabctl.operations.database_schema import Database
    from collabctl.operations.gateway import Operations


#: What a dry run says on stderr, before what it shows.
DRY_RUN_NOTE = "dry run: this is what would change; nothing was changed"


@dataclass
class State:
    env: Environment
    database_url: str | None = None
    party: str | None = None
    actor: str = "unknown"
    #: the login name: the actor when --actor is not given (or is refused)
    login: str = "unknown"
    #: a global option that is wrong: the command reports it, in its own --format
    problem: UsageError | None = None
    _db: Database | None = field(default=None, repr=False)
    _config: dict[str, Any] | None = field(default=None, repr=False)
    _operations: Operations | None = field(default=None, repr=False)

    @property
    def config(self) -> dict[str, Any]:
        if self._config is None:
            from collabctl.config import load_config_file

            self._config = load_config_file()
        return self._config

    def database(self, *, ensure_schema: bool = True) -> Database:
        if self._db is None:
            from collabctl.operations.database_schema import open_database

            self._db = open_database(self.database_url, self.config)
        if ensure_schema:
            self._db.ensure_schema()
        return self._db

    @property
    def operations(self) -> Operations:
        """The operations of this invocation: every command reaches the database through it."""
        if self._operations is None:
            from collabctl.operations.gateway import Operations

            self._operations = Operations(self, on_dry_run=self._dry_run_note)
        return self._operations

    def _dry_run_note(self) -> None:
        from collabctl.cli.output import message

        message(self.env, DRY_RUN_NOTE)

    def database_error(self, exc: BaseException) -> CollabError | None:
        """A failure of the database library as the error a user sees; None for others."""
        if self._db is None:
            return None
        from collabctl.operations.database_schema import database_error

        return database_error(self._db, exc)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The database password as it may show up in a message, to hide it there.

        Known also when the Database could not be built (a malformed URL, a broken
        config.toml): then read from the URL the option, the environment or
        config.toml names, so an error raised while building it cannot show it.
        """
        if self._db is not None:
            return self._db.secrets
        from collabctl.config import resolve_database_url, url_secrets

        try:
            config = self.config
        except Exception:  # config.toml unreadable: the option and environment still count
            config = {}
        try:
            return url_secrets(resolve_database_url(self.database_url, config).url)
        except Exception:  # a database_url that is not even text: nothing to find in it
            return ()

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()


_current: State | None = None


def begin(state: State) -> State:
    """Make ``state`` the state of this invocation (the root callback does)."""
    global _current
    _current = state
    return state


def current_state() -> State:
    """The state of this invocation, set by the root callback."""
    global _current
    if _current is None:  # a command invoked without the callback (not through the app)
        _current = State(Environment.detect())
    return _current


def last_state() -> State | None:
    """The state of the invocation that ran last, if any: for redacting a failure after it."""
    return _current
