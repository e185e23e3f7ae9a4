"""``export`` (a private, importable file, recorded in the audit log) and ``log`` with
its filters."""

from __future__ import annotations

import json
from pathlib import Path

from collabctl.operations.demo import EXEMPEL, SIFFROR
from helpers import CLI, EVENT_KEYS, error_of, mode, ok

JSON = ("--format", "json")


# -- export -----------------------------------------------------------------------------


def test_export_of_one_service_is_private_importable_and_logged(demo: CLI, tmp_path: Path) -> None:
    target = tmp_path / "out" / "utlagg.json"
    target.parent.mkdir()
    summary = ok(demo("export", "1001", "--service", "utlagg", "-o", str(target), *JSON))
    assert summary == {
        "customer_number": "1001",
        "path": str(target.resolve()),
        "services": ["utlagg"],
        "records": 2,
    }
    assert target.is_file()
    assert mode(target) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["utlagg.json"], "no temporary file left"

    document = json.loads(target.read_text(encoding="utf-8"))
    (company,) = document["companies"]
    assert company["customer_number"] == "1001"
    assert [s["service"] for s in company["subscriptions"]] == ["utlagg"]
    assert [c["service"] for c in company["collaborations"]] == ["utlagg"]
    assert {r["id"] for r in company["records"]} == {"ER-1001", "OL-1001"}
    assert {o["org_number"] for o in document["offices"]} == {EXEMPEL}

    event = ok(demo("log", "--customer", "1001", *JSON))[0]
    assert event["action"] == "export"
    assert event["service"] == "utlagg"
    assert event["actor"] == "tester"
    assert event["details"] == {"path": str(target.resolve()), "services": ["utlagg"], "records": 2}

    # the file is in the import format; importing it back changes nothing
    before = ok(demo("show", "1001", *JSON))
    imported = ok(demo("import", str(target), *JSON))
    assert imported["failed"] == 0
    assert imported["changed"] == 0
    assert ok(demo("show", "1001", *JSON)) == before


def test_export_of_all_services_to_the_default_path(demo: CLI, tmp_path: Path) -> None:
    run = demo("export", "1001")
    assert run.exit_code == 0, run.stderr
    (written,) = tmp_path.glob("collabctl-export-1001-all-*.json")
    assert mode(written) == 0o600
    assert str(written.resolve()) in run.stderr
    company = json.loads(written.read_text(encoding="utf-8"))["companies"][0]
    assert {s["service"] for s in company["subscriptions"]} == {"eekonomi", "fakturering", "utlagg"}
    assert {c["office"] for c in company["collaborations"]} == {EXEMPEL, SIFFROR}
    event = ok(demo("log", "--customer", "1001", *JSON))[0]
    assert event["service"] is None
    assert event["details"]["path"] == str(written.resolve())
    assert sorted(event["details"]["services"]) == ["eekonomi", "fakturering", "utlagg"]


def test_export_replaces_a_readable_file_with_a_private_one(demo: CLI, tmp_path: Path) -> None:
    target = tmp_path / "shared.json"
    target.write_text("old")
    target.chmod(0o644)
    ok(demo("export", "1005", "-o", str(target), "--force", *JSON))
    assert mode(target) == 0o600
    assert json.loads(target.read_text(encoding="utf-8"))["companies"][0]["customer_number"] == (
        "1005"
    )


def test_export_to_stdout_is_recorded(demo: CLI) -> None:
    run = demo("export", "1005", "--service", "lon", "-o", "-")
    assert run.exit_code == 0, run.stderr
    document = run.json()
    assert document["companies"][0]["records"][0]["id"] == "PR-2026-10"
    event = ok(demo("log", "--customer", "1005", "--service", "lon", *JSON))[0]
    assert event["action"] == "export"
    assert event["details"]["path"] == "-"


def test_export_refusals_write_nothing(demo: CLI, tmp_path: Path) -> None:
    events = len(ok(demo("log", *JSON)))
    target = tmp_path / "x.json"
    error = error_of(demo("export", "1005", "-s", "utlagg", "-o", str(target), *JSON), "not-found")
    assert "utlagg" in error["message"]
    error_of(demo("export", "9999", "-o", str(target), *JSON), "not-found")
    error_of(demo("export", "1005", "-s", "tid", "-o", str(target), *JSON), "invalid-input", 2)
    # an office exports only the services it works on
    error_of(
        demo("--as", f"office:{SIFFROR}", "export", "1001", "-s", "eekonomi", "-o", str(target),
             *JSON),
        "not-a-party",
    )  # fmt: skip
    # a directory that does not exist
    error_of(
        demo("export", "1001", "-o", str(tmp_path / "missing" / "x.json"), *JSON),
        "invalid-input",
        2,
    )
    assert not target.exists()
    assert len(ok(demo("log", *JSON))) == events

    ok(demo("--as", f"office:{SIFFROR}", "export", "1001", "-s", "fakturering", "-o",
            str(target), *JSON))  # fmt: skip
    assert target.exists()
    event = ok(demo("log", *JSON))[0]
    assert event["scope"] == f"office:{SIFFROR}"


def test_an_office_exporting_all_gets_only_its_own_services(demo: CLI, tmp_path: Path) -> None:
    # 1001: invoicing with Siffror; accounting and expenses (with records) with Exempel
    target = tmp_path / "siffror.json"
    summary = ok(demo("--as", f"office:{SIFFROR}", "export", "1001", "-o", str(target), *JSON))
    assert summary["services"] == ["fakturering"]
    assert summary["records"] == 0
    (company,) = json.loads(target.read_text(encoding="utf-8"))["companies"]
    assert [s["service"] for s in company["subscriptions"]] == ["fakturering"]
    assert {c["service"] for c in company["collaborations"]} == {"fakturering"}
    assert company["records"] == []
    # Exempel's own export of everything holds both of its services, records included
    document = ok(demo("--as", f"office:{EXEMPEL}", "export", "1001", "-o", "-"))
    assert document["collabctl_export"]["services"] == ["eekonomi", "utlagg"]
    assert {r["service"] for r in document["companies"][0]["records"]} == {"utlagg"}


# -- log --------------------------------------------------------------------------------


def _make_history(cli: CLI) -> None:
    ok(cli("end", "1001", "-s", "eekonomi", "-o", "continue", "--by", "office", "--yes", *JSON))
    ok(cli("export", "1005", "-s", "lon", "-o", "lon.json", *JSON))
    ok(cli("--actor", "agent-007", "add-user", "1002", "--email", "ny@snickerinorr.se", *JSON))
    ok(cli("start", "1001", "-s", "eekonomi", "--office", SIFFROR, *JSON))


def test_log_filters_by_customer_service_and_since(demo: CLI) -> None:
    _make_history(demo)
    everything = ok(demo("log", "--reverse", *JSON))
    assert [list(e) for e in everything] == [EVENT_KEYS] * len(everything)
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    ats = [e["at"] for e in everything]
    assert ats == sorted(ats), "oldest first"
    assert all(at.endswith("Z") for at in ats), "UTC"

    by_customer = ok(demo("log", "--reverse", "--customer", "1001", *JSON))
    assert by_customer == [e for e in everything if e["customer_number"] == "1001"]
    assert [e["action"] for e in by_customer][-2:] == ["end", "start"]

    by_service = ok(demo("log", "--reverse", "--service", "eekonomi", *JSON))
    assert by_service == [e for e in everything if e["service"] == "eekonomi"]
    assert [e["action"] for e in by_service] == ["end", "start"]

    both = ok(demo("log", "--reverse", "--customer", "1005", "--service", "lon", *JSON))
    assert [e["action"] for e in both] == ["export"]

    # --since includes the event at that moment and everything after it
    end_event = by_service[0]
    since = ok(demo("log", "--reverse", "--since", end_event["at"], *JSON))
    assert since == [e for e in everything if e["id"] >= end_event["id"]]
    assert [e["action"] for e in since] == ["end", "export", "add-user", "start"]
    assert ok(demo("log", "--reverse", "--since", "2000-01-01", *JSON)) == everything
    assert ok(demo("log", "--reverse", "--since", "2999-01-01T00:00:00Z", *JSON)) == []
    # another zone is the same moment in UTC
    assert ok(demo("log", "--reverse", "--since", "2000-01-01T02:00:00+02:00", *JSON)) == everything
    assert ok(
        demo("log", "--reverse", "--since", end_event["at"], "--customer", "1002", *JSON)
    ) == [e for e in since if e["customer_number"] == "1002"]

    actors = {e["action"]: e["actor"] for e in since}
    assert actors["add-user"] == "agent-007"
    assert actors["end"] == "tester"


def test_log_machine_formats_and_bad_filters(demo: CLI) -> None:
    _make_history(demo)
    everything = ok(demo("log", *JSON))
    lines = demo("log", "--format", "jsonl")
    assert lines.exit_code == 0
    assert lines.jsonl() == everything
    csv_out = demo("log", "--format", "csv", "--service", "lon")
    assert csv_out.exit_code == 0
    header, *rows = csv_out.stdout.splitlines()
    assert header.split(",") == EVENT_KEYS
    assert len(rows) == 1 and ",export,1005,lon," in rows[0]

    error_of(demo("log", "--since", "yesterday", *JSON), "invalid-input", 2)
    error_of(demo("log", "--customer", "12ab", *JSON), "invalid-input", 2)
    error_of(demo("log", "--service", "tid", *JSON), "invalid-input", 2)
    assert ok(demo("log", "--customer", "4711", *JSON)) == []


def test_log_is_append_only(demo: CLI) -> None:
    first = ok(demo("log", "--reverse", *JSON))
    _make_history(demo)
    # a delete removes records, never audit events
    ok(demo("end", "1007", "-s", "utlagg", "-o", "delete", "--by", "office", "--yes", *JSON))
    later = ok(demo("log", "--reverse", *JSON))
    assert later[: len(first)] == first
    assert len(later) == len(first) + 5
