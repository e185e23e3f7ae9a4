"""Running a unit of work again when another writer got in its way.

One policy for every writer (a single change, a bulk batch, an import item):
only conflicts that a fresh transaction resolves are retried, after a pause that
doubles each time (with jitter, so two writers that collided do not collide again
in step), and the last error propagates unchanged for the caller to translate.

Kept free of SQLAlchemy and the drivers: errors are recognised by the attributes
the drivers set (``sqlstate``, ``sqlite_errorname``), whether the error is the
driver's own or SQLAlchemy's wrapper around it (``.orig``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import NamedTuple, TypeVar

T = TypeVar("T")

#: PostgreSQL: serialization failure, deadlock detected, lock not available (NOWAIT).
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
#: SQLite conflicts returned at once, without waiting in the busy handler. A plain
#: SQLITE_BUSY is not here: it comes after the busy timeout has already waited for
#: the lock, and waiting that long again would only hide a stuck writer.
RETRYABLE_SQLITE_ERRORS = frozenset({"SQLITE_BUSY_SNAPSHOT", "SQLITE_BUSY_RECOVERY"})


def is_retryable(exc: BaseException) -> bool:
    """Whether running the same work again in a new transaction can succeed."""
    orig = getattr(exc, "orig", None) or exc
    if getattr(orig, "sqlstate", None) in RETRYABLE_SQLSTATES:
        return True
    return getattr(orig, "sqlite_errorname", None) in RETRYABLE_SQLITE_ERRORS


class Backoff(NamedTuple):
    """How often and how patiently to retry a conflicting unit of work."""

    #: tries in all, the first included
    attempts: int = 8
    #: pause after the first conflict, in seconds; doubled after each further one
    base: float = 0.05
    #: longest pause, in seconds
    cap: float = 1.0

    def delay(self, attempt: int) -> float:
        """The pause after try number ``attempt`` (0 for the first) failed: 50 % to 150 % of
        the doubled base, capped."""
        return min(self.base * 2**attempt, self.cap) * (0.5 + random.random())

    def should_retry(self, exc: BaseException, attempt: int) -> bool:
        """Whether try number ``attempt`` (0 for the first), which raised ``exc``, gets another."""
        return attempt + 1 < self.attempts and is_retryable(exc)

    def wait(self, attempt: int) -> None:
        time.sleep(self.delay(attempt))

    def call(
        self,
        work: Callable[[], T],
        *,
        before_retry: Callable[[BaseException, int], None] | None = None,
    ) -> T:
        """``work()``, called again after each retryable conflict; any other error, or the
        last conflict, propagates as it was raised.

        ``work`` must leave nothing behind when it fails (its transaction rolled back).
        ``before_retry(exc, attempt)`` runs before the pause, e.g. to report progress.
        """
        attempt = 0
        while True:
            try:
                return work()
            except Exception as exc:
                if not self.should_retry(exc, attempt):
                    raise
                if before_retry is not None:
                    before_retry(exc, attempt)
                self.wait(attempt)
                attempt += 1


#: The policy every writer uses unless it has a reason for another.
DEFAULT_BACKOFF = Backoff()


def retry(work: Callable[[], T], *, attempts: int | None = None) -> T:
    """``work()`` with the default policy (or ``attempts`` tries in all)."""
    policy = DEFAULT_BACKOFF if attempts is None else Backoff(attempts=attempts)
    return policy.call(work)
