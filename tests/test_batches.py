"""The one batch runner (``operations.batches``) and the one input reader
(``operations.input_stream``) of import, bulk end and schedule run: in-process, no
database."""

from __future__ import annotations

import io
from collections.abc import Hashable, Iterator
from typing import Any

import pytest

from collabctl.domain.errors import CollabError, InvalidInput
from collabctl.operations import batches
from collabctl.operations.input_stream import InputStream, OverlongLine

# -- gather ----------------------------------------------------------------------------


def test_gather_closes_a_batch_at_its_size_and_at_a_pause() -> None:
    items = [1, 2, 3, None, 4, None, None, 5, 6, 7, 8]
    assert list(batches.gather(items, size=3, seconds=60)) == [[1, 2, 3], [4], [5, 6, 7], [8]]


def test_gather_closes_a_batch_after_its_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # the clock is read when a batch starts and after each item
    clock = iter([0.0, 0.0, 0.1, 0.3, 1.0, 1.1])
    monkeypatch.setattr(batches.time, "monotonic", lambda: next(clock))
    # started at 0.0: still open at 0.1, closed at 0.3; the next started at 1.0
    assert list(batches.gather([1, 2, 3, 4], size=10, seconds=0.25)) == [[1, 2, 3], [4]]


def test_gather_by_weight_key_and_alone() -> None:
    items: list[tuple[str, int] | None] = [
        ("a", 1),
        ("b", 1),
        ("a", 1),  # its key is in the batch: a new batch before it
        ("s", 0),  # alone
        ("c", 5),
        ("d", 5),  # weight 10 reached
        ("e", 1),
    ]
    gathered = batches.gather(
        items,
        size=100,
        seconds=60,
        weight=lambda item: item[1],
        most_weight=10,
        key=lambda item: item[0] if item[0] != "e" else None,
        alone=lambda item: item[0] == "s",
    )
    assert [[name for name, _ in batch] for batch in gathered] == [
        ["a", "b"],
        ["a"],
        ["s"],
        ["c", "d"],
        ["e"],
    ]


@pytest.mark.parametrize("plain", [True, False])
def test_gather_yields_what_was_read_before_input_that_cannot_be_read(plain: bool) -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise InvalidInput("broken")

    extra: dict[str, Any] = {} if plain else {"key": lambda item: item}
    gathered = batches.gather(items(), size=10, seconds=60, **extra)
    assert next(gathered) == [1, 2]
    with pytest.raises(CollabError):
        next(gathered)


# -- run -------------------------------------------------------------------------------


class _Conflict(Exception):
    sqlstate = "40001"  # serialization failure: another writer got in the way


def _no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batches.DEFAULT_BACKOFF.__class__, "wait", lambda self, attempt: None)


def test_run_retries_a_conflict_and_returns_the_committed_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _no_wait(monkeypatch)
    calls: list[tuple[list[int], bool]] = []

    def work(items: list[int], batched: bool, refused: dict[Hashable, Any]) -> list[int]:
        calls.append((items, batched))
        if len(calls) < 3:
            raise _Conflict()
        return [item * 10 for item in items]

    assert batches.run([1, 2], work, key=lambda item: item) == ([10, 20], {})
    assert calls == [([1, 2], True)] * 3


def test_run_splits_a_refused_batch_and_takes_the_refused_item_out() -> None:
    calls: list[tuple[list[int], bool, dict[Hashable, Any]]] = []

    def work(items: list[int], batched: bool, refused: dict[Hashable, Any]) -> list[int]:
        calls.append((items, batched, dict(refused)))
        if batched:
            raise batches.BatchRefused()
        if 2 in items:
            raise batches.ItemRefused(2, "refused: 2")
        return items

    assert batches.run([1, 2, 3], work, key=lambda item: item) == ([1, 3], {2: "refused: 2"})
    assert calls == [
        ([1, 2, 3], True, {}),
        ([1, 2, 3], False, {}),
        ([1, 3], False, {2: "refused: 2"}),
    ]


def test_run_reads_an_item_again_once_when_it_asks() -> None:
    tries = []

    def work(items: list[int], batched: bool, refused: dict[Hashable, Any]) -> list[int]:
        tries.append(list(items))
        if 1 in items:
            raise batches.ItemRefused(1, "taken", read_again=True)
        return items

    assert batches.run([1], work, key=lambda item: item) == ([], {1: "taken"})
    assert tries == [[1], [1], []]


def test_run_lets_any_other_error_through() -> None:
    def work(items: list[int], batched: bool, refused: dict[Hashable, Any]) -> list[int]:
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        batches.run([1], work, key=lambda item: item)


# -- the input reader ------------------------------------------------------------------


@pytest.mark.parametrize("block", [1, 2, 3, 5, 64])
def test_lines_across_blocks_without_the_byte_order_mark(block: int) -> None:
    data = "\ufeff1001\n\n\ufeff1002\r\nlast".encode()
    reader = InputStream(io.BytesIO(data), block)
    assert list(reader.lines()) == [b"1001", b"", "\ufeff1002\r".encode(), b"last"]
    assert reader.position == len(data)


@pytest.mark.parametrize("block", [1, 4, 64])
def test_a_line_over_the_limit_is_only_its_length(block: int) -> None:
    data = b"12\n" + b"x" * 30 + b"\n34\n" + b"y" * 11
    lines = list(InputStream(io.BytesIO(data), block).lines(limit=10))
    assert [line.length if isinstance(line, OverlongLine) else line for line in lines] == [
        b"12",
        30,
        b"34",
        11,
    ]


def test_lines_after_bytes_already_read_and_text_streams() -> None:
    reader = InputStream(io.StringIO("\ufeffa\nb\nc"), 2)
    start = reader.read()
    assert start == b"a"  # the mark came in the same read, and was dropped
    assert list(reader.lines(start)) == [b"a", b"b", b"c"]
    assert reader.block() == 2
