"""An end by hand settles the collaboration's scheduled end (SPEC 8.3): whether single,
interactive or bulk, the end marks it ``cancelled`` in its own transaction, saying why, so
``schedule run`` never fails it for nothing. On both backends."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from helpers import CLI, db_url, ok, schedule_run_at
from process_races import bulk_load

DAY = (date.today() + timedelta(days=60)).isoformat()
END = ("-s", "eekonomi", "-o", "continue", "--by", "office")


def schedule(cli: CLI, customer: str, service: str = "eekonomi") -> Any:
    args = ("end", customer, "-s", service, "-o", "continue", "--by", "office", "--at", DAY)
    return ok(cli(*args, "--yes", "--format", "json"))


def all_schedules(cli: CLI) -> dict[int, dict[str, Any]]:
    rows = ok(cli("schedule", "list", "--state", "all", "--format", "json"))
    return {r["id"]: r for r in rows}


def ends_at(cli: CLI, customer: str) -> dict[str, Any]:
    rows = ok(cli("list", "--customer", customer, "--state", "all", "--format", "json"))
    return {r["service"]: r["ends_at"] for r in rows}


def run_all_due(due_at: str) -> list[dict[str, Any]]:
    """``schedule run`` in this process, a year after ``due_at`` by its clock."""
    from datetime import datetime

    return schedule_run_at(
        datetime.fromisoformat(due_at.replace("Z", "+00:00")) + timedelta(days=365)
    )


def assert_ended_by_hand(row: dict[str, Any], customer: str) -> None:
    assert (row["customer_number"], row["state"]) == (customer, "cancelled"), row
    assert row["error"]["code"] == "already-ended"
    assert "ended by hand" in row["error"]["message"], row


def test_a_single_end_cancels_the_scheduled_end_and_the_run_has_nothing_to_do(demo: CLI) -> None:
    scheduled = schedule(demo, "1001")
    other = schedule(demo, "1001", "utlagg")
    assert ends_at(demo, "1001")["eekonomi"] == scheduled["due_at"]
    ok(demo("end", "1001", *END, "--yes", "--format", "json"))
    rows = all_schedules(demo)
    assert_ended_by_hand(rows[scheduled["id"]], "1001")
    assert "tester" in rows[scheduled["id"]]["error"]["message"]  # who ended it
    # another service's scheduled end is not touched, and ends_at follows
    assert (rows[other["id"]]["state"], rows[other["id"]]["error"]) == ("scheduled", None)
    assert ends_at(demo, "1001") == {
        "eekonomi": None,
        "fakturering": None,
        "utlagg": other["due_at"],
    }
    listed = demo("schedule", "list", "--state", "cancelled")
    assert listed.exit_code == 0 and "cancelled" in listed.stdout
    results = run_all_due(scheduled["due_at"])
    assert [(r["id"], r["status"]) for r in results] == [(other["id"], "done")]
    assert all_schedules(demo)[scheduled["id"]]["state"] == "cancelled"


def test_a_refused_or_dry_run_end_leaves_the_scheduled_end_alone(demo: CLI) -> None:
    tried = schedule(demo, "1001")
    refused_one = schedule(demo, "1002")
    dry = demo("end", "1001", *END, "--dry-run", "--format", "json")
    assert dry.exit_code == 0, dry.stderr
    # 1002 has no main contact: its end is refused, and nothing changes
    refused = demo("end", "1002", *END, "--yes", "--format", "json")
    assert refused.json()["error"]["code"] == "main-contact-missing"
    rows = all_schedules(demo)
    for row in (rows[tried["id"]], rows[refused_one["id"]]):
        assert (row["state"], row["error"]) == ("scheduled", None)
    assert ends_at(demo, "1001")["eekonomi"] == tried["due_at"]


def test_a_bulk_end_cancels_each_scheduled_end_it_performs(demo: CLI) -> None:
    first = schedule(demo, "1001")
    second = schedule(demo, "1003")
    kept = schedule(demo, "1001", "utlagg")
    result = demo(
        "end", "--from", "-", *END, "--yes", "--format", "jsonl", input="1001\n1003\n1004\n"
    )
    statuses = {r["customer_number"]: r["status"] for r in result.jsonl()}
    assert statuses["1001"] == statuses["1003"] == "ended", result.stdout
    rows = all_schedules(demo)
    assert_ended_by_hand(rows[first["id"]], "1001")
    assert_ended_by_hand(rows[second["id"]], "1003")
    assert (rows[kept["id"]]["state"], rows[kept["id"]]["error"]) == ("scheduled", None)
    assert ends_at(demo, "1003")["eekonomi"] is None
    results = run_all_due(first["due_at"])
    assert [(r["id"], r["status"]) for r in results] == [(kept["id"], "done")]


#: more than a batch of the bulk end (operations/bulk.BATCH_ITEMS)
MANY = 620


def test_a_bulk_end_of_many_settles_each_schedule_in_its_batches(cli: CLI) -> None:
    """The batched path (segments, held-back writes) settles each collaboration's own
    scheduled end, and those of companies it does not end stay scheduled."""
    ok(cli("list", "--format", "json"))  # the embedded SQLite database exists, migrated
    numbers = bulk_load(db_url(), MANY)
    scheduled = cli(
        "end", "--from", "-", *END, "--at", DAY, "--yes", "--format", "jsonl",
        input="\n".join(numbers) + "\n",
    )  # fmt: skip
    assert scheduled.exit_code == 0, scheduled.stderr
    ids = {r["customer_number"]: r["id"] for r in all_schedules(cli).values()}
    assert sorted(ids) == sorted(numbers)
    by_hand, left = numbers[::2], numbers[1::2]
    ended = cli("end", "--from", "-", *END, "--yes", "--format", "jsonl",
                 input="\n".join(by_hand) + "\n")  # fmt: skip
    assert ended.exit_code == 0, ended.stderr
    assert {r["status"] for r in ended.jsonl()} == {"ended"}
    rows = all_schedules(cli)
    for number in by_hand:
        assert_ended_by_hand(rows[ids[number]], number)
    assert {rows[ids[n]]["state"] for n in left} == {"scheduled"}
    results = run_all_due(rows[ids[left[0]]]["due_at"])
    assert sorted(r["customer_number"] for r in results) == sorted(left)
    assert {r["status"] for r in results} == {"done"}


def test_settling_finds_each_scheduled_end_by_its_collaboration(cli: CLI, backend: str) -> None:
    """What a bulk end sends to settle the scheduled ends of its collaborations (SQLite: one
    statement per segment; PostgreSQL: one per end, pipelined) finds them by the
    collaboration, not by reading every scheduled row, also before PostgreSQL has
    statistics."""
    from collabctl.store import schedules

    ok(cli("list", "--format", "json"))
    if backend == "postgres":  # autovacuum must not analyse the table while the test runs
        import psycopg

        plain = db_url().replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as con:
            con.execute("ALTER TABLE scheduled_end SET (autovacuum_enabled = off)")
    numbers = bulk_load(db_url(), 2000)  # enough that reading every row costs more
    scheduled = cli("end", "--from", "-", *END, "--at", DAY, "--yes", "--format", "jsonl",
                    input="\n".join(numbers) + "\n")  # fmt: skip
    assert scheduled.exit_code == 0, scheduled.stderr
    ids = [1, 2, 3]
    if backend == "sqlite":
        import sqlite3

        path = db_url().removeprefix("sqlite:///")
        with sqlite3.connect(path) as con:
            plan = con.execute(
                "EXPLAIN QUERY PLAN " + schedules._ENDED_BY_HAND_MANY_SQL.replace(":", "@"),
                {"ids": json.dumps(ids), "error": "{}"},
            ).fetchall()
        details = " ".join(row[-1] for row in plan)
        assert "USING INDEX uq_scheduled_end_collaboration" in details, details
        return
    import psycopg

    url = db_url().replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as con:
        (analysed,) = con.execute(
            "SELECT count(*) FROM pg_stats WHERE tablename = 'scheduled_end'"
        ).fetchone()
        sql = schedules._ENDED_BY_HAND_SQL.replace(":collaboration", "%(c)s").replace(
            ":error", "%(error)s"
        )
        ((plan,),) = con.execute("EXPLAIN (FORMAT JSON) " + sql, {"c": 7, "error": "{}"}).fetchall()
        con.rollback()
    nodes = [
        (n["Node Type"], n.get("Relation Name"), n.get("Index Name"), n.get("Index Cond"))
        for n in _nodes(plan[0]["Plan"])
    ]
    assert analysed == 0, "the table must not have statistics yet"
    reads = [n for n in nodes if n[1] == "scheduled_end" and n[0] != "ModifyTable"]
    assert reads and all(n[0] != "Seq Scan" for n in reads), nodes
    assert any(n[2] == "uq_scheduled_end_collaboration" and n[3] for n in reads), nodes
    assert not any(n[2] == "ix_scheduled_end_due" for n in reads), nodes


def _nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(n for child in node.get("Plans", ()) for n in _nodes(child))]
