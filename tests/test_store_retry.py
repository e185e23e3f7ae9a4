"""One retry policy for every writer: which conflicts are retried, how often, how patiently."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg.errors
import pytest

from collabctl.store.retry import DEFAULT_BACKOFF, Backoff, is_retryable, retry


def _wal_database(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE t (a)")


@pytest.fixture
def snapshot_conflict(tmp_path: Path) -> sqlite3.Error:
    """A real SQLITE_BUSY_SNAPSHOT: a reader wants to write after another writer committed."""
    path = tmp_path / "conflict.db"
    _wal_database(path)
    reader = sqlite3.connect(path, isolation_level=None)
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM t").fetchall()
        writer.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(sqlite3.OperationalError) as raised:
            reader.execute("INSERT INTO t VALUES (2)")
    finally:
        reader.close()
        writer.close()
    assert raised.value.sqlite_errorname == "SQLITE_BUSY_SNAPSHOT"
    return raised.value


@pytest.fixture
def lock_timeout(tmp_path: Path) -> sqlite3.Error:
    """A real SQLITE_BUSY: a writer gave up waiting for the write lock."""
    path = tmp_path / "locked.db"
    _wal_database(path)
    holder = sqlite3.connect(path, isolation_level=None)
    waiter = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError) as raised:
            waiter.execute("BEGIN IMMEDIATE")
    finally:
        holder.close()
        waiter.close()
    assert raised.value.sqlite_errorname == "SQLITE_BUSY"
    return raised.value


def test_what_is_retried(snapshot_conflict: sqlite3.Error, lock_timeout: sqlite3.Error) -> None:
    assert is_retryable(snapshot_conflict)
    # the busy timeout already waited for the lock: waiting again would hide a stuck writer
    assert not is_retryable(lock_timeout)
    assert is_retryable(psycopg.errors.SerializationFailure())
    assert is_retryable(psycopg.errors.DeadlockDetected())
    assert is_retryable(psycopg.errors.LockNotAvailable())
    assert not is_retryable(psycopg.errors.UniqueViolation())
    assert not is_retryable(ValueError("no"))


def test_sqlalchemy_wrappers_are_looked_through(snapshot_conflict: sqlite3.Error) -> None:
    from sqlalchemy.exc import OperationalError

    wrapped = OperationalError("INSERT ...", {}, snapshot_conflict)
    assert is_retryable(wrapped)


def test_a_conflict_is_run_again_until_it_succeeds(snapshot_conflict: sqlite3.Error) -> None:
    calls: list[int] = []
    retried: list[int] = []

    def work() -> str:
        calls.append(len(calls))
        if len(calls) < 3:
            raise snapshot_conflict
        return "done"

    policy = Backoff(attempts=5, base=0)
    assert policy.call(work, before_retry=lambda exc, attempt: retried.append(attempt)) == "done"
    assert calls == [0, 1, 2]
    assert retried == [0, 1]


def test_the_last_conflict_propagates_unchanged(snapshot_conflict: sqlite3.Error) -> None:
    calls = 0

    def work() -> None:
        nonlocal calls
        calls += 1
        raise snapshot_conflict

    with pytest.raises(sqlite3.OperationalError) as raised:
        Backoff(attempts=4, base=0).call(work)
    assert raised.value is snapshot_conflict
    assert calls == 4


def test_any_other_error_propagates_at_once(lock_timeout: sqlite3.Error) -> None:
    calls = 0

    def work() -> None:
        nonlocal calls
        calls += 1
        raise lock_timeout

    with pytest.raises(sqlite3.OperationalError):
        retry(work)
    assert calls == 1


def test_the_pause_doubles_with_jitter_up_to_the_cap() -> None:
    policy = Backoff(attempts=8, base=0.05, cap=1.0)
    for attempt in range(8):
        expected = min(0.05 * 2**attempt, 1.0)
        for _ in range(20):
            assert 0.5 * expected <= policy.delay(attempt) <= 1.5 * expected
    assert DEFAULT_BACKOFF.attempts == 8
    assert policy.should_retry(psycopg.errors.DeadlockDetected(), 6)
    assert not policy.should_retry(psycopg.errors.DeadlockDetected(), 7)
