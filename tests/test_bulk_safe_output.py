"""Bulk end's table echoes what each line said: control characters in it are shown, not obeyed."""

from __future__ import annotations

import json

from conftest import CLI
from helpers import sqlite_only


@sqlite_only  # the lines are refused before any SQL runs; the table renders them
def test_a_hostile_line_is_shown_escaped_in_the_bulk_table(demo: CLI) -> None:
    lines = "\n".join(
        [
            json.dumps({"customer_number": "1001", "service": "eek\u001b[2Jx"}),
            json.dumps({"customer_number": "10\u202e01", "service": "eekonomi"}),
        ]
    )
    result = demo(
        "end", "--from", "-", "-o", "continue", "--by", "customer", "--yes", input=lines + "\n"
    )
    assert result.exit_code == 4, result.stderr  # some items failed
    for stream in (result.stdout, result.stderr):
        assert "\x1b" not in stream
        assert "\u202e" not in stream
    assert "eek\\x1b[2Jx" in result.stdout
    assert "failed" in result.stdout
