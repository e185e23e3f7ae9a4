"""``collabctl end``: every refusal with its code, exit code and hint, the order of the
checks, every outcome of every default service, the audit event, backups, and that
nothing but the one collaboration and its subscription changes."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from collabctl.operations.demo import EXEMPEL, NORRLON, SIFFROR
from conftest import CLI, Run, db_url

JSON = ("--format", "json")

# Natural keys of every table whose rows an end may touch; ids are kept in the rows,
# so a row that was deleted and re-created with the same key still shows as changed.
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "office": ("org_number",),
    "company": ("customer_number",),
    "company_user": ("customer_number", "email_key"),
    "subscription": ("customer_number", "service"),
    "collaboration": ("customer_number", "service", "office_org_number", "started_at"),
    "service_record": ("customer_number", "service", "record_id"),
    "service_definition": ("code",),
}


def snapshot() -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    """Every row of every data table (the audit log aside), by natural key."""
    engine = create_engine(db_url().replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            result: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
            for table, key in TABLE_KEYS.items():
                rows = [dict(r._mapping) for r in conn.execute(text(f"SELECT * FROM {table}"))]
                result[table] = {tuple(r[k] for k in key): r for r in rows}
            return result
    finally:
        engine.dispose()


def changed_keys(before: dict[str, Any], after: dict[str, Any]) -> dict[str, set[tuple[Any, ...]]]:
    return {
        table: {
            k
            for k in before[table].keys() | after[table].keys()
            if before[table].get(k) != after[table].get(k)
        }
        for table in TABLE_KEYS
    }


def audit_count() -> int:
    engine = create_engine(db_url().replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one())
    finally:
        engine.dispose()


def refused(run: Run, code: str, exit_code: int = 1) -> dict[str, Any]:
    """The error of a refused command, checked on both streams."""
    assert run.exit_code == exit_code, (run.stdout, run.stderr)
    error = run.json()["error"]
    assert error["code"] == code
    assert f"error[{code}]: {error['message']}" in run.stderr
    assert error["hint"], "every refusal says how to fix it"
    assert "hint: " in run.stderr
    assert "Traceback" not in run.stderr
    return error


def show(cli: CLI, customer: str) -> dict[str, Any]:
    run = cli("show", customer, *JSON)
    assert run.exit_code == 0, run.stderr
    return run.json()


def subscription_state(cli: CLI, customer: str, service: str) -> dict[str, Any]:
    return next(s for s in show(cli, customer)["subscriptions"] if s["service"] == service)


def events(cli: CLI, *args: str) -> list[dict[str, Any]]:
    run = cli("log", *args, "--reverse", *JSON)
    assert run.exit_code == 0, run.stderr
    return run.json()


def end(cli: CLI, customer: str, service: str, *args: str) -> Run:
    return cli("end", customer, "--service", service, *args, *JSON)


def ended(cli: CLI, customer: str, service: str, *args: str) -> dict[str, Any]:
    run = end(cli, customer, service, *args, "--yes")
    assert run.exit_code == 0, run.stderr
    return run.json()


def import_doc(cli: CLI, document: dict[str, Any]) -> Run:
    return cli("import", "-", "--format", "json", input=json.dumps(document))


# -- refusals -------------------------------------------------------------------------

SCOPE_OFFICE = ("--as", f"office:{SIFFROR}")

# (global options, end arguments, code, exit code, texts the message holds, texts the hint holds)
Refusal = tuple[tuple[str, ...], tuple[str, ...], str, int, tuple[str, ...], tuple[str, ...]]

# fmt: off
REFUSALS: list[Refusal] = [
    # 1. not-found / already-ended
    ((), ("9999", "-s", "eekonomi", "-o", "continue", "--by", "office"),
     "not-found", 1, ("9999",), ("collabctl list",)),
    ((), ("1005", "-s", "eekonomi", "-o", "continue", "--by", "office"),
     "not-found", 1, ("1005", "eekonomi"), ("active collaborations of 1005: lon",)),
    ((), ("0042", "-s", "eekonomi", "-o", "deactivate", "--by", "customer"),
     "already-ended", 1, (EXEMPEL, "2025-12-31"), ("collabctl show 0042",)),
    # 2. not-a-party: another office's collaboration with a company the office works for
    # (Siffror has 1001's invoicing); the other office is not named
    (SCOPE_OFFICE, ("1001", "-s", "eekonomi", "-o", "continue"),
     "not-a-party", 1, (f"office:{SIFFROR}", "1001", "eekonomi"), ("--as",)),
    # a company the party may not see is not-found, as if it did not exist
    (("--as", "customer:1002"), ("1001", "-s", "eekonomi", "-o", "continue"),
     "not-found", 1, ("1001", "customer:1002"), ("--as",)),
    # 3. main-contact-missing: both fixes, and never the auditor
    ((), ("1002", "-s", "eekonomi", "-o", "deactivate", "--by", "office"),
     "main-contact-missing", 1, ("1002",),
     ("collabctl set-main-contact 1002 --user lars@snickerinorr.se",
      "collabctl add-user 1002 --email", "--main-contact")),
    # 4. outcome-not-allowed lists the allowed ones
    ((), ("1001", "-s", "eekonomi", "-o", "delete", "--by", "office"),
     "outcome-not-allowed", 1, ("delete",),
     ("allowed outcomes for eekonomi: continue, deactivate",)),
    ((), ("1001", "-s", "fakturering", "-o", "handover", "--by", "office"),
     "outcome-not-allowed", 1, ("handover",),
     ("allowed outcomes for fakturering: continue, deactivate",)),
    ((), ("1005", "-s", "lon", "-o", "continue", "--by", "office"),
     "outcome-not-allowed", 1, ("continue",), ("allowed outcomes for lon: handover",)),
    ((), ("1007", "-s", "utlagg", "-o", "deactivate", "--by", "office"),
     "outcome-not-allowed", 1, ("deactivate",),
     ("allowed outcomes for utlagg: continue, delete",)),
    # 5. checklist-incomplete lists every unmet item and how to meet it
    ((), ("1004", "-s", "lon", "--by", "office"),
     "checklist-incomplete", 1,
     ("customer-user-added", "data-synchronised", "backup-handed-over"),
     ("customer-user-added: collabctl add-user 1004 --email EMAIL --service lon",
      "data-synchronised: ", "--confirm data-synchronised",
      "backup-handed-over: collabctl export 1004 --service lon", "--force")),
    ((), ("1003", "-s", "utlagg", "-o", "continue", "--by", "office"),
     "checklist-incomplete", 1,
     ("reports-submitted", "ER-3101", "outlays-submitted", "OL-3201"),
     ("reports-submitted: ", "outlays-submitted: ", "--force")),
    # invalid input: exit 2, naming the option
    ((), ("1001", "-s", "bokforing", "-o", "continue", "--by", "office"),
     "invalid-input", 2, ("--service", "bokforing"), ("eekonomi, fakturering, lon, utlagg",)),
    ((), ("1005", "-s", "lon", "--by", "office", "--confirm", "backup-done"),
     "invalid-input", 2, ("--confirm", "backup-done"), ("backup-handed-over",)),
    ((), ("1001", "-s", "eekonomi", "-o", "continue", "--by", "agent"),
     "invalid-input", 2, ("--by", "agent"), ("--by customer or --by office",)),
    ((), ("10x1", "-s", "eekonomi", "-o", "continue", "--by", "office"),
     "invalid-input", 2, ("10x1",), ()),
    # the order of the checks: the earlier one is reported
    (SCOPE_OFFICE, ("0042", "-s", "eekonomi", "-o", "deactivate"),
     "not-found", 1, (), ()),  # 1 before 2: Siffror has never worked for 0042
    (SCOPE_OFFICE, ("1001", "-s", "eekonomi", "-o", "delete"),
     "not-a-party", 1, (), ()),  # 2 before 4
    ((), ("1002", "-s", "eekonomi", "-o", "delete", "--by", "office"),
     "main-contact-missing", 1, (), ()),  # 3 before 4
    ((), ("1003", "-s", "utlagg", "-o", "deactivate", "--by", "office"),
     "outcome-not-allowed", 1, (), ()),  # 4 before 5
    ((), ("1003", "-s", "utlagg", "-o", "continue", "--by", "office", "--no-yes"),
     "checklist-incomplete", 1, (), ()),  # 5 before 6 (confirmation)
    ((), ("1002", "-s", "eekonomi", "-o", "continue", "--by", "office", "--no-yes"),
     "main-contact-missing", 1, (), ()),  # 3 before 6
]
# fmt: on


def test_every_refusal_has_its_code_exit_code_and_hint(demo: CLI) -> None:
    before = snapshot()
    count = audit_count()
    for scope, args, code, exit_code, in_message, in_hint in REFUSALS:
        options = [a for a in args if a != "--no-yes"]
        yes = [] if "--no-yes" in args else ["--yes"]
        run = demo(*scope, "end", *options, *yes, *JSON)
        case = f"{' '.join((*scope, *args))}: {run.stdout} {run.stderr}"
        assert run.exit_code == exit_code, case
        error = refused(run, code, exit_code)
        for text_ in in_message:
            assert text_ in error["message"], case
        for text_ in in_hint:
            assert text_ in error["hint"], case
        if scope:
            # a scope never learns another party's number, nor a hidden company's name
            seen = run.stdout + run.stderr
            assert EXEMPEL not in seen and "Kund AB" not in seen and "Café" not in seen, case
        if code == "main-contact-missing":
            assert "revision@norrrevision.se" not in error["hint"], "never suggest an auditor"
        if code == "checklist-incomplete" and "1003" in args:
            assert "ER-3102" not in error["message"], "a submitted report is not listed"
    assert snapshot() == before, "a refusal changes nothing"
    assert audit_count() == count, "a refusal writes no audit event"


def test_main_contact_missing_with_only_an_auditor_hints_add_user(demo: CLI) -> None:
    doc = {
        "companies": [
            {
                "customer_number": "2001",
                "org_number": "556999-0004",
                "name": "Bara Revisor AB",
                "users": [
                    {"email": "rev@granskning.se", "role": "auditor", "services": ["eekonomi"]}
                ],
                "collaborations": [
                    {"service": "eekonomi", "office": EXEMPEL, "started_at": "2024-01-01T00:00:00Z"}
                ],
            }
        ]
    }
    assert import_doc(demo, doc).exit_code == 0
    run = end(demo, "2001", "eekonomi", "--outcome", "continue", "--by", "customer", "--yes")
    error = refused(run, "main-contact-missing")
    assert "collabctl add-user 2001 --email" in error["hint"]
    assert "--main-contact" in error["hint"]
    assert "set-main-contact" not in error["hint"]


def test_main_contact_fixed_then_end_succeeds_once(demo: CLI) -> None:
    args = ("1002", "eekonomi", "--outcome", "deactivate", "--by", "office", "--yes")
    refused(end(demo, *args), "main-contact-missing")
    assert demo("set-main-contact", "1002", "--user", "lars@snickerinorr.se", *JSON).exit_code == 0
    run = end(demo, *args)
    assert run.exit_code == 0, run.stderr
    assert run.json()["subscription_state"] == "read-only"
    before = snapshot()
    count = audit_count()
    error = refused(end(demo, *args), "already-ended")
    assert run.json()["ended_at"] in error["message"]
    assert snapshot() == before
    assert audit_count() == count


# -- outcomes -------------------------------------------------------------------------

LON_READY = ("--confirm", "data-synchronised", "--confirm", "backup-handed-over")

# Two rounds, so that every outcome of every default service is used once; within a
# round each end is on another collaboration, and each must change only its own rows.
OUTCOME_ROUNDS = {
    "round-1": [
        ("1001", "eekonomi", "continue", (), "active", EXEMPEL),
        ("1001", "fakturering", "deactivate", (), "read-only", SIFFROR),
        ("1005", "lon", "handover", LON_READY, "no-access", NORRLON),
        ("1007", "utlagg", "delete", (), "deleted", EXEMPEL),
    ],
    "round-2": [
        ("1001", "eekonomi", "deactivate", (), "read-only", EXEMPEL),
        ("1001", "fakturering", "continue", (), "active", SIFFROR),
        ("1007", "utlagg", "continue", (), "active", EXEMPEL),
    ],
}


@pytest.mark.parametrize("round_", list(OUTCOME_ROUNDS))
def test_every_outcome_of_every_service(demo: CLI, round_: str) -> None:
    for customer, service, outcome, extra, state, office in OUTCOME_ROUNDS[round_]:
        case = f"{customer} {service} {outcome}"
        records_before = subscription_state(demo, customer, service)["records"]
        before = snapshot()
        run = end(demo, customer, service, "-o", outcome, "--by", "customer",
                  "--reason", "moving on", *extra, "--yes")  # fmt: skip
        assert run.exit_code == 0, (case, run.stderr)
        result = run.json()
        assert result["customer_number"] == customer, case
        assert result["service"] == service, case
        assert result["office_org_number"] == office, case
        assert result["state"] == "ended", case
        assert result["outcome"] == outcome, case
        assert result["ended_by"] == "customer", case
        assert result["reason"] == "moving on", case
        assert result["ended_at"], case
        assert result["subscription_state"] == state, case
        assert result["records_deleted"] == (records_before if outcome == "delete" else 0), case

        # The database agrees, as seen by collabctl's own read commands.
        sub = subscription_state(demo, customer, service)
        assert sub["state"] == state, case
        assert sub["records"] == (0 if outcome == "delete" else records_before), case
        listed = demo(
            "list", "--customer", customer, "--service", service, "--state", "all", *JSON
        ).json()
        assert len(listed) == 1, case
        row = listed[0]
        assert (row["state"], row["outcome"], row["ended_by"], row["reason"]) == (
            "ended",
            outcome,
            "customer",
            "moving on",
        ), case
        assert row["ended_at"] == result["ended_at"], case

        # Exactly the collaboration, its subscription and (for delete) its records changed.
        after = snapshot()
        changed = changed_keys(before, after)
        (started,) = [
            k
            for k, c in before["collaboration"].items()
            if k[:2] == (customer, service) and c["state"] == "active"
        ]
        assert changed["collaboration"] == {started}, case
        assert changed["subscription"] == ({(customer, service)} if state != "active" else set()), (
            case
        )
        expected_records = (
            {k for k in before["service_record"] if k[:2] == (customer, service)}
            if outcome == "delete"
            else set()
        )
        if outcome == "delete":
            assert expected_records, "the demo's utlagg has records to delete"
        assert changed["service_record"] == expected_records, case
        for table in ("office", "company", "company_user", "service_definition"):
            assert changed[table] == set(), (case, table)
        assert after["collaboration"][started]["ended_actor"] == "tester", case


def test_ending_one_service_leaves_the_others_alone(demo: CLI) -> None:
    """1001 has eekonomi and utlagg with the same office, and fakturering with another."""
    others = {c: show(demo, c) for c in ("1002", "0042", "1007", "1003")}
    before_1001 = show(demo, "1001")
    ended(demo, "1001", "eekonomi", "--outcome", "deactivate", "--by", "office")
    after_1001 = show(demo, "1001")
    for number, company in others.items():
        assert show(demo, number) == company, number
    assert after_1001["users"] == before_1001["users"]
    assert after_1001["main_contact"] == before_1001["main_contact"]
    subs_before = {s["service"]: s for s in before_1001["subscriptions"]}
    subs_after = {s["service"]: s for s in after_1001["subscriptions"]}
    assert subs_after.pop("eekonomi")["state"] == "read-only"
    subs_before.pop("eekonomi")
    assert subs_after == subs_before
    collabs_after = {c["service"]: c for c in after_1001["collaborations"]}
    for collab in before_1001["collaborations"]:
        if collab["service"] != "eekonomi":
            assert collabs_after[collab["service"]] == collab
    # the same office's other collaboration with this company is still active
    active = demo("list", "--office", EXEMPEL, *JSON).json()
    assert {(r["customer_number"], r["service"]) for r in active} == {
        ("1001", "utlagg"),
        ("1002", "eekonomi"),
        ("0042", "fakturering"),
        ("1007", "utlagg"),
    }


def test_handover_audit_event_has_all_details_and_blocks_writes(demo: CLI) -> None:
    count = len(events(demo))
    run = end(demo, "1005", "lon", "--by", "office", "--reason", "new office",
              "--confirm", "data-synchronised", "--confirm", "backup-handed-over", "--yes")  # fmt: skip
    assert run.exit_code == 0, run.stderr
    log = events(demo)
    assert len(log) == count + 1, "one end, one audit event"
    event = log[-1]
    assert event["action"] == "end"
    assert event["customer_number"] == "1005"
    assert event["service"] == "lon"
    assert event["actor"] == "tester"
    assert event["scope"] == "agent"
    assert event["at"] == run.json()["ended_at"]
    details = event["details"]
    assert details["office_org_number"] == NORRLON
    assert details["ended_by"] == "office"
    assert details["outcome"] == "handover"
    assert details["reason"] == "new office"
    assert details["subscription"] == {"before": "active", "after": "no-access"}
    assert details["checklist"] == {
        "customer-user-added": "data",
        "data-synchronised": "attested",
        "backup-handed-over": "attested",
    }
    assert sorted(details["confirmed"]) == ["backup-handed-over", "data-synchronised"]
    assert details["forced"] == []
    assert details["backup_path"] is None

    # no-access: the payroll records can no longer change
    fiske = ("1005", "556678-9011", "Fiskebolaget i Göteborg AB")
    write = import_doc(demo, _record_doc(*fiske, "lon", "PR-2026-11"))
    assert write.exit_code == 1
    assert "error[read-only]" in write.stderr
    assert subscription_state(demo, "1005", "lon") == {
        "service": "lon",
        "state": "no-access",
        "records": 1,
    }


# -- delete and its backup -------------------------------------------------------------


def test_delete_writes_a_private_importable_backup(demo: CLI, home: Path) -> None:
    tradgard = ("1007", "556890-1234", "Trädgårdsdesign Syd AB")
    assert import_doc(demo, _record_doc(*tradgard, "eekonomi", "V-1")).exit_code == 0
    run = end(demo, "1007", "utlagg", "--outcome", "delete", "--by", "customer", "--yes")
    assert run.exit_code == 0, run.stderr
    result = run.json()
    assert result["records_deleted"] == 2
    path = Path(result["backup_path"])
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.parent == home / "backups"
    document = json.loads(path.read_text(encoding="utf-8"))
    (company,) = document["companies"]
    assert company["customer_number"] == "1007"
    assert {r["id"] for r in company["records"]} == {"ER-7001", "OL-7002"}
    assert {r["service"] for r in company["records"]} == {"utlagg"}
    assert all(s["service"] == "utlagg" for s in company["subscriptions"])
    # the other service's records are neither in the backup nor deleted
    assert subscription_state(demo, "1007", "eekonomi")["records"] == 1

    assert subscription_state(demo, "1007", "utlagg") == {
        "service": "utlagg",
        "state": "deleted",
        "records": 0,
    }
    event = events(demo, "--customer", "1007", "--service", "utlagg")[-1]
    assert event["details"]["backup_path"] == str(path)
    assert event["details"]["records_deleted"] == 2
    assert event["details"]["subscription"] == {"before": "active", "after": "deleted"}
    # The audit log survives the delete: the import of the deleted records is still there.
    assert any(e["action"] == "import" for e in events(demo, "--customer", "1007"))

    # `restore` puts the records back from the backup (test_restore.py has the rest).
    restored = demo("restore", str(path), "--yes", *JSON)
    assert restored.exit_code == 0, restored.stderr
    sub = subscription_state(demo, "1007", "utlagg")
    assert sub["records"] == 2
    # the collaboration stays ended
    rows = demo("list", "--customer", "1007", "--service", "utlagg", "--state", "all", *JSON)
    assert [r["state"] for r in rows.json()] == ["ended"]


def test_delete_with_no_backup_writes_no_file(demo: CLI, home: Path) -> None:
    run = end(demo, "1007", "utlagg", "-o", "delete", "--by", "customer", "--no-backup", "--yes")
    assert run.exit_code == 0, run.stderr
    assert run.json()["backup_path"] is None
    assert run.json()["records_deleted"] == 2
    backups = home / "backups"
    assert not backups.exists() or list(backups.iterdir()) == []
    assert subscription_state(demo, "1007", "utlagg")["records"] == 0
    details = events(demo, "--customer", "1007", "--service", "utlagg")[-1]["details"]
    assert details["backup_path"] is None
    assert details["records_deleted"] == 2


def test_a_backup_that_cannot_be_written_refuses_the_delete_and_changes_nothing(
    demo: CLI, home: Path
) -> None:
    home.mkdir(exist_ok=True)  # on PostgreSQL nothing else has made it
    (home / "backups").write_text("a file where the backups directory should be\n")
    before, events_before = snapshot(), audit_count()
    error = refused(
        end(demo, "1007", "utlagg", "-o", "delete", "--by", "customer", "--yes"),
        "invalid-input",
        2,
    )
    assert str(home / "backups") in error["message"]
    assert "--no-backup" in error["hint"]
    assert changed_keys(before, snapshot()) == {table: set() for table in TABLE_KEYS}
    assert audit_count() == events_before
    # only a delete needs the backup directory: other outcomes are not held up by it
    assert ended(demo, "1001", "eekonomi", "-o", "continue", "--by", "customer")["state"] == "ended"
    # and once the directory can be written, the same delete goes through
    (home / "backups").unlink()
    result = ended(demo, "1007", "utlagg", "-o", "delete", "--by", "customer")
    assert Path(result["backup_path"]).is_file()
    assert result["records_deleted"] == 2


# -- read-only enforcement and starting again ---------------------------------------------


def _record_doc(
    customer: str,
    org: str,
    name: str,
    service: str,
    record_id: str,
    status: str = "submitted",
    amount: int = 100,
) -> dict[str, Any]:
    return {
        "companies": [
            {
                "customer_number": customer,
                "org_number": org,
                "name": name,
                "records": [
                    {
                        "id": record_id,
                        "service": service,
                        "kind": "voucher",
                        "status": status,
                        "payload": {"amount_sek": amount},
                    }
                ],
            }
        ]
    }


def test_deactivated_service_refuses_record_writes(demo: CLI) -> None:
    kund = ("1001", "556036-0793", "Kund AB")
    assert import_doc(demo, _record_doc(*kund, "eekonomi", "V-1")).exit_code == 0
    ended(demo, "1001", "eekonomi", "--outcome", "deactivate", "--by", "office")
    before = snapshot()

    new = import_doc(demo, _record_doc(*kund, "eekonomi", "V-2"))
    assert new.exit_code == 1, new.stderr
    assert "error[read-only]" in new.stderr
    assert "collabctl start 1001 --service eekonomi" in new.stderr

    changed = import_doc(demo, _record_doc(*kund, "eekonomi", "V-1", amount=999))
    assert changed.exit_code == 1
    assert "error[read-only]" in changed.stderr
    assert snapshot() == before

    # the same record unchanged is not a write
    same = import_doc(demo, _record_doc(*kund, "eekonomi", "V-1"))
    assert same.exit_code == 0, same.stderr
    # other services of the company stay writable
    other = import_doc(demo, _record_doc(*kund, "fakturering", "F-1"))
    assert other.exit_code == 0, other.stderr

    started = demo("start", "1001", "--service", "eekonomi", "--office", EXEMPEL, *JSON)
    assert started.exit_code == 0, started.stderr
    assert subscription_state(demo, "1001", "eekonomi") == {
        "service": "eekonomi",
        "state": "active",
        "records": 1,
    }
    again = import_doc(demo, _record_doc(*kund, "eekonomi", "V-2"))
    assert again.exit_code == 0, again.stderr
    assert subscription_state(demo, "1001", "eekonomi")["records"] == 2


def test_deleted_service_refuses_writes_and_starts_fresh(demo: CLI) -> None:
    tradgard = ("1007", "556890-1234", "Trädgårdsdesign Syd AB")
    ended(demo, "1007", "utlagg", "--outcome", "delete", "--by", "office")
    refused_write = import_doc(demo, _record_doc(*tradgard, "utlagg", "ER-7001"))
    assert refused_write.exit_code == 1
    assert "error[read-only]" in refused_write.stderr

    started = demo("start", "1007", "--service", "utlagg", "--office", SIFFROR, *JSON)
    assert started.exit_code == 0, started.stderr
    assert started.json()["office_org_number"] == SIFFROR
    assert subscription_state(demo, "1007", "utlagg") == {
        "service": "utlagg",
        "state": "active",
        "records": 0,
    }
    event = events(demo, "--customer", "1007", "--service", "utlagg")[-1]
    assert event["action"] == "start"
    assert event["details"]["subscription"] == {"before": "deleted", "after": "active"}
    assert import_doc(demo, _record_doc(*tradgard, "utlagg", "ER-8001")).exit_code == 0
    assert subscription_state(demo, "1007", "utlagg")["records"] == 1
    assert event["details"]["records_deleted"] == 0


def test_start_on_a_deleted_subscription_records_the_records_it_deletes(demo: CLI) -> None:
    # A deleted subscription that still holds records: import no longer makes one, but a
    # database written before that rule may hold one; start empties it and says so.
    engine = create_engine(db_url().replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO subscription (customer_number, service, state) "
                "VALUES ('1007', 'fakturering', 'deleted')"
            )
        )
        for n in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO service_record (customer_number, service, record_id, kind, "
                    "status, payload) VALUES ('1007', 'fakturering', :id, 'invoice', "
                    "'submitted', '{}')"
                ),
                {"id": f"F-{n}"},
            )
    engine.dispose()
    assert subscription_state(demo, "1007", "fakturering") == {
        "service": "fakturering",
        "state": "deleted",
        "records": 2,
    }
    started = demo("start", "1007", "--service", "fakturering", "--office", SIFFROR, *JSON)
    assert started.exit_code == 0, started.stderr
    assert subscription_state(demo, "1007", "fakturering")["records"] == 0
    event = events(demo, "--customer", "1007", "--service", "fakturering")[-1]
    assert event["action"] == "start"
    assert event["details"]["subscription"] == {"before": "deleted", "after": "active"}
    assert event["details"]["records_deleted"] == 2


def test_a_single_end_checks_the_schema_once(demo: CLI) -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    revision_reads: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "SELECT version_num FROM alembic_version" in statement:
            revision_reads.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        ended(demo, "1001", "eekonomi", "-o", "continue", "--by", "customer")
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    # the pre-flight and the end run in two sessions of one command: one check serves both
    assert len(revision_reads) == 1
