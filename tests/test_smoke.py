from __future__ import annotations

from conftest import CLI


def test_demo_then_list_shows_collaborations(demo: CLI) -> None:
    result = demo("list", "--format", "json")
    assert result.exit_code == 0
    rows = result.json()
    assert {r["customer_number"] for r in rows} >= {"1001", "1002", "0042"}
