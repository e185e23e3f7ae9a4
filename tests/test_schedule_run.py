"""``schedule run`` performs the scheduled ends that are due (SPEC 8.3): each exactly as
``end`` would, each on its own, exactly once however many runs there are, and whole
after a SIGKILL. Time moves by the clock handed to the run in-process, and by
libfaketime for whole processes; never by sleeping."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collabctl.config import backup_dir
from collabctl.operations.context import Context
from collabctl.operations.schedule_run import run_due
from collabctl.store.database import Database
from helpers import (
    CLI,
    COLLABCTL,
    db_url,
    killed_after,
    log_events,
    ok,
    run_collabctl,
    schedule_run_at,
)
from process_races import assert_whole, bulk_load, item_states, run_together

try:  # PgBouncer in transaction mode too, where the suite has it (pgbouncer_fixtures)
    from pgbouncer_fixtures import ALL_BACKENDS as PROCESS_BACKENDS
except ImportError:
    PROCESS_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

DAY = (date.today() + timedelta(days=60)).isoformat()


def schedule(cli: CLI, customer: str, service: str, outcome: str, by: str = "office") -> Any:
    args = ("end", customer, "-s", service, "-o", outcome, "--by", by, "--at", DAY, "--yes")
    return ok(cli(*args, "--format", "json"))


def instant(stored: str) -> datetime:
    return datetime.fromisoformat(stored.replace("Z", "+00:00"))


def states(cli: CLI) -> dict[int, tuple[str, Any]]:
    rows = ok(cli("schedule", "list", "--state", "all", "--format", "json"))
    return {r["id"]: (r["state"], r["error"] and r["error"]["code"]) for r in rows}


def test_nothing_runs_before_it_is_due_and_then_each_end_is_a_real_end(demo: CLI) -> None:
    kept = schedule(demo, "1001", "eekonomi", "continue")
    deleted = schedule(demo, "1001", "utlagg", "delete", by="customer")
    due = instant(kept["due_at"])
    assert schedule_run_at(due - timedelta(seconds=1)) == []
    assert states(demo) == {kept["id"]: ("scheduled", None), deleted["id"]: ("scheduled", None)}
    assert ok(demo("schedule", "list", "--due", "--format", "json")) == []

    results = schedule_run_at(due)
    assert sorted((r["id"], r["status"], r["outcome"]) for r in results) == [
        (kept["id"], "done", "continue"),
        (deleted["id"], "done", "delete"),
    ]
    assert states(demo) == {kept["id"]: ("done", None), deleted["id"]: ("done", None)}
    assert schedule_run_at(due + timedelta(days=1)) == []  # a second run finds nothing left
    ended = {
        c["service"]: c
        for c in ok(demo("list", "--customer", "1001", "--state", "all", "--format", "json"))
    }
    assert (ended["eekonomi"]["state"], ended["eekonomi"]["ended_by"]) == ("ended", "office")
    assert (ended["utlagg"]["outcome"], ended["utlagg"]["ended_by"]) == ("delete", "customer")
    assert ended["fakturering"]["state"] == "active"
    ends = [e for e in log_events(demo, "--customer", "1001") if e["action"] == "end"]
    assert sorted(e["details"]["schedule_id"] for e in ends) == [kept["id"], deleted["id"]]
    assert {e["actor"] for e in ends} == {"runner"}
    # delete wrote its backup first, as any end with delete does
    [backup] = [e["details"]["backup_path"] for e in ends if e["service"] == "utlagg"]
    assert Path(backup).is_file()
    messages = ok(demo("notify", "list", "--state", "all", "--format", "json"))
    assert len([m for m in messages if m["event"] == "end"]) == 4


def test_a_rule_that_no_longer_holds_fails_that_one_and_the_others_go_on(demo: CLI) -> None:
    no_contact = schedule(demo, "1002", "eekonomi", "continue", by="customer")
    fine = schedule(demo, "1001", "eekonomi", "continue")
    gone = schedule(demo, "1003", "eekonomi", "continue")
    # 1003's collaboration is ended now and a new one started: the schedule was not for it
    ok(demo("end", "1003", "-s", "eekonomi", "-o", "continue", "--by", "office", "--yes",
            "--format", "json"))  # fmt: skip
    ok(demo("start", "1003", "-s", "eekonomi", "--office", "556677-8899", "--format", "json"))
    results = {r["id"]: r for r in schedule_run_at(instant(fine["due_at"]))}
    assert results[fine["id"]]["status"] == "done"
    assert results[no_contact["id"]]["status"] == "failed"
    assert results[no_contact["id"]]["error"]["code"] == "main-contact-missing"
    # ended by hand, its scheduled end was settled then: the run has nothing to do for it
    assert gone["id"] not in results
    assert states(demo) == {
        no_contact["id"]: ("failed", "main-contact-missing"),
        fine["id"]: ("done", None),
        gone["id"]: ("cancelled", "already-ended"),
    }
    active = ok(demo("list", "--customer", "1003", "--format", "json"))
    assert [c["office_org_number"] for c in active if c["service"] == "eekonomi"] == ["556677-8899"]
    error = demo("schedule", "cancel", str(no_contact["id"]), "--format", "json")
    assert error.exit_code == 1 and error.json()["error"]["code"] == "conflict"


# -- whole processes, under libfaketime ------------------------------------------------------


def _faketime_library() -> str | None:
    for path in (
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/faketime/libfaketime.so.1",
    ):
        if Path(path).exists():
            return path
    return None


@pytest.fixture
def at_due_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """collabctl processes started in the test see the system clock two days after DAY."""
    at_due_time_for(monkeypatch)


#: what a whole process adds (its exit code, what it prints) does not depend on the backend;
#: the runs themselves are checked on both in this process and in the races below
WHOLE_PROCESS = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@WHOLE_PROCESS
def test_schedule_run_as_a_process_exits_4_when_one_failed(demo: CLI, at_due_time: None) -> None:
    schedule(demo, "1002", "eekonomi", "continue", by="customer")
    schedule(demo, "1001", "eekonomi", "continue")
    result = run_collabctl(
        [*COLLABCTL, "schedule", "run", "--format", "jsonl"],
        capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 4, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted((r["customer_number"], r["status"]) for r in rows) == [
        ("1001", "done"),
        ("1002", "failed"),
    ]
    assert "2 scheduled ends due: 1 done, 1 failed" in result.stderr
    assert "Traceback" not in result.stderr
    again = run_collabctl(
        [*COLLABCTL, "schedule", "run"], capture_output=True, text=True, timeout=120, check=False
    )
    assert again.returncode == 0, again.stderr
    assert "no scheduled end is due" in again.stderr
    scoped = demo("--as", "office:556677-8899", "schedule", "run")  # refused before the clock
    assert scoped.exit_code == 2 and "without --as" in scoped.stderr


@WHOLE_PROCESS
def test_a_table_says_why_a_scheduled_end_failed(demo: CLI, at_due_time: None) -> None:
    """The run's hint sends people to `schedule list --state failed`: its table, and the
    run's own, show the failed end's code and message (the machine formats the object)."""
    schedule(demo, "1002", "eekonomi", "continue", by="customer")  # 1002 has no main contact
    ran = run_collabctl(
        [*COLLABCTL, "schedule", "run"],
        capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert ran.returncode == 4, ran.stderr
    reason = "main-contact-missing: customer 1002 (Snickeri Norr AB) has no main contact"
    assert reason in ran.stdout
    assert "collabctl schedule list --state failed" in ran.stderr
    listed = demo("schedule", "list", "--state", "failed")
    assert listed.exit_code == 0, listed.output
    assert reason in listed.stdout
    as_json = json.loads(demo("schedule", "list", "--state", "failed", "--format", "json").stdout)
    assert [row["error"]["code"] for row in as_json] == ["main-contact-missing"]


def schedule_many(cli: CLI, count: int) -> list[str]:
    """``count`` companies loaded ready to end, each end scheduled for DAY in one pipeline
    (``end --from - --at``); their customer numbers."""
    ok(cli("list", "--format", "json"))  # the embedded SQLite database exists, migrated
    numbers = bulk_load(db_url(), count)
    scheduled = cli(
        "end", "--from", "-", "-s", "eekonomi", "-o", "deactivate", "--by", "office",
        "--at", DAY, "--yes", "--format", "jsonl", input="\n".join(numbers) + "\n",
    )  # fmt: skip
    assert scheduled.exit_code == 0, scheduled.stderr
    return numbers


RUNNERS = 4
DUE_ENDS = 300


@pytest.mark.slow
@pytest.mark.parametrize("backend", PROCESS_BACKENDS, indirect=True)
def test_concurrent_runs_perform_each_due_end_exactly_once(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbers = schedule_many(cli, DUE_ENDS)
    at_due_time_for(monkeypatch)
    finished = run_together(tmp_path, [["schedule", "run", "--format", "jsonl"]] * RUNNERS)
    done: Counter[str] = Counter()
    for result in finished:
        assert result.returncode == 0, result.describe()
        for row in result.jsonl():
            assert row["status"] == "done", row
            done[row["customer_number"]] += 1
    assert sorted(done) == sorted(numbers)
    assert set(done.values()) == {1}, "a scheduled end was performed by more than one run"
    final = item_states(db_url())
    assert set(final.values()) == {("ended", "read-only", 1)}, "one end event each"
    assert {state for state, _ in states(cli).values()} == {"done"}


KILL_ENDS = 1500


@pytest.mark.slow
@pytest.mark.parametrize("backend", PROCESS_BACKENDS, indirect=True)
def test_a_run_killed_midway_leaves_each_end_done_or_due_and_a_rerun_completes_it(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbers = schedule_many(cli, KILL_ENDS)
    at_due_time_for(monkeypatch)
    command = [*COLLABCTL, "schedule", "run", "--format", "jsonl"]
    reported = killed_after(command, tmp_path / "killed.out", 1)
    states_now = item_states(db_url())
    assert_whole(states_now)
    ended = {n for n, s in states_now.items() if s[0] == "ended"}
    assert {r["customer_number"] for r in reported} <= ended
    assert 0 < len(ended) < KILL_ENDS, "the run was not killed midway"
    by_state = Counter(state for state, _ in states(cli).values())
    assert by_state == {"done": len(ended), "scheduled": KILL_ENDS - len(ended)}

    rerun = run_collabctl(
        command, capture_output=True, text=True, timeout=300, check=False, stdin=subprocess.DEVNULL
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    performed = {json.loads(line)["customer_number"] for line in rerun.stdout.splitlines()}
    assert performed == set(numbers) - ended
    assert set(item_states(db_url()).values()) == {("ended", "read-only", 1)}


def at_due_time_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """collabctl processes started from now on in the test see the system clock two days
    after DAY (libfaketime); this process's clock is untouched."""
    library = _faketime_library()
    if library is None:
        pytest.skip("libfaketime is not installed (Debian package faketime)")
    moment = (date.fromisoformat(DAY) + timedelta(days=2)).isoformat()
    monkeypatch.setenv("LD_PRELOAD", library)
    monkeypatch.setenv("FAKETIME", f"@{moment} 12:00:00")
    monkeypatch.setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1")
    monkeypatch.setenv("TZ", "UTC")


def test_the_clock_of_the_run_decides_not_the_database(demo: CLI) -> None:
    kept = schedule(demo, "1001", "eekonomi", "continue")
    # the database's clock (now) is two months before the day: the run's clock decides
    assert instant(kept["due_at"]) > datetime.now(UTC)
    assert [r["id"] for r in schedule_run_at(instant(kept["due_at"]) + timedelta(seconds=1))] == [
        kept["id"]
    ]


def test_runs_in_small_batches_at_once_share_the_work_and_each_end_happens_once(
    cli: CLI,
) -> None:
    """Four runs in threads, started together, ten ends a batch: their claims may interleave
    at any point, and still each end is performed once."""
    import threading

    numbers = schedule_many(cli, 120)
    due = instant(ok(cli("schedule", "list", "--format", "json"))[0]["due_at"])
    performed: list[list[str]] = [[] for _ in range(4)]
    failures: list[BaseException] = []
    together = threading.Barrier(4)

    def runner(index: int) -> None:
        db = Database(db_url())
        try:
            together.wait(timeout=60)
            for batch in run_due(
                db, Context(actor=f"runner{index}"), now=due, backup_dir=backup_dir(),
                batch_items=10,
            ):  # fmt: skip
                performed[index] += [r.customer_number for r in batch if r.status == "done"]
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not failures, failures
    everything = [n for share in performed for n in share]
    assert sorted(everything) == sorted(numbers), "each end performed once, none left"
    assert set(item_states(db_url()).values()) == {("ended", "read-only", 1)}


def test_a_result_line_from_the_template_is_the_same_as_the_generic_one() -> None:
    from collabctl.cli.commands.schedule import _jsonl_line
    from collabctl.cli.output import dumps
    from collabctl.operations.schedule_run import RunResult

    for result in (
        RunResult(7, "0042", "eekonomi", "done", "continue", None),
        RunResult(8, 'a"b\\ä\u2028', "utlägg", "done", "delete", None),
        RunResult(
            9, "1002", "eekonomi", "failed", None, {"code": "x", "message": "m", "hint": None}
        ),
    ):
        assert _jsonl_line(result) == dumps(result.to_dict()) + "\n"
