"""Several collabctl processes on one database at once, on SQLite and PostgreSQL.

Every race is run with real processes (the installed command), because the
guarantees under test are about what separate agents see: nothing lost or
doubled, no "database is locked" or serialization failure reaching anyone,
and a bulk run killed with SIGKILL leaving every item whole.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from helpers import (
    CLI,
    COLLABCTL,
    db_url,
    killed_after,
    luhn_org_number,
    run_collabctl,
)
from pgbouncer_fixtures import ALL_BACKENDS
from process_races import (
    OFFICES,
    PROCESS_TIMEOUT_S,
    assert_whole,
    bulk_load,
    item_states,
    run_together,
)

pytestmark = pytest.mark.slow


def customer(index: int) -> str:
    return str(7000 + index)


def company(index: int, *, users: int = 1) -> dict[str, Any]:
    """A company ready to end its eekonomi collaboration: the first user is main contact."""
    return {
        "customer_number": customer(index),
        "org_number": luhn_org_number(index),
        "name": f"Bolag {index} AB",
        "users": [
            {
                "email": f"user{u}@bolag{index}.se",
                "name": f"User {u}",
                "role": "administrator" if u == 0 else "user",
                "main_contact": u == 0,
                "services": ["eekonomi"],
            }
            for u in range(users)
        ],
        "subscriptions": [{"service": "eekonomi", "state": "active"}],
        "collaborations": [
            {
                "service": "eekonomi",
                "office": OFFICES[index % 3][0],
                "state": "active",
                "started_at": "2024-01-31T09:00:00Z",
            }
        ],
    }


def load(cli: CLI, tmp_path: Path, companies: Iterable[dict[str, Any]]) -> None:
    path = tmp_path / "companies.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for org, name in OFFICES:
            out.write(json.dumps({"office": {"org_number": org, "name": name}}) + "\n")
        for item in companies:
            out.write(json.dumps({"company": item}) + "\n")
    result = cli("import", str(path))
    assert result.exit_code == 0, result.stderr


def deadlocks(url: str) -> int:
    """Deadlocks the PostgreSQL server detected in this database, once its sessions are gone."""
    from sqlalchemy import text

    from collabctl.store.database import Database

    db = Database(url)
    try:
        with db.engine.connect() as conn:
            deadline = time.monotonic() + 30
            # a backend's statistics are flushed before it leaves pg_stat_activity
            while conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar():
                assert time.monotonic() < deadline, "sessions of finished processes linger"
                time.sleep(0.05)
                conn.rollback()
            conn.rollback()
            return int(
                conn.execute(
                    text(
                        "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
                    )
                ).scalar_one()
            )
    finally:
        db.dispose()


def audit_events(cli: CLI, action: str, customer_number: str | None = None) -> list[dict[str, Any]]:
    args = ["log", "--reverse", "--format", "json"]
    if customer_number is not None:
        args += ["--customer", customer_number]
    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    return [e for e in result.json() if e["action"] == action]


# -- bulk end over overlapping inputs -----------------------------------------------------

COMPANIES = 60
PROCESSES = 4


@pytest.mark.parametrize("backend", ALL_BACKENDS, indirect=True)
def test_concurrent_bulk_ends_end_each_collaboration_exactly_once(
    cli: CLI, backend: str, tmp_path: Path
) -> None:
    load(cli, tmp_path, (company(i) for i in range(COMPANIES)))
    deadlocks_before = deadlocks(db_url()) if backend == "postgres" else 0
    numbers = [customer(i) for i in range(COMPANIES)]
    commands = []
    for p in range(PROCESSES):
        # each customer is in three of the four inputs, each input in its own order
        share = [n for i, n in enumerate(numbers) if i % PROCESSES != p]
        random.Random(p).shuffle(share)
        path = tmp_path / f"input{p}.txt"
        path.write_text("\n".join(share) + "\n")
        commands.append(
            [
                "end",
                "--from",
                str(path),
                "--service",
                "eekonomi",
                "--outcome",
                "continue",
                "--by",
                "office",
                "--yes",
                "--format",
                "jsonl",
            ]
        )

    finished = run_together(tmp_path, commands)

    ended: Counter[str] = Counter()
    reported = 0
    for result in finished:
        assert result.returncode == 0, result.describe()
        rows = result.jsonl()
        assert len(rows) == COMPANIES * (PROCESSES - 1) // PROCESSES, result.describe()
        for row in rows:
            assert row["status"] in ("ended", "already-ended"), row
            if row["status"] == "ended":
                ended[row["customer_number"]] += 1
        reported += len(rows)
    assert reported == COMPANIES * (PROCESSES - 1)
    assert sorted(ended) == sorted(numbers)
    assert set(ended.values()) == {1}, "a collaboration was ended by more than one process"

    collaborations = cli("list", "--state", "all", "--format", "json").json()
    assert len(collaborations) == COMPANIES
    assert {(c["state"], c["outcome"], c["ended_by"]) for c in collaborations} == {
        ("ended", "continue", "office")
    }
    ends = Counter(e["customer_number"] for e in audit_events(cli, "end"))
    assert ends == Counter(numbers), "each end must be audited exactly once"
    if backend == "postgres":
        # the runs queued for each other's locks; none had to be aborted and redone
        assert deadlocks(db_url()) == deadlocks_before


def test_concurrent_imports_of_overlapping_files_create_each_record_once(
    cli: CLI, tmp_path: Path
) -> None:
    offices = [json.dumps({"office": {"org_number": o, "name": n}}) for o, n in OFFICES]
    companies = [json.dumps({"company": company(i, users=2)}) for i in range(COMPANIES)]
    lines = offices + companies
    # the offices first (the companies refer to them), the companies in different orders
    half = COMPANIES // 2
    orders = [
        lines,
        offices[::-1] + companies[::-1],
        offices + companies[half:] + companies[:half],
    ]
    commands = []
    for number, order in enumerate(orders):
        path = tmp_path / f"import{number}.jsonl"
        path.write_text("\n".join(order) + "\n")
        commands.append(["import", str(path), "--format", "jsonl"])

    finished = run_together(tmp_path, commands)

    changed: Counter[str] = Counter()
    for result in finished:
        assert result.returncode == 0, result.describe()
        rows = result.jsonl()
        assert len(rows) == len(lines)
        for row in rows:
            assert row["status"] in ("changed", "unchanged"), row
            if row["status"] == "changed":
                changed[row["key"]] += 1
    # whoever came first created each record; the others found it there, unchanged
    assert len(changed) == len(lines)
    assert set(changed.values()) == {1}
    imports = audit_events(cli, "import")
    assert len(imports) == len(lines)
    shown = cli("list", "--format", "json").json()
    assert len(shown) == COMPANIES


# -- single commands racing for one company ---------------------------------------------


def test_concurrent_ends_of_one_collaboration_one_succeeds(cli: CLI, tmp_path: Path) -> None:
    load(cli, tmp_path, [company(0)])
    number = customer(0)
    command = [
        "end",
        number,
        "--service",
        "eekonomi",
        "--outcome",
        "deactivate",
        "--by",
        "customer",
        "--yes",
        "--format",
        "json",
    ]

    finished = run_together(tmp_path, [command] * PROCESSES)

    winners = [r for r in finished if r.returncode == 0]
    assert len(winners) == 1, [r.describe() for r in finished]
    for result in finished:
        if result.returncode != 0:
            assert result.returncode == 1, result.describe()
            assert result.error_code() == "already-ended", result.describe()
            assert "error[already-ended]" in result.stderr
    assert json.loads(winners[0].stdout)["state"] == "ended"
    assert len(audit_events(cli, "end", number)) == 1
    shown = cli("show", number, "--format", "json").json()
    assert [s["state"] for s in shown["subscriptions"]] == ["read-only"]


def test_concurrent_set_main_contact_leaves_exactly_one(cli: CLI, tmp_path: Path) -> None:
    users = 5
    load(cli, tmp_path, [company(0, users=users)])
    number = customer(0)
    emails = [f"user{u}@bolag0.se" for u in range(1, users)]
    commands = [
        ["set-main-contact", number, "--user", email, "--format", "json"] for email in emails
    ]

    finished = run_together(tmp_path, commands)

    for result in finished:
        assert result.returncode == 0, result.describe()
    shown = cli("show", number, "--format", "json").json()
    mains = [u["email"] for u in shown["users"] if u["main_contact"]]
    assert len(mains) == 1
    assert shown["main_contact"] == mains[0]
    # the main contact moved one step at a time: every change saw the one before it
    events = audit_events(cli, "set-main-contact", number)
    assert len(events) == len(emails)
    chain = [e["details"]["before"] for e in events] + [events[-1]["details"]["after"]]
    assert chain[0] == "user0@bolag0.se"
    assert [e["details"]["after"] for e in events] == chain[1:]
    assert sorted(chain[1:]) == sorted(emails)
    assert chain[-1] == mains[0]
    # everyone made main contact is an administrator now, also the ones replaced since
    roles = {u["email"]: u["role"] for u in shown["users"]}
    assert {roles[e] for e in [*emails, "user0@bolag0.se"]} == {"administrator"}


def test_concurrent_starts_for_one_service_one_succeeds(cli: CLI, tmp_path: Path) -> None:
    item = company(0)
    item["collaborations"] = []
    item["subscriptions"] = []
    for user in item["users"]:
        user["services"] = []  # a user is given only services the company subscribes to
    load(cli, tmp_path, [item])
    number = customer(0)
    commands = [
        ["start", number, "--service", "eekonomi", "--office", org, "--format", "json"]
        for org, _ in OFFICES
    ]

    finished = run_together(tmp_path, commands)

    winners = [r for r in finished if r.returncode == 0]
    assert len(winners) == 1, [r.describe() for r in finished]
    for result in finished:
        if result.returncode != 0:
            assert result.returncode == 1, result.describe()
            assert result.error_code() == "duplicate", result.describe()
    started = json.loads(winners[0].stdout)
    active = cli("list", "--customer", number, "--format", "json").json()
    assert [(c["service"], c["office_org_number"]) for c in active] == [
        ("eekonomi", started["office_org_number"])
    ]
    assert len(audit_events(cli, "start", number)) == 1


# -- a bulk run killed mid-way on PostgreSQL ----------------------------------------------

KILL_ITEMS = 3000


@pytest.mark.postgres
def test_sigkill_mid_bulk_end_leaves_every_item_whole_and_a_rerun_finishes(
    pg_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLLABCTL_DATABASE_URL", pg_database_url)
    numbers = bulk_load(pg_database_url, KILL_ITEMS)
    source = tmp_path / "numbers.txt"
    source.write_text("\n".join(numbers) + "\n")
    command = [
        *COLLABCTL,
        "end",
        "--from",
        str(source),
        "--service",
        "eekonomi",
        "--outcome",
        "deactivate",
        "--by",
        "office",
        "--yes",
        "--format",
        "jsonl",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    reported = killed_after(command, tmp_path / "killed.out", 1)
    states = item_states(pg_database_url)
    assert sorted(states) == sorted(numbers)
    assert_whole(states)
    ended_before = {n for n, s in states.items() if s[0] == "ended"}
    assert {r["customer_number"] for r in reported if r["status"] == "ended"} <= ended_before
    assert 0 < len(ended_before) < KILL_ITEMS, "the run was not killed mid-way"

    rerun = run_collabctl(
        command,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=PROCESS_TIMEOUT_S,
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    statuses = {
        row["customer_number"]: row["status"] for row in map(json.loads, rerun.stdout.splitlines())
    }
    assert {n for n, s in statuses.items() if s == "already-ended"} == ended_before
    assert {n for n, s in statuses.items() if s == "ended"} == set(numbers) - ended_before
    final = item_states(pg_database_url)
    assert set(final.values()) == {("ended", "read-only", 1)}
