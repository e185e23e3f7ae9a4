"""Planner statistics after a large write, so the next command is planned for the data
that is there now.

PostgreSQL plans a query from the statistics ``ANALYZE`` gathers. Right after an
import into a fresh database there are none, and autovacuum gathers them only a
minute or so later (``autovacuum_naptime``): a bulk end run at once in a pipeline
(``import && end --from``) would be planned for empty tables. So an import
analyses the tables it wrote when autovacuum would (more than 50 rows plus a
tenth of the table changed, or a table never analysed), at once. ``ANALYZE``
reads a sample of a fixed size (300 x ``default_statistics_target`` rows), so
it costs about the same for any table size. A table this role does not own is
left to autovacuum: only its owner may analyse it.

SQLite: the same rule, with ``sqlite_stat1``'s row count as the estimate, and
each ``ANALYZE`` limited to a sample (``analysis_limit``). (``PRAGMA optimize``
is not enough before SQLite 3.46: it leaves a table that was never analysed
alone until it holds about a million rows.)
"""

from __future__ import annotations

from collections.abc import Mapping

from collabctl.store.statements import Statements

#: autovacuum's defaults (autovacuum_analyze_threshold, autovacuum_analyze_scale_factor)
THRESHOLD_ROWS = 50
SCALE_FACTOR = 0.1
#: rows SQLite reads per index when it analyses (a sample; 0 would read them all)
SQLITE_ANALYSIS_LIMIT = 1000

_PG_TABLES_SQL = """
SELECT t.name, c.reltuples
FROM unnest(CAST(:names AS text[])) AS t(name)
JOIN pg_class c ON c.oid = to_regclass(t.name)
WHERE pg_has_role(c.relowner, 'USAGE')
"""
_SQLITE_HAS_STATS_SQL = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
#: the rows a table had when it was last analysed: the first number of any index's stat
_SQLITE_TABLES_SQL = "SELECT tbl, max(CAST(stat AS INTEGER)) FROM sqlite_stat1 GROUP BY tbl"


def refresh_statistics(sql: Statements, written: Mapping[str, int]) -> list[str]:
    """Gather statistics for the tables in ``written`` (table name: rows written) whose
    statistics are stale now; returns the tables analysed. Runs in the caller's transaction, which commits it."""
    tables = sorted(name for name, rows in written.items() if rows > 0)
    if not tables:
        return []
    if sql.postgres:
        # reltuples is -1 until a table is first analysed (PostgreSQL 14 and later)
        estimates = dict(sql.execute(_PG_TABLES_SQL, {"names": tables}).fetchall())
    else:
        sql.execute(f"PRAGMA analysis_limit = {SQLITE_ANALYSIS_LIMIT}")
        estimates = {name: -1 for name in tables}
        if sql.execute(_SQLITE_HAS_STATS_SQL).fetchone() is not None:
            estimates.update(
                (name, rows)
                for name, rows in sql.execute(_SQLITE_TABLES_SQL).fetchall()
                if name in estimates
            )
    stale = [
        name
        for name in tables
        if name in estimates
        and (estimates[name] < 0 or written[name] > THRESHOLD_ROWS + SCALE_FACTOR * estimates[name])
    ]
    for name in stale:
        # names from collabctl's own list of tables, never from input
        sql.execute(f"ANALYZE {name}")
    return stale
