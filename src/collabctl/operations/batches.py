"""The one batch runner of ``import``, ``end --from`` and ``schedule run``.

A run over many items reads them as a stream, gathers them into batches
(:func:`gather`) and runs each batch in one transaction (:func:`run`):

- **gather**: a batch is closed when it holds ``size`` items, when its items weigh
  ``weight`` (an import's nested rows), when reading it took ``seconds`` (slow
  input still gets its results promptly), when the input pauses (``None``: no
  further input is ready now, so what was read is finished before waiting), before
  an item whose key the batch already holds, and around an item that goes alone.
  Input that cannot be read any further (a :class:`CollabError` from the stream)
  first lets the batch read before it run, then propagates.
- **run**: the batch's work is one transaction, run again after a conflict another
  writer caused (``store.retry.DEFAULT_BACKOFF``). When the database refuses a
  batch's set-based writes, which name no item, the work raises
  :class:`BatchRefused` and the batch runs again item by item; there a refusal
  is the item's own (:class:`ItemRefused`): that item fails alone, and the rest of
  the batch runs again without it. Results come only from a committed transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from functools import partial
from typing import Any, TypeVar

from collabctl.domain.errors import CollabError
from collabctl.store.retry import DEFAULT_BACKOFF

__all__ = ["BatchRefused", "ItemRefused", "gather", "run"]

T = TypeVar("T")
R = TypeVar("R")


# -- gathering ------------------------------------------------------------------------


def gather(
    items: Iterable[T | None],
    *,
    size: int,
    seconds: float,
    weight: Callable[[T], int] | None = None,
    most_weight: int = 0,
    key: Callable[[T], Hashable | None] | None = None,
    alone: Callable[[T], bool] | None = None,
) -> Iterator[list[T]]:
    """The items in batches, in input order; never an empty batch.

    ``items`` may yield ``None`` to say that no further input is ready now: the batch
    read so far is closed. A batch is closed when it holds ``size`` items, when the
    ``weight`` of its items reaches ``most_weight``, or when ``seconds`` have passed
    since its first item was read; it is closed *before* an item whose ``key`` (not
    None) it already holds, and an item for which ``alone`` is true is a batch of its
    own. A :class:`CollabError` from ``items`` (input that cannot be read any
    further) comes after the batch read before it.
    """
    batch: list[T] = []
    keys: set[Hashable] = set()
    weighed = 0
    started = 0.0
    iterator = iter(items)
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            break
        except CollabError:
            if batch:
                yield batch
            raise
        if item is None:
            if batch:
                closed, batch, keys, weighed = batch, [], set(), 0
                yield closed
            continue
        name = key(item) if key is not None else None
        single = alone is not None and alone(item)
        if batch and (single or (name is not None and name in keys)):
            closed, batch, keys, weighed = batch, [], set(), 0
            yield closed
        if not batch:
            started = time.monotonic()
        batch.append(item)
        if name is not None:
            keys.add(name)
        if weight is not None:
            weighed += weight(item)
        if (
            single
            or len(batch) >= size
            or (weight is not None and weighed >= most_weight)
            or time.monotonic() - started >= seconds
        ):
            closed, batch, keys, weighed = batch, [], set(), 0
            yield closed
    if batch:
        yield batch


# -- running --------------------------------------------------------------------------


class BatchRefused(Exception):
    """The database refused a batch's set-based writes, which name no item: the batch
    runs again item by item."""


class ItemRefused(Exception):
    """The database refused one item, run item by item: the batch is rolled back and runs
    again without it. ``key`` names the item, ``result`` is its failed result.

    ``read_again``: the refusal may be stale (a key another writer stored a moment ago,
    which a new transaction reads): the batch first runs once more with the item."""

    def __init__(self, key: Hashable, result: Any, *, read_again: bool = False) -> None:
        super().__init__(key)
        self.key = key
        self.result = result
        self.read_again = read_again


def run(
    items: list[T],
    work: Callable[[list[T], bool, dict[Hashable, Any]], R],
    *,
    key: Callable[[T], Hashable],
) -> tuple[R, dict[Hashable, Any]]:
    """Run ``work(items, batched, refused)`` in one transaction until it commits; returns
    what the committing call returned, and the items refused on the way (by key: their
    failed results).

    ``work`` runs the items in one transaction and commits it, leaving nothing behind
    when it raises; ``batched`` says whether it may batch the items' writes (true at
    first) or must run them item by item, ``refused`` holds the items taken out so far.
    A conflict another writer caused runs it again after a pause (the default retry
    policy); :class:`BatchRefused` runs it again item by item; :class:`ItemRefused`
    takes that item out (after one more try when it asks to be read again). Any other
    error, or the last conflict, propagates unchanged.
    """
    refused: dict[Hashable, Any] = {}
    read_again: set[Hashable] = set()
    remaining = items
    batched = True
    while True:
        try:
            done = DEFAULT_BACKOFF.call(partial(work, remaining, batched, refused))
        except ItemRefused as exc:
            if exc.read_again and exc.key not in read_again:
                read_again.add(exc.key)
                continue
            refused[exc.key] = exc.result
            remaining = [item for item in remaining if key(item) != exc.key]
            continue
        except BatchRefused:
            if not batched:
                raise
            batched = False
            continue
        return done, refused
