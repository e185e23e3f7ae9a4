"""``ends_at`` in ``list`` and ``show``: when an active collaboration's scheduled end is due.

One query per command, in plain SQLAlchemy Core over lightweight table clauses
(no ORM models), so a read does not load more than it needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import column, select, table

_SCHEDULED = table(
    "scheduled_end",
    column("collaboration_id"),
    column("customer_number"),
    column("service"),
    column("due_at"),
    column("state"),
)
_COLLABORATION = table("collaboration", column("id"), column("state"))


def scheduled_ends(connection: Any, customer: str | None = None) -> dict[tuple[str, str], str]:
    """(customer number, service) -> due instant, of the active collaborations with a
    scheduled end (of one company, when ``customer`` is given)."""
    s, c = _SCHEDULED.c, _COLLABORATION.c
    query = (
        select(s.customer_number, s.service, s.due_at)
        .join(_COLLABORATION, c.id == s.collaboration_id)
        .where(s.state == "scheduled", c.state == "active")
    )
    if customer is not None:
        query = query.where(s.customer_number == customer)
    return {(number, service): due for number, service, due in connection.execute(query)}


def with_ends_at(
    collaborations: Iterable[dict[str, Any]], ends: dict[tuple[str, str], str]
) -> Iterator[dict[str, Any]]:
    """The collaborations with ``ends_at`` filled in (None when no end is scheduled)."""
    for collaboration in collaborations:
        if collaboration["state"] == "active":
            key = (collaboration["customer_number"], collaboration["service"])
            collaboration["ends_at"] = ends.get(key)
        yield collaboration
