"""Files written for people (exports, backups): operations/files.py writes them privately,
whole, and only where asked: never through a planted link, never into a FIFO, a device
or a directory, never over an existing file unless told to."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from collabctl.domain.errors import InvalidInput
from collabctl.operations.files import make_private_directory, write_private_json
from helpers import CLI, error_of, mode, ok

DOCUMENT = {"collabctl_export": {"version": "test"}, "companies": [{"name": "Kund AB"}]}


@pytest.fixture
def open_umask() -> Iterator[None]:
    """umask 000: anything not made private on purpose would be world-writable."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_a_new_file_is_private_whole_and_its_real_path_returned(
    tmp_path: Path, open_umask: None
) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "via").symlink_to(real)  # a link in the directory part is followed, and said
    written = write_private_json(tmp_path / "via" / "out.json", DOCUMENT)
    assert written == real.resolve() / "out.json"
    assert json.loads(written.read_text(encoding="utf-8")) == DOCUMENT
    assert mode(written) == 0o600
    assert leftovers(real) == []


def test_a_link_planted_at_the_old_temporary_name_is_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious", encoding="utf-8")
    (tmp_path / ".out.json.tmp").symlink_to(victim)
    write_private_json(tmp_path / "out.json", DOCUMENT)
    assert victim.read_text(encoding="utf-8") == "precious"
    assert (tmp_path / ".out.json.tmp").is_symlink()
    assert json.loads((tmp_path / "out.json").read_text(encoding="utf-8")) == DOCUMENT


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_symlink_target_is_refused_naming_it(tmp_path: Path, overwrite: bool) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious", encoding="utf-8")
    link = tmp_path / "out.json"
    link.symlink_to(victim)
    with pytest.raises(InvalidInput) as refused:
        write_private_json(link, DOCUMENT, overwrite=overwrite)
    assert str(link) in refused.value.message
    assert "symbolic link" in refused.value.message and str(victim) in refused.value.message
    assert victim.read_text(encoding="utf-8") == "precious"
    assert link.is_symlink()
    assert leftovers(tmp_path) == []


def test_a_fifo_target_is_refused_and_stays_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InvalidInput) as refused:
        write_private_json(fifo, DOCUMENT, overwrite=True)
    assert "FIFO" in refused.value.message and str(fifo) in refused.value.message
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert leftovers(tmp_path) == []


def test_a_device_target_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        write_private_json(Path("/dev/null"), DOCUMENT, overwrite=True)
    assert "device" in refused.value.message
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_directory_target_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "out.json"
    directory.mkdir()
    with pytest.raises(InvalidInput) as refused:
        write_private_json(directory, DOCUMENT, overwrite=True)
    assert "is a directory" in refused.value.message
    assert directory.is_dir() and list(directory.iterdir()) == []


def test_an_existing_file_is_replaced_only_when_asked(tmp_path: Path, open_umask: None) -> None:
    target = tmp_path / "out.json"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o644)
    with pytest.raises(InvalidInput) as refused:
        write_private_json(target, DOCUMENT, hint="choose another path with -o")
    assert "already exists" in refused.value.message
    assert refused.value.hint == "choose another path with -o"
    assert target.read_text(encoding="utf-8") == "old"
    assert mode(target) == 0o644, "a file collabctl did not write keeps its mode"

    write_private_json(target, DOCUMENT, overwrite=True)
    assert json.loads(target.read_text(encoding="utf-8")) == DOCUMENT
    assert mode(target) == 0o600, "the file written in its place is collabctl's, and private"
    assert leftovers(tmp_path) == []


def test_a_file_that_appears_while_writing_is_not_replaced(tmp_path: Path) -> None:
    """No check-then-write race: the file takes its name only if the name is still free."""
    from collabctl.operations.files import write_private_file

    target = tmp_path / "out.json"

    def write(handle: object) -> None:
        target.write_text("someone else's", encoding="utf-8")  # appears meanwhile

    with pytest.raises(InvalidInput) as refused:
        write_private_file(target, write)  # type: ignore[arg-type]
    assert "already exists" in refused.value.message
    assert target.read_text(encoding="utf-8") == "someone else's"
    assert leftovers(tmp_path) == []


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        write_private_json(tmp_path / "out.json", {"not json": object()})
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InvalidInput) as refused:
        write_private_json(tmp_path / "missing" / "out.json", DOCUMENT)
    assert "missing" in refused.value.message


def test_a_directory_collabctl_makes_is_private_one_it_finds_keeps_its_mode(
    tmp_path: Path, open_umask: None
) -> None:
    made = make_private_directory(tmp_path / "a" / "backups")
    assert mode(made) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    make_private_directory(shared)
    assert mode(shared) == 0o755
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(InvalidInput):
        make_private_directory(tmp_path / "file")


# -- through the command line ------------------------------------------------------------


def test_export_refuses_a_link_a_fifo_and_a_directory_and_records_nothing(
    demo: CLI, tmp_path: Path
) -> None:
    events = len(ok(demo("log", "--format", "json")))
    victim = tmp_path / "victim"
    victim.write_text("precious", encoding="utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(victim)
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    for target in (link, fifo, tmp_path):
        run = demo("export", "1001", "-o", str(target), "--format", "json")
        error = error_of(run, "invalid-input", 2)
        assert str(target) in error["message"]
    assert victim.read_text(encoding="utf-8") == "precious"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert len(ok(demo("log", "--format", "json"))) == events
    assert leftovers(tmp_path) == []


def test_export_records_the_real_path_it_wrote(demo: CLI, tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "via").symlink_to(real)
    summary = ok(demo("export", "1001", "-o", str(tmp_path / "via" / "x.json"), "--format", "json"))
    assert summary["path"] == str(real.resolve() / "x.json")
    event = ok(demo("log", "--format", "json"))[0]
    assert event["action"] == "export"
    assert event["details"]["path"] == str(real.resolve() / "x.json")
    assert mode(real / "x.json") == 0o600


def test_export_then_record_records_only_what_it_wrote(demo: CLI, tmp_path: Path) -> None:
    """operations.exporting.export_then_record: the file first, then the audit event in the
    same transaction; a refused or failed write records nothing."""
    import io

    from collabctl.operations.context import Context
    from collabctl.operations.exporting import export_then_record
    from collabctl.store.database import Database
    from helpers import db_url

    db = Database(db_url())
    ctx = Context(actor="tester")
    target = tmp_path / "x.json"
    target.write_text("old", encoding="utf-8")
    events = len(ok(demo("log", "--format", "json")))

    def export(overwrite: bool) -> dict[str, object]:
        return db.transact(
            lambda s: export_then_record(s, ctx, "1001", None, target, io.StringIO(),
                                         overwrite=overwrite)
        )  # fmt: skip

    try:
        with pytest.raises(InvalidInput) as refused:
            export(overwrite=False)
        assert "--force" in (refused.value.hint or "")
        assert target.read_text(encoding="utf-8") == "old"
        assert len(ok(demo("log", "--format", "json"))) == events
        details = export(overwrite=True)
    finally:
        db.dispose()
    assert details["path"] == str(target.resolve())
    assert json.loads(target.read_text(encoding="utf-8"))["companies"][0]["customer_number"] == (
        "1001"
    )
    event = ok(demo("log", "--format", "json"))[0]
    assert (event["action"], event["details"]) == ("export", details)
