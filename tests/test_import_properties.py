"""Property: whatever the lines of a JSON Lines input are, ``import`` answers each one
(on both backends).

Arbitrary JSON values, arbitrary bytes and text, and well-formed items are mixed
in any order after a first line naming an office. Whatever they are: no internal
error and no traceback, one result per non-blank line (with its line number), and
every well-formed item imported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collabctl.operations.importing.reader import SECTIONS
from conftest import CLI
from helpers import luhn_org_number

OFFICE = "556677-8899"
FIRST_LINE = json.dumps({"office": {"org_number": OFFICE, "name": "Byrån"}}).encode()

text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1).filter(
    str.strip
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text().filter(lambda k: k not in SECTIONS), children, max_size=4)
    ),
    max_leaves=12,
)
#: fields a company may have, with values of any kind: validation at every path
company_like = st.fixed_dictionaries(
    {},
    optional={
        "customer_number": json_values | st.from_regex(r"[0-9]{1,10}", fullmatch=True),
        "org_number": json_values | st.just("556036-0793"),
        "name": json_values | text,
        "users": json_values | st.lists(st.dictionaries(st.sampled_from(["email", "role", "main_contact", "services", "name"]), json_values), max_size=3),
        "subscriptions": json_values,
        "collaborations": json_values,
        "records": json_values,
    },
)  # fmt: skip
services = st.lists(st.sampled_from(["eekonomi", "fakturering", "lon", "utlagg"]), unique=True)


@st.composite
def good_company(draw: st.DrawFn) -> dict[str, Any]:
    """A company that imports over any earlier one of the same number without a conflict:
    active subscriptions only, collaborations with one office from one start."""
    users = draw(
        st.lists(
            st.builds(
                lambda local, role, name: {
                    "email": f"{local}@bolag.se",
                    "role": role,
                    "name": name,
                    # said outright: an item that names a user without it keeps that user
                    # the main contact, and then a role below administrator is refused
                    # (SPEC 7.2), which an earlier example in the same database may set up
                    "main_contact": False,
                },
                st.from_regex(r"[a-z]{1,8}", fullmatch=True),
                st.sampled_from(["administrator", "user", "auditor"]),
                text,
            ),
            max_size=3,
            unique_by=lambda u: u["email"],
        )
    )
    # the main contact is an administrator (SPEC 7.2: never an auditor, never demoted)
    admins = [u for u in users if u["role"] == "administrator"]
    if admins and draw(st.booleans()):
        admins[0]["main_contact"] = True
    return {
        "customer_number": draw(st.from_regex(r"[0-9]{1,10}", fullmatch=True)),
        "org_number": luhn_org_number(draw(st.integers(0, 9_999_999))),
        "name": draw(text),
        "users": users,
        "subscriptions": [{"service": s} for s in draw(services)],
        "collaborations": [
            {"service": s, "office": OFFICE, "started_at": "2024-01-31T09:00:00Z"}
            for s in draw(services)
        ],
    }


good_lines = st.one_of(
    good_company().map(lambda c: json.dumps({"company": c}, ensure_ascii=False).encode()),
    text.map(lambda n: json.dumps({"office": {"org_number": OFFICE, "name": n}}).encode()),
)
any_lines = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.tuples(st.sampled_from(["company", "office", "service"]), json_values).map(
        lambda kv: json.dumps({kv[0]: kv[1]}).encode()
    ),
    company_like.map(lambda c: json.dumps({"company": c}).encode()),
    st.binary(max_size=40),
    st.text(max_size=40).map(lambda s: s.encode()),
).filter(lambda line: b"\n" not in line and not any(f'"{s}"'.encode() in line for s in SECTIONS))
#: (well-formed?, line)
lines = st.lists(
    good_lines.map(lambda line: (True, line)) | any_lines.map(lambda line: (False, line)),
    max_size=12,
)


@pytest.mark.slow
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lines=lines)
def test_every_line_gets_its_result_and_good_items_go_in(
    cli: CLI, tmp_path: Path, lines: list[tuple[bool, bytes]]
) -> None:
    raw = [FIRST_LINE] + [line for _, line in lines]
    path = tmp_path / "input.jsonl"
    path.write_bytes(b"\n".join(raw) + b"\n")
    run = cli("import", str(path), "--format", "jsonl")

    for stream in (run.stdout, run.stderr):
        assert "error[internal]" not in stream
        assert "Traceback" not in stream
    assert run.exit_code in (0, 1, 2, 4), run.stderr
    rows = run.jsonl()
    expected_lines = [n for n, line in enumerate(raw, start=1) if line.strip()]
    assert [row["line"] for row in rows] == expected_lines, run.stderr
    good = {1} | {n for n, (well_formed, _) in enumerate(lines, start=2) if well_formed}
    for row in rows:
        if row["line"] in good:
            assert row["status"] in ("changed", "unchanged"), row
        assert (row["error"] is None) == (row["status"] != "failed"), row
