"""The audit chain's hash format: the canonical encoding of an event, its hash and the anchor.

Pure code, no I/O: the writer (``collabctl.store.audit``), the verifier
(``collabctl.operations.verify``) and the migration that chained the events
written before (schema 0003) all take the format from here, so an event is
hashed the same way wherever it is written or checked. How a chain's head is
read and locked is the store's part (``collabctl.store.chain``).

Every audit event belongs to one chain: the events of one company (its
``customer_number``), or the chain of the events that concern no company
(offices and services imported, ``doctor``'s test write). Each event stores
``prev_hash``, the ``hash`` of the event before it in its chain (``None`` for
the first), and ``hash``::

    hash = SHA-256(canonical(event, prev_hash)), as 64 lowercase hex digits

The canonical encoding (version 1) is the UTF-8 of one JSON array, without
whitespace, with the keys of every object sorted and non-ASCII characters
written as themselves::

    ["collabctl-audit-v1", at, actor, db_user, scope, action,
     customer_number, service, details, prev_hash]

that is ``json.dumps([...], separators=(",", ":"), sort_keys=True,
ensure_ascii=False)``. The event's ``id`` is not part of it (the database
assigns it); the order of a chain is the order of its ids, and each link
names its predecessor, so a reordered, removed or changed event breaks the
chain at that point.

**The digest of the chain heads** (what ``log --verify`` prints, and takes
back with ``--anchor``) is ``v1:THROUGH:EVENTS:SHA256`` where ``THROUGH`` is
the highest event id it covers, ``EVENTS`` the number of events with an id up
to ``THROUGH``, and ``SHA256`` the hex SHA-256 of the UTF-8 text::

    collabctl-anchor-v1\\n
    KEY\\tCOUNT\\tHEAD\\n        (one line per chain, sorted by KEY)

over the events with an id up to ``THROUGH``: ``KEY`` is the customer number
(``-`` for the chain without a company), ``COUNT`` the number of its events
and ``HEAD`` the hash of its last one. Events added later have higher ids and
leave it unchanged, so the same digest is computed again from the log at any
later time as long as nothing up to ``THROUGH`` was changed, removed or added:
an earlier digest proves that nothing was cut off the end of any chain since.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

ENCODING_VERSION = "collabctl-audit-v1"
ANCHOR_VERSION = "v1"
_ANCHOR_HEADER = "collabctl-anchor-v1\n"
#: The event's fields in the order the canonical encoding lists them.
FIELDS = ("at", "actor", "db_user", "scope", "action", "customer_number", "service", "details")
_field_values = itemgetter(*FIELDS)
#: The chain key of the events that concern no company (customer numbers are digits).
NO_COMPANY = "-"
#: json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False,
#: allow_nan=False), the encoder built once instead of on every call
_ENCODER = json.JSONEncoder(
    separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False
)
_ANCHOR_RE = re.compile(r"v1:(0|[1-9][0-9]{0,18}):(0|[1-9][0-9]{0,18}):([0-9a-f]{64})")


def chain_key(customer_number: str | None) -> str:
    return NO_COMPANY if customer_number is None else customer_number


def chain_name(key: str) -> str:
    """A chain as people read it."""
    return "the chain without a company" if key == NO_COMPANY else f"customer {key}"


def encode(value: Any) -> str:
    """A value as the canonical encoding writes it: compact JSON, keys sorted."""
    return _ENCODER.encode(value)


def canonical(event: Mapping[str, Any], prev_hash: str | None) -> bytes:
    """The bytes an event's hash is taken over (see the module documentation).

    ``surrogatepass``: details read back from JSON may hold a lone surrogate
    (``"\\ud800"``), which is hashed as the bytes Python writes for it.
    """
    fields = [ENCODING_VERSION, *_field_values(event), prev_hash]
    return _ENCODER.encode(fields).encode("utf-8", "surrogatepass")


def event_hash(event: Mapping[str, Any], prev_hash: str | None) -> str:
    return hashlib.sha256(canonical(event, prev_hash)).hexdigest()


@dataclass(frozen=True, slots=True)
class Anchor:
    """A digest of the chain heads as of one event id (see the module documentation)."""

    through: int
    events: int
    digest: str

    def __str__(self) -> str:
        return f"{ANCHOR_VERSION}:{self.through}:{self.events}:{self.digest}"

    @classmethod
    def parse(cls, text: str) -> Anchor | None:
        """The anchor written as ``text``, or None when it is not one."""
        match = _ANCHOR_RE.fullmatch(text.strip())
        if match is None:
            return None
        return cls(int(match[1]), int(match[2]), match[3])


class HeadDigest:
    """The digest of chain heads, fed one chain at a time in ascending key order."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256(_ANCHOR_HEADER.encode())
        self._last: str | None = None
        self.events = 0
        self.chains = 0

    def add(self, key: str, count: int, head: str) -> None:
        if self._last is not None and key <= self._last:
            raise ValueError(f"chain {key!r} after {self._last!r}: keys must ascend")
        self._last = key
        self._sha.update(f"{key}\t{count}\t{head}\n".encode())
        self.events += count
        self.chains += 1

    def anchor(self, through: int) -> Anchor:
        return Anchor(through, self.events, self._sha.hexdigest())


def head_anchor(heads: Iterable[tuple[str, int, str]], through: int) -> Anchor:
    """The anchor of the given (key, count, head) chain heads, in any order."""
    digest = HeadDigest()
    for key, count, head in sorted(heads):
        digest.add(key, count, head)
    return digest.anchor(through)
