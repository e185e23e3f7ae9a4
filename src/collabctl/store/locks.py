"""Company row locks: the one way a change of a company takes its lock.

Every writer of a company (an end, a start, a change of its users, a restore,
an import, the audit chain of an event) takes the company's row lock on
PostgreSQL (``SELECT ... FOR UPDATE``) with :func:`lock_companies`, before it
reads what it decides on, so that changes to one company queue and each sees
what the one before it committed (READ COMMITTED: the reads are statements of
their own after the lock). SQLite writers hold the database's single write lock
from the start of their transaction instead, so nothing is locked there.

**The ordering rule.** A transaction that locks several companies locks them in
customer-number order, in one statement: two runs over the same customers then
queue for each other instead of deadlocking. Customer numbers are digits, so
Python's order and the database's are the same.

Each company is locked by its key whatever the statistics say: ``= ANY(...)`` on
a table without statistics (just filled by an import, not analysed yet) may be
planned as a scan of all of it, so the list of numbers drives one index probe
per company (``unnest`` with a LATERAL subquery, which is not flattened into a
join; ``tests/test_fresh_statistics.py``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from collabctl.store.statements import Statements

#: one company's lock
_LOCK_COMPANY_SQL = "SELECT 1 FROM company WHERE customer_number = :number FOR UPDATE"
# each company locked by its key, in the order of the list (sorted here)
_LOCK_COMPANIES_SQL = """
SELECT co.customer_number
FROM unnest(CAST(:numbers AS text[])) WITH ORDINALITY AS k(number, n)
CROSS JOIN LATERAL (
    SELECT customer_number FROM company WHERE customer_number = k.number FOR UPDATE
) AS co
ORDER BY k.n
"""


def lock_companies(sql: Statements | Session, numbers: Iterable[str]) -> list[str]:
    """Take the row locks of the companies ``numbers`` (PostgreSQL), in customer-number
    order, in the caller's transaction; returns the numbers of those that exist, in that
    order. On SQLite nothing is locked (the transaction holds the write lock) and the
    result is empty: ask the database, not this function, whether a company exists.
    """
    if isinstance(sql, Session):
        sql = Statements(sql)
    if not sql.postgres:
        return []
    ordered = sorted(set(numbers))
    if len(ordered) == 1:
        (number,) = ordered
        found = sql.execute(_LOCK_COMPANY_SQL, {"number": number}).fetchone()
        return [] if found is None else ordered
    if not ordered:
        return []
    return [number for (number,) in sql.execute(_LOCK_COMPANIES_SQL, {"numbers": ordered})]
