"""The collector's settings change only around a long run and are restored after it
(SPEC 8.6), however the run ends."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from collabctl.operations.long_run import YOUNG_THRESHOLD, collector_set_aside


@pytest.fixture(autouse=True)
def _restore_collector() -> object:
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)
    gc.unfreeze()


def test_the_block_sets_the_collector_aside_and_restores_it() -> None:
    before = gc.get_threshold()
    with collector_set_aside():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_failure_inside_the_block_restores_too() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), collector_set_aside():
        raise RuntimeError("stop")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_an_inner_block_leaves_the_outer_settings_alone() -> None:
    with collector_set_aside(20_000):
        with collector_set_aside():
            assert gc.get_threshold()[0] == 20_000
        # the inner block's end did not unfreeze what the outer one set aside
        assert gc.get_threshold()[0] == 20_000
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_an_import_and_a_bulk_end_restore_the_settings(home: Path) -> None:
    from collabctl.config import default_database_url
    from collabctl.operations.bulk import end_many
    from collabctl.operations.context import Context
    from collabctl.operations.ending import EndRequest
    from collabctl.operations.importing import import_items
    from collabctl.operations.importing.reader import Item
    from collabctl.store.database import Database

    before = gc.get_threshold()
    db = Database(default_database_url(), embedded=True)
    db.ensure_schema()
    try:
        office = Item("office", "offices[0]", {"org_number": "556677-8899", "name": "Byrå"})
        with db.session() as session:
            results = import_items(session, Context("tester"), iter([office]))
            first = next(results)
            assert gc.get_threshold()[0] != before[0]  # set during the run
            assert first.status == "changed"
            assert list(results) == []
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() == 0

        defaults = EndRequest("", "eekonomi", outcome="continue", by="office")
        batches = end_many(
            db, Context("tester"), iter(["1001"]), defaults, dry_run=True, backup_dir=home
        )
        results_of_end = [r for batch in batches for r in batch]
        assert [(r.status, r.error and r.error.code) for r in results_of_end] == [
            ("failed", "not-found")
        ]
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() == 0
    finally:
        db.dispose()
