"""Bulk end in batches (store/end_writes.py): the same rows as single ends, a few
statements per batch instead of several per item, and a batched write that fails or
changes nothing is found out item by item. On both backends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from collabctl.store.database import normalize_url
from helpers import CLI, db_url, luhn_org_number, ok

OFFICES = (
    ("556677-8899", "Exempelbyrån AB", "kontor@exempel.example"),
    ("559123-4561", "Siffror & Balans Redovisning AB", None),  # no address: no-address
)
FLAGS = ("--service", "eekonomi", "--outcome", "continue", "--by", "office", "--yes")
COMPANIES = 12


def customer(index: int) -> str:
    return str(8000 + index)


def company(index: int, *, main_contact: bool = True) -> dict[str, Any]:
    return {
        "customer_number": customer(index),
        "org_number": luhn_org_number(index),
        "name": f"Bolag {index} AB",
        "users": [
            {
                "email": f"admin@bolag{index}.se",
                "name": f"Admin {index}",
                "role": "administrator",
                "main_contact": main_contact,
                "services": ["eekonomi"],
            }
        ],
        "subscriptions": [{"service": "eekonomi", "state": "active"}],
        "collaborations": [
            {
                "service": "eekonomi",
                "office": OFFICES[index % len(OFFICES)][0],
                "started_at": "2024-01-31T09:00:00Z",
            }
        ],
    }


def load(cli: CLI, tmp_path: Path, count: int, *, no_main_contact: tuple[int, ...] = ()) -> None:
    path = tmp_path / "companies.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for org, name, email in OFFICES:
            office = {"org_number": org, "name": name, **({"email": email} if email else {})}
            out.write(json.dumps({"office": office}, ensure_ascii=False) + "\n")
        for index in range(count):
            item = company(index, main_contact=index not in no_main_contact)
            out.write(json.dumps({"company": item}, ensure_ascii=False) + "\n")
    result = cli("import", str(path))
    assert result.exit_code == 0, result.stderr


def statements_sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL texts sent through ``Statements.execute`` and ``executemany`` from now on,
    in order (counted at the driver, in this process)."""
    from collabctl.store.statements import Statements

    sent: list[str] = []
    execute, executemany = Statements.execute, Statements.executemany

    def counted(self: Statements, sql: str, params: Any = None) -> Any:
        sent.append(sql)
        return execute(self, sql, params)

    def counted_many(self: Statements, sql: str, rows: Any) -> int:
        sent.append(sql)
        return executemany(self, sql, rows)

    monkeypatch.setattr(Statements, "execute", counted)
    monkeypatch.setattr(Statements, "executemany", counted_many)
    return sent


def rows(sql: str, **params: Any) -> list[Any]:
    engine = create_engine(normalize_url(db_url()))
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params))
    finally:
        engine.dispose()


def written(number: str, index: int) -> dict[str, Any]:
    """What ending company ``number`` wrote, with its own number and index taken out."""

    def plain(value: Any) -> Any:
        return (
            json.loads(
                json.dumps(value)
                .replace(number, "N")
                .replace(f"Bolag {index} AB", "B")
                .replace(f"@bolag{index}.", "@bolag.")
            )
            if value is not None
            else None
        )

    (collaboration,) = rows(
        "SELECT state, ended_by, ended_actor, outcome, reason, ended_at IS NOT NULL "
        "FROM collaboration WHERE customer_number = :n",
        n=number,
    )
    (subscription,) = rows("SELECT state FROM subscription WHERE customer_number = :n", n=number)
    events = [
        (action, actor, scope, service, plain(json.loads(d) if isinstance(d, str) else d))
        for action, actor, scope, service, d in rows(
            "SELECT action, actor, scope, service, details FROM audit_event "
            "WHERE customer_number = :n AND action = 'end' ORDER BY id",
            n=number,
        )
    ]
    outbox = [
        (role, plain(recipient), state, language, plain(json.loads(facts)))
        for role, recipient, state, language, facts in rows(
            "SELECT recipient_role, recipient, state, language, facts FROM outbox "
            "WHERE customer_number = :n ORDER BY id",
            n=number,
        )
    ]
    return {
        "collaboration": tuple(collaboration),
        "subscription": tuple(subscription),
        "events": events,
        "outbox": outbox,
    }


def test_a_bulk_end_writes_what_single_ends_write(cli: CLI, tmp_path: Path) -> None:
    half = COMPANIES // 2
    # the last company of each half has no main contact: refused, main-contact-missing
    load(cli, tmp_path, COMPANIES, no_main_contact=(half - 1, COMPANIES - 1))
    # the first half in one bulk run (one batch), the second half one end at a time
    lines = "".join(
        json.dumps({"customer_number": customer(i), "reason": f"sync {i % 2}"}) + "\n"
        for i in range(half)
    )
    bulk = cli("end", "--from", "-", *FLAGS, "--format", "jsonl", input=lines)
    assert bulk.exit_code == 4, bulk.stderr  # one item has no main contact
    single = []
    for i in range(half, COMPANIES):
        run = cli("end", customer(i), *FLAGS, "--reason", f"sync {i % 2}", "--format", "json")
        single.append(run.exit_code)
    assert [r["status"] for r in bulk.jsonl()] == ["ended"] * (half - 1) + ["failed"]
    assert bulk.jsonl()[-1]["error"]["code"] == "main-contact-missing"
    assert single == [0] * (half - 1) + [1]
    for i in range(half):
        by_bulk, by_single = written(customer(i), i), written(customer(half + i), half + i)
        assert by_bulk == by_single, i
        if i < half - 1:
            assert by_bulk["collaboration"][0] == "ended"
            assert len(by_bulk["events"]) == 1 and len(by_bulk["outbox"]) == 2
    # both parties' messages: the office without an address gets a no-address one
    states = {state for i in range(half) for _, _, state, _, _ in written(customer(i), i)["outbox"]}
    assert states == {"pending", "no-address"}
    verified = cli("log", "--verify", "--format", "json")
    assert verified.exit_code == 0, verified.stdout + verified.stderr


def test_one_company_twice_in_a_batch_sees_its_first_end(cli: CLI, tmp_path: Path) -> None:
    load(cli, tmp_path, 4)
    extra = {
        "company": {
            **company(1),
            "subscriptions": [
                {"service": "eekonomi", "state": "active"},
                {"service": "lon", "state": "active"},  # with a checklist
            ],
            "collaborations": [
                {"service": s, "office": OFFICES[1][0], "started_at": "2024-01-31T09:00:00Z"}
                for s in ("eekonomi", "lon")
            ],
        }
    }
    assert cli("import", "-", input=json.dumps(extra) + "\n").exit_code == 0
    lines = [
        {"customer_number": customer(1), "service": "lon", "outcome": "handover", "force": True},
        {"customer_number": customer(0)},
        {"customer_number": customer(1)},
        {"customer_number": customer(0)},  # again: already ended by the line before
        {"customer_number": customer(2)},
    ]
    run = cli(
        "end", "--from", "-", *FLAGS, "--format", "jsonl",
        input="".join(json.dumps(line) + "\n" for line in lines),
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert [(r["customer_number"], r["status"]) for r in run.jsonl()] == [
        (customer(1), "ended"),
        (customer(0), "ended"),
        (customer(1), "ended"),
        (customer(0), "already-ended"),
        (customer(2), "ended"),
    ]
    events = ok(cli("log", "--customer", customer(1), "--format", "json"))
    assert sorted(e["service"] for e in events if e["action"] == "end") == ["eekonomi", "lon"]
    verified = cli("log", "--verify", "--format", "json")
    assert verified.exit_code == 0, verified.stdout + verified.stderr


def _ignore_updates_of(customer_number: str) -> None:
    """A trigger that makes the database skip one company's collaboration UPDATE without an
    error: the batched UPDATE then changes one row fewer than it should."""
    engine = create_engine(normalize_url(db_url()))
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER ignore_test BEFORE UPDATE ON collaboration "
                    f"WHEN NEW.customer_number = '{customer_number}' "
                    "BEGIN SELECT RAISE(IGNORE); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION ignore_test() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.customer_number = '{customer_number}' THEN RETURN NULL; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER ignore_test BEFORE UPDATE ON collaboration "
                    "FOR EACH ROW EXECUTE FUNCTION ignore_test()"
                )
            )
    engine.dispose()


def test_a_batched_end_that_changes_nothing_is_that_items_conflict(
    cli: CLI, tmp_path: Path
) -> None:
    load(cli, tmp_path, 3)
    _ignore_updates_of(customer(1))
    run = cli(
        "end", "--from", "-", *FLAGS, "--format", "jsonl",
        input="".join(customer(i) + "\n" for i in range(3)),
    )  # fmt: skip
    assert run.exit_code == 4, run.stderr
    results = run.jsonl()
    assert [r["status"] for r in results] == ["ended", "failed", "ended"]
    assert results[1]["error"]["code"] == "conflict"
    ends = [
        e["customer_number"] for e in ok(cli("log", "--format", "json")) if e["action"] == "end"
    ]
    assert sorted(ends) == [customer(0), customer(2)], "no event for the item that did not end"
    assert rows("SELECT count(*) FROM outbox WHERE customer_number = :n", n=customer(1)) == [(0,)]


@pytest.mark.parametrize("items", [40, 400])
def test_a_batch_reads_with_a_few_statements_whatever_its_size(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, items: int
) -> None:
    """The reads of an end (its company's lock, the pre-flight's query, the chain's head)
    are answered from one read per batch: the statements that reach the driver do not
    grow with the items. Counted at the driver, in-process."""
    load(cli, tmp_path, items)
    sent = statements_sent(monkeypatch)
    run = cli(
        "end", "--from", "-", *FLAGS, "--format", "jsonl",
        input="".join(customer(i) + "\n" for i in range(items)),
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert {r["status"] for r in run.jsonl()} == {"ended"}
    # one batch: a lock (PostgreSQL), the pre-flight's read, the chains' heads, who the
    # connection is (PostgreSQL), then one write per kind of change
    assert len(sent) <= 10, sent


@pytest.mark.parametrize("items", [40, 400])
def test_scheduling_a_batch_sends_one_statement_per_item_and_a_few_per_batch(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, items: int
) -> None:
    """``end --from --at``: each item is its collaboration's scheduled end looked up (one
    may be there already: ``duplicate``) and one INSERT (its id goes into the audit event);
    the pre-flight's reads, the audit events and the messages are a few statements per
    batch, as for a bulk end. Counted at the driver, in-process."""
    from datetime import date, timedelta

    load(cli, tmp_path, items)
    sent = statements_sent(monkeypatch)
    day = (date.today() + timedelta(days=30)).isoformat()
    run = cli(
        "end", "--from", "-", *FLAGS, "--at", day, "--format", "jsonl",
        input="".join(customer(i) + "\n" for i in range(items)),
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert {r["status"] for r in run.jsonl()} == {"scheduled"}
    per_item = [
        s
        for s in sent
        if s.lstrip().startswith("INSERT INTO scheduled_end")
        or (s.lstrip().startswith("SELECT") and "FROM scheduled_end WHERE collaboration_id" in s)
    ]
    assert len(per_item) == 2 * items
    assert len(sent) - len(per_item) <= 12, [s for s in sent if s not in per_item]
    events = ok(cli("log", "--action", "schedule", "--format", "json"))
    assert len(events) == items
    verified = cli("log", "--verify", "--format", "json")
    assert verified.exit_code == 0, verified.stdout + verified.stderr
