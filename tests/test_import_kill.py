"""``import`` killed with SIGKILL mid-run: every company fully imported or untouched,
and a second run imports the rest (both backends, real processes); stopped with Ctrl-C,
it says how far it got."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from helpers import (
    COLLABCTL,
    PROCESS_TIMEOUT_S,
    collabctl_process,
    db_url,
    killed_after,
    luhn_org_number,
    run_collabctl,
    sqlite_only,
)

pytestmark = pytest.mark.slow

#: enough that the kill lands with many batches (500 items at most) still to go, however
#: late it comes on a busy machine; more only makes the re-run longer
COMPANIES = 5_000
OFFICES = ("556677-8899", "559123-4561", "556234-5677")
SERVICES = ("eekonomi", "fakturering")
#: rows of a fully imported company: company, user, subscriptions, collaborations, events
WHOLE = (1, 1, 2, 2, 1)


def company(index: int) -> dict[str, Any]:
    return {
        "customer_number": str(300_000 + index),
        "org_number": luhn_org_number(index),
        "name": f"Bolag {index} AB",
        "users": [
            {"email": f"admin@bolag{index}.se", "role": "administrator", "main_contact": True,
             "services": list(SERVICES)},
        ],
        "subscriptions": [{"service": s} for s in SERVICES],
        "collaborations": [
            {"service": s, "office": OFFICES[index % 3], "started_at": "2024-01-31T09:00:00Z"}
            for s in SERVICES
        ],
    }  # fmt: skip


def write_source(path: Path) -> Path:
    """The offices, then COMPANIES companies, as JSON Lines for ``import``."""
    with path.open("w", encoding="utf-8") as out:
        for org in OFFICES:
            out.write(json.dumps({"office": {"org_number": org, "name": f"Byrå {org}"}}) + "\n")
        for index in range(COMPANIES):
            out.write(json.dumps({"company": company(index)}) + "\n")
    return path


def rows_per_company(url: str) -> dict[str, tuple[int, ...]]:
    from sqlalchemy import text

    from collabctl.store.database import Database

    counts: dict[str, list[int]] = {}
    queries = [
        "SELECT customer_number, count(*) FROM company GROUP BY customer_number",
        "SELECT customer_number, count(*) FROM company_user GROUP BY customer_number",
        "SELECT customer_number, count(*) FROM subscription GROUP BY customer_number",
        "SELECT customer_number, count(*) FROM collaboration GROUP BY customer_number",
        "SELECT customer_number, count(*) FROM audit_event"
        " WHERE action = 'import' AND customer_number IS NOT NULL GROUP BY customer_number",
    ]
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            for position, query in enumerate(queries):
                for number, count in conn.execute(text(query)):
                    counts.setdefault(number, [0] * len(queries))[position] = count
    finally:
        db.dispose()
    return {number: tuple(found) for number, found in counts.items()}


def test_sigkill_mid_import_leaves_every_company_whole_and_a_rerun_finishes(
    backend: str, tmp_path: Path
) -> None:
    source = write_source(tmp_path / "companies.jsonl")
    numbers = {company(index)["customer_number"] for index in range(COMPANIES)}
    command = [*COLLABCTL, "import", str(source), "--format", "jsonl"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    reported = killed_after(command, tmp_path / "killed.out", 600)
    states = rows_per_company(db_url())
    assert set(states) <= numbers
    assert set(states.values()) <= {WHOLE}, "a company was imported in part"
    whole = set(states)
    assert {r["key"] for r in reported if r["kind"] == "company"} <= whole
    assert 0 < len(whole) < COMPANIES, "the import was not killed mid-way"

    rerun = run_collabctl(
        command, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
        timeout=PROCESS_TIMEOUT_S,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    statuses = {
        row["key"]: row["status"]
        for row in map(json.loads, rerun.stdout.splitlines())
        if row["kind"] == "company"
    }
    assert {n for n, s in statuses.items() if s == "unchanged"} == whole
    assert {n for n, s in statuses.items() if s == "changed"} == numbers - whole
    final = rows_per_company(db_url())
    assert set(final) == numbers
    assert set(final.values()) == {WHOLE}  # one import event each: nothing imported twice


@sqlite_only  # what is left behind is the SIGKILL test's, on both backends; this is the report
def test_ctrl_c_mid_import_says_how_far_it_got_and_a_rerun_finishes(
    backend: str, tmp_path: Path
) -> None:
    source = write_source(tmp_path / "companies.jsonl")
    command = [*COLLABCTL, "import", str(source), "--format", "jsonl"]
    results, said = tmp_path / "interrupted.out", tmp_path / "interrupted.err"
    with results.open("w") as out, said.open("w") as err:
        proc = collabctl_process(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        try:
            deadline = time.monotonic() + PROCESS_TIMEOUT_S
            while results.read_text().count("\n") < 1:
                assert proc.poll() is None, "the import ended before Ctrl-C"
                assert time.monotonic() < deadline, "no result within the time limit"
                time.sleep(0.01)
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=PROCESS_TIMEOUT_S)
        finally:
            proc.kill()
    assert code == 130, said.read_text()
    reported = [json.loads(line) for line in results.read_text().splitlines()]
    assert 0 < len(reported) < COMPANIES, "Ctrl-C did not land mid-way"
    stderr = said.read_text()
    summary = re.search(r"^interrupted: imported (\d+) items: (\d+) changed, 0 unchanged, 0 failed$",
                        stderr, re.MULTILINE)  # fmt: skip
    assert summary is not None, stderr
    n = int(summary[1])
    assert int(summary[2]) == n
    # what the lines said, and at most the one item whose line Ctrl-C cut off
    assert len(reported) <= n <= len(reported) + 1
    assert "hint: every company is either imported whole or untouched; run the same input" in stderr
    assert "Traceback" not in stderr

    rerun = run_collabctl(command)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    statuses = [json.loads(line)["status"] for line in rerun.stdout.splitlines()]
    assert len(statuses) == len(OFFICES) + COMPANIES
    # what was said to be imported is in; nothing was imported twice or in part
    assert statuses.count("unchanged") >= n
    assert set(statuses) == {"changed", "unchanged"}
    assert set(rows_per_company(db_url()).values()) == {WHOLE}
