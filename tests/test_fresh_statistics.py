"""A bulk end right after an import is planned for the data that is there (SPEC 8.5).

Two promises, each tested on its own:

- **import leaves statistics behind**: after ``collabctl import`` the tables it
  wrote have planner statistics (PostgreSQL: ``pg_stats`` rows and a row count
  in ``pg_class``; SQLite: ``sqlite_stat1``), so a command run at once is not
  planned for empty tables;
- **the end's reads need none**: on a PostgreSQL database whose tables were
  filled and never analysed (what an import left before it refreshed the
  statistics, or any other way of loading), the statements a bulk end reads
  with still reach each company's rows by its key. Before, the end target
  query was planned there as a read of every active collaboration of the
  service per batch, joined by a filter: quadratic in the size of the run
  (benchmarks/import_then_end_postgres.py measures it). Neither a sequential
  scan of a growing table nor an index read whole is allowed.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from collabctl.operations.importing import run
from collabctl.store import import_rows as rows
from helpers import CLI, db_url
from query_plans import BULK, COMPANIES, GROWING, customer, explained, load, recording

INDEX_READS = ("Index Scan", "Index Only Scan", "Bitmap Index Scan")
#: the tables an import of companies writes
WRITTEN = ("company", "company_user", "subscription", "collaboration", "audit_event")


def _psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def test_every_list_of_an_import_batch_names_its_table() -> None:
    """A list added to the import's writes is counted for the statistics too."""
    assert set(rows.TABLE_OF_WRITES) == {f.name for f in fields(rows.Writes)}


def test_import_leaves_statistics_behind(cli: CLI, backend: str, tmp_path: Path) -> None:
    load(cli, tmp_path)
    url = db_url()
    if backend == "postgres":
        import psycopg

        with psycopg.connect(_psycopg_url(url)) as con:
            analysed = {
                name
                for (name,) in con.execute(
                    "SELECT DISTINCT tablename FROM pg_stats WHERE tablename = ANY(%s)",
                    (list(WRITTEN),),
                )
            }
            counted = dict(
                con.execute(
                    "SELECT relname, reltuples FROM pg_class WHERE relname = ANY(%s)",
                    (list(WRITTEN),),
                ).fetchall()
            )
        assert analysed == set(WRITTEN)
        assert counted["company"] >= COMPANIES * 0.9, counted
    else:
        path = Path(url.removeprefix("sqlite:///"))
        with closing(sqlite3.connect(path)) as con:
            analysed = {tbl for (tbl,) in con.execute("SELECT DISTINCT tbl FROM sqlite_stat1")}
        assert set(WRITTEN) <= analysed


def test_an_unchanged_import_analyses_nothing(cli: CLI, tmp_path: Path) -> None:
    source = tmp_path / "one.jsonl"
    source.write_text('{"office": {"org_number": "556677-8899", "name": "Byrån AB"}}\n')
    assert cli("import", str(source)).exit_code == 0
    written: list[dict[str, int]] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run, "refresh_statistics", lambda sql, counts: written.append(counts))
        again = cli("import", str(source))
    assert again.exit_code == 0, again.stderr
    assert written == []


def _plan(url: str, sql: str, params: Any) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(_psycopg_url(url)) as con:
        ((plan,),) = con.execute("EXPLAIN (FORMAT JSON) " + sql, params or None).fetchall()
        con.rollback()
    return dict(plan[0]["Plan"])


def _nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(n for child in node.get("Plans", ()) for n in _nodes(child))]


@pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_bulk_end_on_never_analysed_tables_reads_by_the_company_key(
    cli: CLI, backend: str, tmp_path: Path
) -> None:
    import psycopg

    url = db_url()
    with psycopg.connect(_psycopg_url(url), autocommit=True) as con:
        for table in GROWING:  # autovacuum must not analyse them while the test runs
            con.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = off)")
    with pytest.MonkeyPatch.context() as patch:
        # the data as it was before imports refreshed the statistics
        patch.setattr(run, "refresh_statistics", lambda sql, counts: [])
        load(cli, tmp_path)
    with psycopg.connect(_psycopg_url(url)) as con:
        (analysed,) = con.execute(
            "SELECT count(*) FROM pg_stats WHERE tablename = ANY(%s)", (list(GROWING),)
        ).fetchone()
    assert analysed == 0, "the tables must never have been analysed"

    numbers = "".join(customer(i) + "\n" for i in range(1, COMPANIES, 4))  # still active
    with recording() as statements:
        ended = cli(*BULK, input=numbers)
    assert ended.exit_code == 0, ended.stderr[-2000:]

    targets = [(s, p) for s, p in explained(statements) if "co.name" in s and "numbers" in s]
    assert len(targets) == 1, "the bulk end read its targets in one statement per batch"
    problems = []
    for sql, params in explained(statements):
        plan = _nodes(_plan(url, sql, params))
        for node in plan:
            what = f"{' '.join(sql.split())[:200]}\n    {node.get('Node Type')}"
            if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in GROWING:
                problems.append(f"{what} on {node['Relation Name']}")
            # an index read whole (no condition on its columns: a partial index's
            # predicate alone) is a scan too
            # (an EXISTS probe stops at the first row it finds: it never reads on)
            if (
                node.get("Node Type") in INDEX_READS
                and "Index Cond" not in node
                and not sql.lstrip().upper().startswith("SELECT EXISTS")
            ):
                problems.append(f"{what} of all of {node.get('Index Name')}")
    assert not problems, "\n".join(problems)

    ((sql, params),) = targets
    keyed = {
        node["Relation Name"]
        for node in _nodes(_plan(url, sql, params))
        if node.get("Node Type") in ("Index Scan", "Index Only Scan")
        and "customer_number" in node.get("Index Cond", "")
    }
    assert {"company", "collaboration", "subscription", "company_user"} <= keyed, keyed
