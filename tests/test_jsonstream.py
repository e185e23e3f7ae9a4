"""The import reader (``operations.importing.reader``): linear in an item's size, items with
their lines, a pause when a pipe has nothing more yet, every bad entry on its own."""

from __future__ import annotations

import io
import json
import math
import os
import threading
from typing import Any

import pytest

from collabctl.domain.errors import InvalidInput
from collabctl.operations.importing import reader as item_reader
from collabctl.operations.importing.reader import ItemReader, iter_items


def big_company(size: int) -> dict[str, Any]:
    """A company whose records hold about ``size`` characters of payload."""
    records = []
    for index in range(max(size // 1000, 1)):
        records.append(
            {
                "id": f"R-{index}",
                "service": "utlagg",
                "kind": "outlay",
                "status": "submitted",
                "payload": {"note": "å" * 450 + f" {index}", "lines": list(range(50))},
            }
        )
    return {"customer_number": "1001", "org_number": "556036-0793", "name": "Stor AB",
            "records": records}  # fmt: skip


@pytest.mark.parametrize("pretty", [False, True])
def test_a_large_item_is_parsed_a_logarithmic_number_of_times(pretty: bool) -> None:
    company = big_company(4_000_000)
    body = json.dumps(company, indent=2 if pretty else None, ensure_ascii=False)
    text = '{\n"offices": [],\n"companies": [\n' + body + "\n]}\n"
    size = len(text.encode())
    assert size > 4_000_000
    reader = ItemReader(io.BytesIO(text.encode()))
    items = [item for item in reader if item is not None]
    assert [(item.kind, item.where, item.line) for item in items] == [
        ("company", "line 4: companies[0]", 4)
    ]
    assert items[0].data == company
    # Each attempt reads twice what is pending, so an item of n bytes takes about
    # log2(n / block) attempts (a few more for the keys around it), not n / block.
    blocks = size / (1 << 16)
    assert reader.decode_attempts <= math.log2(blocks) + 8, reader.decode_attempts
    assert blocks > 60  # what a reader re-parsing at every block would have needed


def test_a_large_line_of_json_lines_is_read_whole() -> None:
    company = big_company(3_000_000)
    lines = [
        json.dumps({"office": {"org_number": "556677-8899", "name": "A"}}),
        json.dumps({"company": company}, ensure_ascii=False),
        json.dumps({"office": {"org_number": "559123-4561", "name": "B"}}),
    ]
    items = list(iter_items(io.BytesIO(("\n".join(lines) + "\n").encode())))
    assert [(i.kind, i.where) for i in items] == [
        ("office", "line 1: office"),
        ("company", "line 2: company"),
        ("office", "line 3: office"),
    ]
    assert items[1].data == company


def test_json_lines_whose_first_line_is_very_long_are_still_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A first line longer than the limit is streamed as a document; the lines after it
    are read as the objects that follow it."""
    monkeypatch.setattr(item_reader, "_FIRST_LINE_LIMIT", 1000)
    monkeypatch.setattr(item_reader, "_CHUNK", 256)
    company = big_company(5000)
    lines = [
        json.dumps({"company": company}),
        json.dumps({"office": {"org_number": "556677-8899", "name": "A"}}),
        "",
        json.dumps({"offices": [{"org_number": "559123-4561", "name": "B"}]}),
    ]
    items = list(iter_items(io.BytesIO(("\n".join(lines) + "\n").encode())))
    assert [(i.kind, i.where, i.line) for i in items] == [
        ("company", "line 1: company", 1),
        ("office", "line 2: office", 2),
        ("office", "line 4: offices[0]", 4),
    ]
    assert items[0].data == company


@pytest.mark.parametrize("chunk", [1, 3, 17])
def test_multibyte_characters_split_across_blocks(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(item_reader, "_CHUNK", chunk)
    names = ["Åsa Öberg", "Ærø 😀", 'Δ \\"quoted\\" ]}', "x" * 50]
    text = '{\n"companies": [' + ", ".join(f'{{"name": "{n}"}}' for n in names) + "]}"
    reader = ItemReader(io.BytesIO(text.encode()))
    items = [i for i in reader if i is not None]
    assert [i.data["name"] for i in items] == [json.loads(f'"{n}"') for n in names]
    assert reader.decode_attempts > len(names)  # the blocks really were small


def test_a_pipe_with_nothing_more_to_read_yields_a_pause() -> None:
    read_fd, write_fd = os.pipe()
    line = json.dumps({"office": {"org_number": "556677-8899", "name": "A"}}) + "\n"
    os.write(write_fd, (line * 2).encode())
    with os.fdopen(read_fd, "rb") as stream:
        items = iter(ItemReader(stream))
        assert next(items).kind == "office"  # type: ignore[union-attr]
        assert next(items).kind == "office"  # type: ignore[union-attr]
        assert next(items) is None  # the writer has not written more: finish what was read
        writer = threading.Timer(
            0.05, lambda: (os.write(write_fd, line.encode()), os.close(write_fd))
        )
        writer.start()
        rest = [item for item in items if item is not None]
        writer.join()
    assert [item.where for item in rest] == ["line 3: office"]


def test_an_empty_input_is_invalid() -> None:
    for text in (b"", b"\n \n\t", b"\xef\xbb\xbf\n"):
        with pytest.raises(InvalidInput) as info:
            list(iter_items(io.BytesIO(text)))
        assert info.value.message == "the input is empty"
        assert info.value.hint


def test_bad_entries_of_a_document_are_skipped_to_their_end() -> None:
    entries = [
        '{"name": "a"}',
        '{"deep": ' + "[" * 5000 + '"]]]", {"}": "["}' + "]" * 5000 + "}",
        '{"n": ' + "7" * 5000 + "}",
        '{"name": "x", "name": "y"}',
        '{"s": "\\" ] } still the string"}',
        '{"name": "b"}',
    ]
    text = '{"companies": [\n' + ",\n".join(entries) + "\n]}"
    items = list(iter_items(io.BytesIO(text.encode())))
    assert [(i.line, i.error is None) for i in items] == [
        (2, True), (3, False), (4, False), (5, False), (6, True), (7, True),
    ]  # fmt: skip
    assert items[-1].data == {"name": "b"}
    assert items[4].data == {"s": '" ] } still the string'}
    assert all(i.kind == "company" for i in items)


def test_a_document_broken_mid_way_stops_with_its_line() -> None:
    text = '{"companies": [\n{"name": "a"},\n{"name": "b" "c"},\n{"name": "d"}\n]}'
    reader = iter_items(io.BytesIO(text.encode()))
    assert next(reader).data == {"name": "a"}
    with pytest.raises(InvalidInput) as info:
        next(reader)
    assert info.value.message.startswith("line 3: not valid JSON")
