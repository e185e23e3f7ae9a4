"""Races between whole collabctl processes, as the concurrency and scheduled-run tests
stage them: every command started at once (``run_together``), nothing a user must never
see in what they wrote, and a bulk of companies ready to end, loaded in a few statements,
whose every item is checked whole afterwards (ended with its one event, or untouched).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from helpers import COLLABCTL, collabctl_process

PROCESS_TIMEOUT_S = 180

#: What must never reach a user, whatever the interleaving.
FORBIDDEN = (
    "database is locked",
    "could not serialize",
    "deadlock detected",
    "Traceback",
    "error[internal]",
    "database-unavailable",
    "prepared statement",
)

OFFICES = [
    ("556677-8899", "Exempelbyrån AB"),
    ("559123-4561", "Siffror & Balans Redovisning AB"),
    ("556234-5677", "Norrlands Lönebyrå AB"),
    ("556036-0793", "Fjärde Byrån AB"),
]


@dataclass
class Finished:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def jsonl(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def error_code(self) -> str | None:
        lines = self.jsonl()
        return lines[-1]["error"]["code"] if lines and "error" in lines[-1] else None

    def describe(self) -> str:
        return (
            f"{self.args} exited {self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        )


def run_together(tmp_path: Path, commands: Sequence[Sequence[str]]) -> list[Finished]:
    """Start every command at once, each a separate collabctl process; wait for all (bounded)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    running = []
    for number, args in enumerate(commands):
        out = (tmp_path / f"proc{number}.out").open("w+", encoding="utf-8")
        err = (tmp_path / f"proc{number}.err").open("w+", encoding="utf-8")
        proc = collabctl_process(
            [*COLLABCTL, *args], stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env
        )
        running.append((list(args), proc, out, err))
    finished = []
    deadline = time.monotonic() + PROCESS_TIMEOUT_S
    try:
        for args, proc, out, err in running:
            try:
                proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pytest.fail(f"{args} did not finish within {PROCESS_TIMEOUT_S} s")
            out.seek(0)
            err.seek(0)
            finished.append(Finished(args, proc.returncode, out.read(), err.read()))
    finally:
        for _, proc, out, err in running:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
            out.close()
            err.close()
    for result in finished:
        for text in FORBIDDEN:
            assert text not in result.stdout + result.stderr, result.describe()
    return finished


def bulk_load(url: str, count: int) -> list[str]:
    """``count`` companies ready to end, written in a few statements (the import is tested elsewhere)."""
    from sqlalchemy import insert

    from collabctl.store.database import Database
    from collabctl.store.models import Collaboration, Company, CompanyUser, Office, Subscription

    numbers = [str(800000 + i) for i in range(count)]
    db = Database(url)
    try:
        with db.engine.begin() as conn:
            conn.execute(insert(Office), [{"org_number": o, "name": n} for o, n in OFFICES])
            conn.execute(
                insert(Company),
                [
                    {"customer_number": n, "org_number": "556036-0793", "name": f"Bolag {n} AB"}
                    for n in numbers
                ],
            )
            conn.execute(
                insert(CompanyUser),
                [
                    {
                        "customer_number": n,
                        "email": f"admin@{n}.se",
                        "email_key": f"admin@{n}.se",
                        "name": "Admin",
                        "role": "administrator",
                        "main_contact": True,
                        "services": ["eekonomi"],
                    }
                    for n in numbers
                ],
            )
            conn.execute(
                insert(Subscription),
                [{"customer_number": n, "service": "eekonomi", "state": "active"} for n in numbers],
            )
            conn.execute(
                insert(Collaboration),
                [
                    {
                        "customer_number": n,
                        "service": "eekonomi",
                        "office_org_number": OFFICES[0][0],
                        "state": "active",
                        "started_at": "2024-01-31T09:00:00.000000Z",
                    }
                    for n in numbers
                ],
            )
    finally:
        db.dispose()
    return numbers


def item_states(url: str) -> dict[str, tuple[str, str, int]]:
    """Per customer: collaboration state, subscription state, number of end events."""
    from sqlalchemy import text

    from collabctl.store.database import Database

    db = Database(url)
    try:
        with db.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT c.customer_number, c.state, s.state,"
                    " (SELECT count(*) FROM audit_event a WHERE a.action = 'end'"
                    "  AND a.customer_number = c.customer_number AND a.service = c.service)"
                    " FROM collaboration c JOIN subscription s"
                    " ON s.customer_number = c.customer_number AND s.service = c.service"
                    " WHERE c.service = 'eekonomi'"
                )
            ).all()
    finally:
        db.dispose()
    return {number: (collab, sub, int(events)) for number, collab, sub, events in rows}


def assert_whole(states: dict[str, tuple[str, str, int]]) -> None:
    for number, state in states.items():
        assert state in (("ended", "read-only", 1), ("active", "active", 0)), (number, state)
