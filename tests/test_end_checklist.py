"""End checklists (computed, attested, forced), ``--dry-run``, and what ``end`` needs
when it cannot prompt."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from helpers import CLI, Run, error_of, import_doc, sqlite_only

JSON = ("--format", "json")
LON_ITEMS = ("customer-user-added", "data-synchronised", "backup-handed-over")
CHECK_ORDER = ["collaboration", "party", "main-contact", "outcome", "checklist"]


def end(cli: CLI, customer: str, service: str, *args: str) -> Run:
    return cli("end", customer, "--service", service, *args, *JSON)


def dry_run(cli: CLI, customer: str, service: str, *args: str) -> tuple[Run, dict[str, Any]]:
    run = end(cli, customer, service, *args, "--dry-run")
    return run, run.json()


def checklist(report: dict[str, Any]) -> dict[str, str]:
    """item -> how it is met (data, attested, forced) or unmet."""
    return {c["item"]: c["by"] for c in report["checklist"]}


def observable(cli: CLI, customer: str) -> tuple[str, str, str]:
    """Everything a change could show up in: all collaborations, the log, the company."""
    return (
        cli("list", "--state", "all", *JSON).stdout,
        cli("log", *JSON).stdout,
        cli("show", customer, *JSON).stdout,
    )


def last_event(cli: CLI, customer: str, service: str) -> dict[str, Any]:
    run = cli("log", "--customer", customer, "--service", service, "--reverse", *JSON)
    assert run.exit_code == 0, run.stderr
    return run.json()[-1]


def records_doc(customer: str, org: str, name: str, records: list[dict[str, Any]]) -> dict:
    return {
        "companies": [
            {"customer_number": customer, "org_number": org, "name": name, "records": records}
        ]
    }


# -- Utlägg: reports-submitted, outlays-submitted (computed) ------------------------------

RESOR = ("1003", "556456-7898", "Resor & Möten i Väst AB")


def test_utlagg_drafts_block_until_submitted_or_forced(demo: CLI) -> None:
    run, report = dry_run(demo, "1003", "utlagg", "-o", "continue", "--by", "office")
    assert run.exit_code == 1
    assert checklist(report) == {"reports-submitted": "unmet", "outlays-submitted": "unmet"}

    # computed items cannot be attested
    run, report = dry_run(
        demo, "1003", "utlagg", "-o", "continue", "--by", "office",
        "--confirm", "reports-submitted", "--confirm", "outlays-submitted",
    )  # fmt: skip
    assert run.exit_code == 1
    assert checklist(report) == {"reports-submitted": "unmet", "outlays-submitted": "unmet"}
    assert all("--confirm cannot meet it" in item["detail"] for item in report["checklist"])

    # submitting the draft report meets one item; the outlay is still a draft
    report_row = {
        "id": "ER-3101", "service": "utlagg", "kind": "expense-report",
        "owner": "johan@resormoten.se", "status": "submitted", "payload": {"period": "2026-11"},
    }  # fmt: skip
    assert import_doc(demo, records_doc(*RESOR, [report_row])).exit_code == 0
    error = error_of(end(demo, "1003", "utlagg", "-o", "continue", "--by", "office", "--yes"),
                     "checklist-incomplete")  # fmt: skip
    assert "outlays-submitted" in error["message"] and "OL-3201" in error["message"]
    assert "reports-submitted" not in error["message"]

    # --force ends it and records what was forced
    run = end(demo, "1003", "utlagg", "-o", "continue", "--by", "office", "--force", "--yes")
    assert run.exit_code == 0, run.stderr
    assert run.json()["forced"] == ["outlays-submitted"]
    assert run.json()["state"] == "ended"
    details = last_event(demo, "1003", "utlagg")["details"]
    assert details["forced"] == ["outlays-submitted"]
    assert details["checklist"] == {"reports-submitted": "data", "outlays-submitted": "forced"}
    assert details["confirmed"] == []


def test_utlagg_force_with_every_item_unmet_records_them_all(demo: CLI) -> None:
    run = end(demo, "1003", "utlagg", "-o", "delete", "--by", "customer", "--force", "--yes")
    assert run.exit_code == 0, run.stderr
    assert run.json()["forced"] == ["reports-submitted", "outlays-submitted"]
    assert run.json()["records_deleted"] == 3
    details = last_event(demo, "1003", "utlagg")["details"]
    assert details["forced"] == ["reports-submitted", "outlays-submitted"]
    assert details["checklist"] == {"reports-submitted": "forced", "outlays-submitted": "forced"}


# -- Lön: customer-user-added (computed), data-synchronised (attested),
#    backup-handed-over (an export after the last change, or attested) ------------------


def test_lon_customer_user_added_is_computed_from_users(demo: CLI) -> None:
    _, report = dry_run(demo, "1004", "lon", "--by", "office", *_confirm_all())
    assert checklist(report) == {
        "customer-user-added": "unmet",  # --confirm does not meet a computed item
        "data-synchronised": "attested",
        "backup-handed-over": "attested",
    }
    assert report["outcome"] == "handover", "lon's single outcome is implied"

    # an auditor with access to Lön does not count
    run = demo("add-user", "1004", "--email", "revisor@byggrevision.se", "--role", "auditor",
               "--service", "lon", *JSON)  # fmt: skip
    assert run.exit_code == 0, run.stderr
    _, report = dry_run(demo, "1004", "lon", "--by", "office", *_confirm_all())
    assert checklist(report)["customer-user-added"] == "unmet"

    run = demo("add-user", "1004", "--email", "lon@byggumea.se", "--name", "Lön Ansvarig",
               "--service", "lon", *JSON)  # fmt: skip
    assert run.exit_code == 0, run.stderr
    run, report = dry_run(demo, "1004", "lon", "--by", "office", *_confirm_all())
    assert run.exit_code == 0, run.stderr
    assert report["ok"] is True
    assert checklist(report)["customer-user-added"] == "data"

    run = end(demo, "1004", "lon", "--by", "office", *_confirm_all(), "--yes")
    assert run.exit_code == 0, run.stderr
    assert run.json()["outcome"] == "handover"
    assert run.json()["subscription_state"] == "no-access"


def _confirm_all() -> tuple[str, ...]:
    return tuple(arg for item in LON_ITEMS for arg in ("--confirm", item))


def test_lon_backup_handed_over_needs_an_export_newer_than_the_records(demo: CLI) -> None:
    fiske = ("1005", "556678-9011", "Fiskebolaget i Göteborg AB")
    synced = ("--by", "office", "--confirm", "data-synchronised")

    # data-synchronised only by attestation; no export yet
    error = error_of(end(demo, "1005", "lon", "--by", "office", "--yes"), "checklist-incomplete")
    assert "data-synchronised" in error["message"]
    assert "backup-handed-over" in error["message"]
    assert "customer-user-added" not in error["message"], "Per has access to Lön"
    error = error_of(end(demo, "1005", "lon", *synced, "--yes"), "checklist-incomplete")
    assert "backup-handed-over (no export made)" in error["message"]
    assert "data-synchronised" not in error["message"]

    # an export of the service meets it
    export = demo("export", "1005", "--service", "lon", "-o", "lon-1.json", *JSON)
    assert export.exit_code == 0, export.stderr
    run, report = dry_run(demo, "1005", "lon", *synced)
    assert run.exit_code == 0, run.stderr
    assert checklist(report) == {
        "customer-user-added": "data",
        "data-synchronised": "attested",
        "backup-handed-over": "data",
    }

    # a record changed after the export: the export no longer covers the data
    changed = {
        "id": "PR-2026-10", "service": "lon", "kind": "payroll-run", "owner": "per@fiskebolaget.se",
        "status": "submitted", "payload": {"employees": 7, "period": "2026-10"},
    }  # fmt: skip
    assert import_doc(demo, records_doc(*fiske, [changed])).exit_code == 0
    run, report = dry_run(demo, "1005", "lon", *synced)
    assert run.exit_code == 1
    assert checklist(report)["backup-handed-over"] == "unmet"
    detail = next(c["detail"] for c in report["checklist"] if c["item"] == "backup-handed-over")
    assert "older than the last change" in detail
    error_of(end(demo, "1005", "lon", *synced, "--yes"), "checklist-incomplete")

    # ... unless the agent attests the hand-over
    _, report = dry_run(demo, "1005", "lon", *synced, "--confirm", "backup-handed-over")
    assert checklist(report)["backup-handed-over"] == "attested"

    # importing the same record again is no change: the export still would not count,
    # but a new export of all services does
    assert demo("export", "1005", "-o", "all.json", *JSON).exit_code == 0
    assert import_doc(demo, records_doc(*fiske, [changed])).exit_code == 0
    run = end(demo, "1005", "lon", *synced, "--yes")
    assert run.exit_code == 0, run.stderr
    details = last_event(demo, "1005", "lon")["details"]
    assert details["checklist"] == {
        "customer-user-added": "data",
        "data-synchronised": "attested",
        "backup-handed-over": "data",
    }
    assert details["confirmed"] == ["data-synchronised"]
    assert details["forced"] == []


def test_an_export_of_another_service_does_not_hand_over_payroll(demo: CLI) -> None:
    assert demo("start", "1005", "--service", "eekonomi", "--office", "556677-8899").exit_code == 0
    assert demo("export", "1005", "--service", "eekonomi", "-o", "e.json").exit_code == 0
    _, report = dry_run(demo, "1005", "lon", "--by", "office", "--confirm", "data-synchronised")
    assert checklist(report)["backup-handed-over"] == "unmet"


# -- --dry-run --------------------------------------------------------------------------


def test_dry_run_that_would_pass_shows_every_check_and_changes_nothing(demo: CLI) -> None:
    before = observable(demo, "1007")
    run, report = dry_run(demo, "1007", "utlagg", "-o", "delete", "--by", "customer")
    assert run.exit_code == 0, run.stderr
    assert [c["check"] for c in report["checks"]] == CHECK_ORDER
    assert all(c["ok"] is True for c in report["checks"])
    assert all(c["error"] is None for c in report["checks"])
    assert report["ok"] is True
    assert report["outcome"] == "delete"
    assert report["ended_by"] == "customer"
    assert report["office_org_number"] == "556677-8899"
    assert checklist(report) == {"reports-submitted": "data", "outlays-submitted": "data"}
    assert observable(demo, "1007") == before
    assert _backups() == [], "a dry run writes no backup"

    table = demo("end", "1007", "--service", "utlagg", "-o", "delete", "--by", "customer",
                 "--dry-run")  # fmt: skip
    assert table.exit_code == 0, table.stderr
    for name in CHECK_ORDER:
        assert name in table.stdout
    assert observable(demo, "1007") == before


def _backups() -> list[str]:
    directory = Path(os.environ["COLLABCTL_HOME"]) / "backups"
    return [p.name for p in directory.iterdir()] if directory.exists() else []


def test_dry_run_that_would_fail_exits_with_the_errors_code(demo: CLI) -> None:
    before = observable(demo, "1003")
    run, report = dry_run(demo, "1003", "utlagg", "-o", "continue", "--by", "office")
    assert run.exit_code == 1
    assert "error[checklist-incomplete]" in run.stderr
    assert report["ok"] is False
    checks = {c["check"]: c["ok"] for c in report["checks"]}
    assert checks == dict.fromkeys(CHECK_ORDER[:4], True) | {"checklist": False}
    failing = report["checks"][-1]
    assert failing["error"]["code"] == "checklist-incomplete"
    assert "ER-3101" in failing["message"]

    # a failing early check: the rest are shown as not checked (null)
    run, report = dry_run(demo, "1002", "eekonomi", "-o", "delete", "--by", "office")
    assert run.exit_code == 1
    assert [c["ok"] for c in report["checks"]] == [True, True, False, None, None]
    assert report["checks"][2]["error"]["code"] == "main-contact-missing"

    # invalid input in a dry run is still exit 2
    run = end(demo, "1003", "utlagg", "-o", "continue", "--by", "someone", "--dry-run")
    assert error_of(run, "invalid-input", 2)["message"].startswith("--by")
    assert observable(demo, "1003") == before


def test_dry_run_needs_no_yes_and_reports_a_missing_outcome(demo: CLI) -> None:
    _, report = dry_run(demo, "1001", "eekonomi", "--by", "customer")
    outcome = report["checks"][3]
    assert outcome["check"] == "outcome" and outcome["ok"] is None
    assert "continue, deactivate" in outcome["message"]


# -- without a terminal: every missing answer is exit 2 naming its flag ---------------


@sqlite_only  # a usage error: the flags decide it, not the database
def test_end_without_yes_is_a_usage_error_naming_yes(demo: CLI) -> None:
    before = observable(demo, "1001")
    run = end(demo, "1001", "eekonomi", "-o", "continue", "--by", "customer")
    error = error_of(run, "invalid-input", 2)
    assert "--yes" in error["message"]
    assert "--dry-run" in error["hint"]
    assert observable(demo, "1001") == before


def test_missing_answers_are_usage_errors_naming_their_flag(demo: CLI) -> None:
    run = end(demo, "1001", "eekonomi", "-o", "continue", "--yes")
    error = error_of(run, "invalid-input", 2)
    assert "--by" in error["message"]
    assert "--by customer or --by office" in error["hint"]

    # a missing --by is reported before a missing --outcome and a missing --yes
    error = error_of(end(demo, "1001", "eekonomi"), "invalid-input", 2)
    assert "--by" in error["message"]

    run = end(demo, "1001", "eekonomi", "--by", "office", "--yes")
    error = error_of(run, "invalid-input", 2)
    assert "--outcome" in error["message"]
    assert "continue, deactivate" in error["hint"]

    run = end(demo, "1007", "utlagg", "--by", "office")
    error = error_of(run, "invalid-input", 2)
    assert "--outcome" in error["message"]
    assert "continue, delete" in error["hint"]

    # CUSTOMER and --service are required too
    error = error_of(demo("end", "--service", "eekonomi", "--yes", *JSON), "invalid-input", 2)
    assert "CUSTOMER" in error["message"]
    error = error_of(demo("end", "1001", "--yes", *JSON), "invalid-input", 2)
    assert "--service" in error["message"]

    rows = demo("list", "--customer", "1001", *JSON).json()
    assert {r["service"] for r in rows} == {"eekonomi", "fakturering", "utlagg"}


def test_lon_outcome_is_implied(demo: CLI) -> None:
    run = end(demo, "1005", "lon", "--by", "customer", "--confirm", "data-synchronised",
              "--confirm", "backup-handed-over", "--yes")  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert run.json()["outcome"] == "handover"
    assert last_event(demo, "1005", "lon")["details"]["outcome"] == "handover"
