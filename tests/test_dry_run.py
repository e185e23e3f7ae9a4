"""--dry-run on every command that changes something (SPEC §8.4): it shows what the real
run would, with the real run's exit code, and the database is the same before and after.
The dry run is the real change rolled back, so its result is compared with the real
run's too."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from helpers import db_url, invoke

NOTE = "dry run: this is what would change; nothing was changed"


def database() -> list[tuple[str, list[tuple[Any, ...]]]]:
    """Every row of every table of the database the runs use (the backend's), sorted."""
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(db_url())
    try:
        with engine.connect() as connection:
            tables = sorted(inspect(connection).get_table_names())
            return [
                (table, sorted(map(tuple, connection.execute(text(f'SELECT * FROM "{table}"'))),
                               key=repr))
                for table in tables
            ]  # fmt: skip
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def demo_data(backend: str) -> None:
    assert invoke("demo").exit_code == 0


def dry_then_real(*args: str, drop: tuple[str, ...] = ()) -> tuple[Any, Any]:
    """``args --dry-run`` changes nothing and says so; then ``args`` for real: both results
    (json), without the keys in ``drop`` (times of the change)."""
    before = database()
    dry = invoke(*args, "--dry-run", "--format", "json")
    assert database() == before
    real = invoke(*args, "--format", "json")
    assert dry.exit_code == real.exit_code, (dry.output, real.output)
    if real.exit_code == 0:
        assert NOTE in dry.stderr and NOTE not in real.stderr
        assert database() != before
    shown = [{k: v for k, v in r.json().items() if k not in drop} for r in (dry, real)]
    return shown[0], shown[1]


@pytest.mark.parametrize(
    ("args", "drop"),
    [
        (("start", "0042", "-s", "eekonomi", "--office", "556677-8899"), ("started_at",)),
        (("start", "1001", "-s", "eekonomi", "--office", "556677-8899"), ()),  # duplicate
        (("set-main-contact", "1002", "--user", "lars@snickerinorr.se"), ()),
        (("add-user", "1002", "--email", "ny@snickerinorr.se", "--main-contact"), ()),
        (("user", "add", "1001", "--email", "ny@kund.se", "--role", "auditor"), ()),
        (("user", "set-role", "1001", "erik@kund.se", "administrator"), ()),
        (("user", "set-role", "1001", "anna@kund.se", "user"), ()),  # main contact: refused
        (("user", "set-services", "1001", "erik@kund.se", "--grant", "eekonomi"), ()),
        (("user", "remove", "1001", "erik@kund.se", "--yes"), ()),
        (("user", "remove", "1001", "erik@kund.se"), ()),  # no --yes needed for a dry run
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) and v and v[0] != "started_at" else "",
)
def test_a_dry_run_is_the_real_run_without_the_change(
    args: tuple[str, ...], drop: tuple[str, ...]
) -> None:
    if args[:2] == ("user", "remove") and "--yes" not in args:
        before = database()
        dry = invoke(*args, "--dry-run")
        assert dry.exit_code == 0 and NOTE in dry.stderr, dry.output
        assert database() == before
        refused = invoke(*args)  # the real one, without a terminal, needs --yes
        assert refused.exit_code == 2 and "--yes" in refused.stderr
        assert database() == before
        return
    dry, real = dry_then_real(*args, drop=drop)
    assert dry == real


def test_import_dry_run_reports_what_the_real_import_does(tmp_path: Path) -> None:
    exported = invoke("export", "1001", "-o", "-").stdout
    document = json.loads(exported)
    document["companies"][0]["name"] = "Kund AB (nytt namn)"
    document["companies"].append(
        {"customer_number": "7777", "org_number": "556036-0793", "name": "Ny Kund AB"}
    )
    document["offices"].append({"org_number": "not a number", "name": "Trasig"})
    file = tmp_path / "changes.json"
    file.write_text(json.dumps(document), encoding="utf-8")
    before = database()
    dry = invoke("import", str(file), "--dry-run", "--format", "jsonl")
    assert database() == before
    real = invoke("import", str(file), "--format", "jsonl")
    assert dry.exit_code == real.exit_code == 4
    assert dry.jsonl() == real.jsonl()
    assert [r["status"] for r in real.jsonl()].count("changed") == 2
    assert "dry run, nothing was changed: would have imported" in dry.stderr
    assert database() != before


def test_restore_dry_run_changes_nothing() -> None:
    ended = invoke("end", "1007", "-s", "utlagg", "-o", "delete", "--by", "customer", "--yes")
    assert ended.exit_code == 0, ended.output
    backup = next((Path(os.environ["COLLABCTL_HOME"]) / "backups").glob("1007-utlagg-*.json"))
    before = database()
    dry = invoke("restore", str(backup), "--dry-run", "--format", "json")
    assert dry.exit_code == 0 and dry.json()["status"] == "would-restore"
    assert database() == before
