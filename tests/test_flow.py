"""The scripted flow: a dry run's verdict, flags that do not apply, export's refusal to
replace a file, and the bulk table's rows with their errors under them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers import CLI, error_of, show, sqlite_only

JSON = ("--format", "json")


def snapshot(cli: CLI) -> tuple[Any, Any]:
    listed = cli("list", "--state", "all", "--format", "json")
    log = cli("log", "--format", "json")
    assert listed.exit_code == log.exit_code == 0, (listed.stderr, log.stderr)
    return listed.json(), log.json()


# -- dry run ------------------------------------------------------------------------------------


@sqlite_only  # the wording of a report already read
def test_a_passing_dry_run_ends_with_a_verdict(demo: CLI) -> None:
    before = snapshot(demo)
    run = demo("end", "1001", "-s", "eekonomi", "-o", "deactivate", "--by", "office", "--dry-run")
    assert run.exit_code == 0, run.stderr
    assert run.stderr.splitlines()[-1] == (
        "would end the eekonomi collaboration of 1001 (Kund AB) with office 556677-8899, "
        "by the office, outcome deactivate (the subscription is then read-only); "
        "nothing changed; run again with --yes"
    )
    # the machine formats stay one document; the verdict is a message beside it
    machine = demo("end", "1001", "-s", "eekonomi", "-o", "deactivate", "--by", "office",
                   "--dry-run", *JSON)  # fmt: skip
    assert machine.json()["ok"] is True
    assert "would end the eekonomi collaboration" in machine.stderr
    assert snapshot(demo) == before


@sqlite_only  # the wording of a report already read
def test_a_dry_run_without_the_answers_says_what_a_real_run_needs(demo: CLI) -> None:
    run = demo("end", "1001", "-s", "eekonomi", "--dry-run")
    assert run.exit_code == 0, run.stderr
    assert run.stderr.splitlines()[-1].endswith(
        "nothing changed; run again with --by customer|office --outcome continue|deactivate --yes"
    )


@sqlite_only  # the wording of a report already read
def test_a_dry_run_of_a_delete_says_what_happens_to_the_backup(demo: CLI) -> None:
    before = snapshot(demo)
    flags = ("end", "1007", "-s", "utlagg", "-o", "delete", "--by", "customer", "--dry-run")
    kept = demo(*flags)
    assert kept.exit_code == 0, kept.stderr
    assert "ALL its records are deleted after a backup file is written" in kept.stderr
    bare = demo(*flags, "--no-backup")
    assert bare.exit_code == 0, bare.stderr
    # nothing promises a backup that --no-backup leaves out
    assert "backup is written first" not in bare.stdout + bare.stderr
    assert "no backup: --no-backup" in bare.stdout
    assert "ALL its records are deleted, with no backup (--no-backup)" in bare.stderr
    report = demo(*flags, "--no-backup", *JSON).json()
    outcome = next(c for c in report["checks"] if c["check"] == "outcome")
    assert "no backup" in outcome["message"]
    assert snapshot(demo) == before


def test_a_failing_dry_run_has_no_verdict_of_success(demo: CLI) -> None:
    run = demo("end", "1003", "-s", "utlagg", "-o", "continue", "--by", "office", "--dry-run")
    assert run.exit_code == 1
    assert "would end" not in run.stderr
    assert "error[checklist-incomplete]" in run.stderr


@sqlite_only  # a usage error: the flags decide it, not the database
def test_flags_that_do_not_apply_are_usage_errors(demo: CLI) -> None:
    before = snapshot(demo)
    cases = [
        (("1001", "-s", "eekonomi", "-o", "continue", "--by", "office", "--no-backup"),
         "--no-backup applies to --outcome delete only; this end's outcome is continue",
         "drop --no-backup: only a delete writes a backup"),
        # the only outcome of lon, chosen without -o
        (("1005", "-s", "lon", "--by", "office", "--no-backup"),
         "--no-backup applies to --outcome delete only; this end's outcome is handover",
         "drop --no-backup: only a delete writes a backup"),
        (("1001", "-s", "eekonomi", "-o", "continue", "--by", "office",
          "--confirm", "data-synchronised"),
         "--confirm data-synchronised: eekonomi has no checklist item 'data-synchronised'",
         "eekonomi has no checklist: drop --confirm"),
        (("1007", "-s", "utlagg", "-o", "continue", "--by", "office",
          "--confirm", "backup-handed-over"),
         "--confirm backup-handed-over: utlagg has no checklist item 'backup-handed-over'",
         "utlagg's checklist: reports-submitted, outlays-submitted"),
    ]  # fmt: skip
    for args, text, hint in cases:
        for mode in ("--dry-run", "--yes"):
            error = error_of(demo("end", *args, mode, *JSON), "invalid-input", 2)
            assert (error["message"], error["hint"]) == (text, hint), args
    assert snapshot(demo) == before


def test_no_backup_with_a_delete_is_fine(demo: CLI, home: Path) -> None:
    run = demo("end", "1007", "-s", "utlagg", "-o", "delete", "--by", "customer", "--no-backup",
               "--yes", *JSON)  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert run.json()["backup_path"] is None
    assert not (home / "backups").exists() or not list((home / "backups").iterdir())


# -- export -o FILE -----------------------------------------------------------------------------


def test_export_refuses_to_replace_a_file_without_force(demo: CLI, tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("keep me", encoding="utf-8")
    log_before = snapshot(demo)
    error = error_of(demo("export", "1001", "-o", str(target), *JSON), "invalid-input", 2)
    assert error["message"] == f"{target} already exists: collabctl does not replace it"
    assert "--force" in error["hint"]
    assert target.read_text(encoding="utf-8") == "keep me"
    assert snapshot(demo) == log_before  # no export recorded either

    done = demo("export", "1001", "-o", str(target), "--force", *JSON)
    assert done.exit_code == 0, done.stderr
    assert json.loads(target.read_text(encoding="utf-8"))["companies"][0]["customer_number"] == (
        "1001"
    )


def test_export_counts_records_in_words(demo: CLI, tmp_path: Path) -> None:
    one = demo("export", "1005", "-s", "lon", "-o", str(tmp_path / "lon.json"))
    assert one.exit_code == 0, one.stderr
    assert "exported 1 record of lon to " in one.stderr


# -- bulk table -------------------------------------------------------------------------------


@sqlite_only  # the wording of a report already read
def test_bulk_table_rows_come_before_their_errors(demo: CLI) -> None:
    before = show(demo, "1002")
    run = demo(
        "end", "--from", "-", "-s", "eekonomi", "-o", "continue", "--by", "customer", "--dry-run",
        input="1001\n1002\n9999\n",
    )  # fmt: skip
    assert run.exit_code == 4
    header, *rows = run.stdout.splitlines()
    assert header.split() == ["line", "customer", "service", "status", "outcome", "error"]
    assert [r.split() for r in rows] == [
        ["1", "1001", "eekonomi", "would-end", "continue"],
        ["2", "1002", "eekonomi", "failed", "continue", "main-contact-missing"],
        ["3", "9999", "eekonomi", "failed", "continue", "not-found"],
    ]
    # each error under its row, in the order of the rows, after the results of the run
    errors = [line.strip() for line in run.stderr.splitlines() if "error[" in line]
    assert errors[0].startswith("error[main-contact-missing]: line 2: customer 1002")
    assert errors[1].startswith("error[not-found]: line 3: customer 9999")
    assert "3 items: 1 would-end, 2 failed (dry run: nothing was changed)" in run.stderr
    assert show(demo, "1002") == before


def test_bulk_rows_and_errors_interleave_on_one_terminal(tmp_path: Path) -> None:
    """In a real terminal (stdout and stderr one screen), each error follows its row."""
    from helpers import Terminal, invoke

    assert invoke("demo").exit_code == 0
    items = tmp_path / "items.txt"
    items.write_text("1002\n1001\n", encoding="utf-8")
    term = Terminal(
        "end", "--from", str(items), "-s", "eekonomi", "-o", "continue", "--by", "customer",
        "--dry-run",
    )  # fmt: skip
    term.expect(r"1  1002\s+eekonomi\s+failed\s+continue\s+main-contact-missing\n")
    term.expect(r"error\[main-contact-missing\]: line 1: customer 1002")
    term.expect(r"2  1001\s+eekonomi\s+would-end\s+continue")
    assert term.finish() == 4
