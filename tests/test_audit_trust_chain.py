"""The hash chain's canonical encoding and the digest of chain heads (collabctl.domain.audit_chain)."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collabctl.domain.audit_chain import (
    Anchor,
    HeadDigest,
    canonical,
    chain_key,
    encode,
    event_hash,
    head_anchor,
)
from collabctl.store.chain import lock_key

EVENT = {
    "at": "2024-01-31T09:00:00.000000Z",
    "actor": "anna",
    "db_user": "collabctl_agent",
    "scope": "agent",
    "action": "end",
    "customer_number": "1001",
    "service": "eekonomi",
    "details": {"outcome": "continue", "reason": "Flyttar till Göteborg", "forced": []},
}


#: audit details: any JSON object
DETAILS = st.dictionaries(
    st.text(),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
        max_leaves=10,
    ),
)


def test_the_canonical_encoding_is_the_documented_one() -> None:
    expected = (
        '["collabctl-audit-v1","2024-01-31T09:00:00.000000Z","anna","collabctl_agent",'
        '"agent","end","1001","eekonomi",'
        '{"forced":[],"outcome":"continue","reason":"Flyttar till Göteborg"},null]'
    ).encode()
    assert canonical(EVENT, None) == expected
    assert event_hash(EVENT, None) == hashlib.sha256(expected).hexdigest()


def test_the_hash_covers_every_field_and_the_previous_hash() -> None:
    base = event_hash(EVENT, "a" * 64)
    assert base != event_hash(EVENT, "b" * 64)
    assert base != event_hash(EVENT, None)
    for name in EVENT:
        changed = {**EVENT, name: None if EVENT[name] is not None else "x"}
        assert event_hash(changed, "a" * 64) != base, name
    # an edit deep inside the details is a change too
    details = {**EVENT["details"], "forced": ["data-synchronised"]}
    assert event_hash({**EVENT, "details": details}, "a" * 64) != base


@settings(deadline=None)  # a busy machine is no counterexample
@given(DETAILS)
def test_the_hash_survives_a_round_trip_through_json_in_any_key_order(
    details: dict[str, object],
) -> None:
    event = {**EVENT, "details": details}
    stored = json.loads(json.dumps(dict(reversed(list(details.items())))))
    assert event_hash({**event, "details": stored}, None) == event_hash(event, None)


@settings(deadline=None)
@given(
    DETAILS,
    st.none() | st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    st.fixed_dictionaries(
        {
            name: st.text(st.characters(codec="utf-8")) | st.none()
            for name in ("at", "actor", "db_user", "scope", "action", "customer_number", "service")
        }
    ),
)
def test_an_event_read_back_from_its_stored_text_hashes_the_same(
    details: dict[str, object], prev_hash: str | None, fields: dict[str, str | None]
) -> None:
    # SQLite's writer stores the details as the canonical encoding writes them; any text
    # in the other fields (quotes, control characters, non-ASCII) included
    event = {**EVENT, **fields, "details": details}
    text = encode(details)
    assert json.loads(text) == details
    assert event_hash({**event, "details": json.loads(text)}, prev_hash) == event_hash(
        event, prev_hash
    )
    plain = json.dumps(
        ["collabctl-audit-v1", *(event[name] for name in EVENT), prev_hash],
        separators=(",", ":"),
        sort_keys=True,
        ensure_ascii=False,
    )
    assert canonical(event, prev_hash) == plain.encode("utf-8", "surrogatepass")


def test_hashes_written_by_earlier_releases_stay_the_same() -> None:
    # computed by the release that wrote events before the format moved to domain: quotes,
    # backslashes, control and non-ASCII characters, a lone surrogate, no company
    event = {
        "at": "2024-01-31T09:00:00.000000Z",
        "actor": 'Åsa "q"\\ \x07',
        "db_user": "u\u2028",
        "scope": "office",
        "action": "end",
        "customer_number": None,
        "service": "lön",
        "details": {"b": [1, 2.5, None, True], "a": "\ud800 ø \t", "ü": {}},
    }
    assert event_hash(event, "f" * 64) == (
        "c829a15cd5ff309dd370ea4ccf58a6390356f75e755e42383d3ebff61599a02a"
    )
    assert event_hash(event, None) == (
        "b6f3831488a96ea92a322ddca12a298e7a63621ec8e4751a5c9ff728cf893802"
    )


def test_chain_keys_and_lock_keys() -> None:
    assert chain_key(None) == "-"
    assert chain_key("0042") == "0042"
    assert lock_key("1001") == lock_key("1001")
    assert lock_key("1001") != lock_key("1002")
    assert -(2**31) <= lock_key("-") < 2**31


def test_the_anchor_digest_is_the_documented_one() -> None:
    heads = [("1002", 1, "c" * 64), ("-", 2, "a" * 64), ("1001", 3, "b" * 64)]
    text = f"collabctl-anchor-v1\n-\t2\t{'a' * 64}\n1001\t3\t{'b' * 64}\n1002\t1\t{'c' * 64}\n"
    anchor = head_anchor(heads, through=17)
    assert anchor == Anchor(17, 6, hashlib.sha256(text.encode()).hexdigest())
    assert str(anchor) == f"v1:17:6:{anchor.digest}"
    assert Anchor.parse(str(anchor)) == anchor
    assert Anchor.parse(f"  {anchor}\n") == anchor


@pytest.mark.parametrize(
    "text",
    ["", "v1", "v2:1:1:" + "a" * 64, "v1:1:1:" + "a" * 63, "v1:01:1:" + "a" * 64, "v1:x:1:aa"],
)
def test_what_is_not_an_anchor(text: str) -> None:
    assert Anchor.parse(text) is None


def test_the_head_digest_needs_its_chains_in_order() -> None:
    digest = HeadDigest()
    digest.add("1001", 1, "a" * 64)
    with pytest.raises(ValueError):
        digest.add("1000", 1, "b" * 64)
