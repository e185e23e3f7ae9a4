"""Undoing ``end --outcome delete`` from its backup: the SHA-256 the backup carries,
every check restore makes before it changes anything, and the restore itself, as
operations on a real database (SQLite and PostgreSQL) and through the command line.

Every refusal is checked for its code and for leaving the database exactly as it was.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from collabctl.domain.errors import CollabError
from collabctl.operations import restore as ops
from collabctl.operations.context import Context, Party
from collabctl.operations.demo import EXEMPEL, NORRLON
from collabctl.store.database import Database
from conftest import CLI, db_url
from helpers import error_of, show, sqlite_only

JSON = ("--format", "json")
RECORDS_1007 = {
    "ER-7001": {
        "kind": "expense-report",
        "owner": "lisa@tradgardsyd.se",
        "status": "submitted",
        "payload": {"period": "2026-09"},
    },
    "OL-7002": {
        "kind": "outlay",
        "owner": "lisa@tradgardsyd.se",
        "status": "submitted",
        "payload": {"description": "Plantor", "amount_sek": 3200},
    },
}


class Ops:
    """Restore operations, each in its own transaction on the test database."""

    def __init__(self) -> None:
        self.db = Database(db_url())

    def context(self, party: str | None = None) -> Context:
        return Context("tester", Party.parse(party) if party else None)

    def run(self, work: Callable[..., Any], *args: Any, party: str | None = None) -> Any:
        return self.db.transact(lambda session: work(session, self.context(party), *args))

    def restore(self, path: Path | str, *, force: bool = False, party: str | None = None) -> Any:
        return self.run(ops.restore_backup, ops.read_backup(path, force=force), party=party)

    def refused(self, code: str, work: Callable[[], Any]) -> CollabError:
        """The refusal of ``work``, with its code; the database must not have changed."""
        before = self.snapshot()
        with pytest.raises(CollabError) as raised:
            work()
        assert raised.value.code == code, raised.value
        assert raised.value.hint, "every refusal says how to fix it"
        assert self.snapshot() == before
        return raised.value

    def execute(self, sql: str, **params: Any) -> None:
        with self.db.session() as session:
            session.execute(text(sql), params)
            session.commit()

    def snapshot(self) -> dict[str, list[tuple[str, ...]]]:
        queries = {
            "subscriptions": "SELECT customer_number, service, state, records_changed_at "
            "FROM subscription ORDER BY customer_number, service",
            "records": "SELECT customer_number, service, record_id, kind, owner, status "
            "FROM service_record ORDER BY id",
            "collaborations": "SELECT id, state, outcome FROM collaboration ORDER BY id",
            "users": "SELECT id, email, role, main_contact FROM company_user ORDER BY id",
            "events": "SELECT id FROM audit_event ORDER BY id",
        }
        with self.db.session(write=False) as session:
            return {
                name: [tuple(str(v) for v in row) for row in session.execute(text(sql))]
                for name, sql in queries.items()
            }

    def records(self, number: str, service: str) -> dict[str, dict[str, Any]]:
        with self.db.session(write=False) as session:
            rows = session.execute(
                text(
                    "SELECT record_id, kind, owner, status, payload FROM service_record "
                    "WHERE customer_number = :n AND service = :s"
                ),
                {"n": number, "s": service},
            )
            return {
                r[0]: {
                    "kind": r[1],
                    "owner": r[2],
                    "status": r[3],
                    "payload": json.loads(r[4]) if isinstance(r[4], str) else r[4],
                }
                for r in rows
            }

    def subscription(self, number: str, service: str) -> str | None:
        with self.db.session(write=False) as session:
            return session.execute(
                text("SELECT state FROM subscription WHERE customer_number = :n AND service = :s"),
                {"n": number, "s": service},
            ).scalar()

    def events(self, action: str) -> list[dict[str, Any]]:
        with self.db.session(write=False) as session:
            rows = session.execute(
                text(
                    "SELECT at, actor, scope, customer_number, service, details FROM audit_event "
                    "WHERE action = :a ORDER BY id"
                ),
                {"a": action},
            ).mappings()
            found = [dict(r) for r in rows]
        for event in found:
            if isinstance(event["details"], str):
                event["details"] = json.loads(event["details"])
        return found


def delete_with_backup(cli: CLI, number: str = "1007", service: str = "utlagg") -> Path:
    run = cli("end", number, "-s", service, "-o", "delete", "--by", "customer", "--yes", *JSON)
    assert run.exit_code == 0, run.stderr
    return Path(run.json()["backup_path"])


@pytest.fixture
def db(demo: CLI) -> Iterator[Ops]:
    found = Ops()
    yield found
    found.db.dispose()


@pytest.fixture
def backup(demo: CLI) -> Path:
    """1007's Utlägg, deleted with its backup: what restore undoes."""
    return delete_with_backup(demo)


def sealed(tmp_path: Path, document: dict[str, Any], name: str = "crafted.json") -> Path:
    """A backup file with a correct hash over ``document``: a well-formed file whose
    content only restore's database checks can refuse."""
    path = tmp_path / name
    path.write_text(json.dumps(ops.seal_backup(document), indent=2), encoding="utf-8")
    return path


def content(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


# -- the hash -------------------------------------------------------------------------


def test_a_backup_carries_the_sha256_of_its_content(backup: Path) -> None:
    document = content(backup)
    header = document["collabctl_export"]
    assert header["customer_number"] == "1007"
    assert header["services"] == ["utlagg"]
    assert len(header["sha256"]) == 64
    assert header["sha256"] == ops.content_digest(document)
    # the hash is over the canonical content, without the hash itself
    without = {**document, "collabctl_export": {k: v for k, v in header.items() if k != "sha256"}}
    assert ops.canonical_content(document) == json.dumps(
        without, sort_keys=True, separators=(",", ":"), ensure_ascii=True
    ).encode("ascii")
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600


@sqlite_only  # the file is refused before the database is read
def test_the_hash_ignores_layout_but_not_values(backup: Path, tmp_path: Path) -> None:
    document = content(backup)
    compact = tmp_path / "compact.json"
    compact.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    assert ops.read_backup(compact).verified
    document["companies"][0]["records"][1]["payload"]["amount_sek"] = 3201
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(CollabError, match="does not match its SHA-256"):
        ops.read_backup(changed)


# -- restoring ------------------------------------------------------------------------


def test_restore_puts_the_records_back_and_activates_the_subscription(
    db: Ops, backup: Path
) -> None:
    assert db.subscription("1007", "utlagg") == "deleted"
    assert db.records("1007", "utlagg") == {}
    result = db.restore(backup)

    assert db.records("1007", "utlagg") == RECORDS_1007
    assert db.subscription("1007", "utlagg") == "active"
    assert result["status"] == "restored"
    assert result["records"] == 2
    assert result["record_ids"] == ["ER-7001", "OL-7002"]
    assert result["subscription_before"] == "deleted"
    assert result["subscription_state"] == "active"
    assert result["backup_path"] == str(backup)
    assert result["sha256"] == content(backup)["collabctl_export"]["sha256"]
    assert result["verified"] is True
    # the collaboration stays ended; the result says how to start a new one
    assert result["next"] == f"collabctl start 1007 --service utlagg --office {EXEMPEL}"
    with db.db.session(write=False) as session:
        states = session.execute(
            text(
                "SELECT state, outcome FROM collaboration "
                "WHERE customer_number = '1007' AND service = 'utlagg'"
            )
        ).all()
    assert [tuple(s) for s in states] == [("ended", "delete")]

    (event,) = db.events("restore")
    assert (event["actor"], event["scope"]) == ("tester", "agent")
    assert (event["customer_number"], event["service"]) == ("1007", "utlagg")
    details = event["details"]
    assert details["backup_path"] == str(backup)
    assert details["sha256"] == result["sha256"]
    assert details["verified"] is True
    assert details["subscription"] == {"before": "deleted", "after": "active"}
    assert details["records"] == {"before": 0, "after": 2}


def test_the_restored_records_count_as_a_change(db: Ops, backup: Path) -> None:
    """The restore is the records' latest change: an export made before it no longer
    meets backup-handed-over (the checklist compares the export with this time)."""

    def changed_at() -> str:
        with db.db.session(write=False) as session:
            value = session.execute(
                text(
                    "SELECT records_changed_at FROM subscription "
                    "WHERE customer_number = '1007' AND service = 'utlagg'"
                )
            ).scalar()
        assert isinstance(value, str)
        return value

    deleted_at = changed_at()  # the delete that wrote the backup changed them last
    db.restore(backup)
    (event,) = db.events("restore")
    assert changed_at() == event["at"]
    assert changed_at() > deleted_at


def test_a_dry_run_checks_everything_and_changes_nothing(db: Ops, backup: Path) -> None:
    before = db.snapshot()
    plan = db.run(ops.check_restore, ops.read_backup(backup))
    assert plan["status"] == "would-restore"
    assert plan["record_ids"] == ["ER-7001", "OL-7002"]
    assert plan["subscription_before"] == "deleted"
    assert db.snapshot() == before


def test_a_restore_run_twice_is_a_conflict(db: Ops, backup: Path) -> None:
    db.restore(backup)
    error = db.refused("conflict", lambda: db.restore(backup))
    assert "utlagg of customer 1007 is active, not deleted" in error.message
    assert "collabctl show 1007" in str(error.hint)
    assert len(db.events("restore")) == 1


def test_a_dry_run_after_the_restore_is_a_conflict(db: Ops, backup: Path) -> None:
    db.restore(backup)
    db.refused("conflict", lambda: db.run(ops.check_restore, ops.read_backup(backup)))


def test_a_subscription_started_afresh_is_not_restored_into(
    db: Ops, backup: Path, demo: CLI
) -> None:
    run = demo("start", "1007", "--service", "utlagg", "--office", EXEMPEL)
    assert run.exit_code == 0, run.stderr
    error = db.refused("conflict", lambda: db.restore(backup))
    assert "active, not deleted" in error.message


def test_a_deleted_subscription_that_holds_records_is_a_conflict(db: Ops, backup: Path) -> None:
    db.execute(
        "INSERT INTO service_record (customer_number, service, record_id, kind, status, payload) "
        "VALUES ('1007', 'utlagg', 'X-1', 'outlay', 'draft', '{}')"
    )
    error = db.refused("conflict", lambda: db.restore(backup))
    assert "holds 1 records already" in error.message


def test_a_backup_of_another_company_is_refused(db: Ops, backup: Path) -> None:
    # customer 1007 here is not the company the backup was taken of
    db.execute("UPDATE company SET org_number = '556036-0793' WHERE customer_number = '1007'")
    error = db.refused("invalid-input", lambda: db.restore(backup))
    assert "is a backup of another company" in error.message
    assert "556890-1234" in error.message and "556036-0793" in error.message


def test_a_backup_of_a_company_that_does_not_exist_is_not_found(
    db: Ops, backup: Path, tmp_path: Path
) -> None:
    document = content(backup)
    document["collabctl_export"]["customer_number"] = "9999"
    document["companies"][0]["customer_number"] = "9999"
    error = db.refused("not-found", lambda: db.restore(sealed(tmp_path, document)))
    assert "customer 9999" in error.message


def test_a_service_missing_from_the_catalogue_is_not_found(
    db: Ops, backup: Path, tmp_path: Path
) -> None:
    document = content(backup)
    document["collabctl_export"]["services"] = ["tid"]
    for record in document["companies"][0]["records"]:
        record["service"] = "tid"
    error = db.refused("not-found", lambda: db.restore(sealed(tmp_path, document)))
    assert "'tid'" in error.message


def test_a_party_that_may_not_change_the_company_is_refused(db: Ops, backup: Path) -> None:
    db.refused("not-found", lambda: db.restore(backup, party=f"office:{NORRLON}"))
    db.refused("not-found", lambda: db.restore(backup, party="customer:1001"))


def test_the_company_itself_may_restore(db: Ops, backup: Path) -> None:
    db.restore(backup, party="customer:1007")
    assert db.events("restore")[0]["scope"] == "customer:1007"


# -- bad files: invalid-input, nothing read from or written to the database -----------


def refused_file(db: Ops, path: Path | str, *, force: bool = False) -> CollabError:
    error = db.refused("invalid-input", lambda: db.restore(path, force=force))
    assert error.exit_code == 2
    assert str(Path(path).absolute()) in error.message  # names the file
    return error


@sqlite_only  # the file is refused before the database is read
def test_a_missing_file(db: Ops, tmp_path: Path) -> None:
    error = refused_file(db, tmp_path / "nope.json")
    assert "no such file" in error.message


@sqlite_only  # the file is refused before the database is read
def test_a_directory_or_a_fifo_is_not_a_backup(db: Ops, tmp_path: Path) -> None:
    assert "not a regular file" in refused_file(db, tmp_path).message
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert "not a regular file" in refused_file(db, fifo).message  # and does not hang


@sqlite_only  # the file is refused before the database is read
def test_an_unreadable_file(db: Ops, backup: Path) -> None:
    if os.geteuid() != 0:
        backup.chmod(0)
        assert "cannot read it" in refused_file(db, backup).message
        return
    # root reads any file: read it as an unprivileged user, in a child process
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = "none"
        try:
            os.setgid(65534)
            os.setuid(65534)
            ops.read_backup(backup)
        except CollabError as exc:
            code = f"{exc.code}|{exc.message}"
        except BaseException as exc:
            code = f"crash|{exc!r}"
        finally:
            os.write(write, code.encode())
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        answer = pipe.read()
    os.waitpid(pid, 0)
    code, _, message = answer.partition("|")
    assert code == "invalid-input", answer
    assert "cannot read it: Permission denied" in message


# refused before the database is read: one case on both backends, the others on SQLite
@pytest.mark.parametrize(
    ("backend", "keep"),
    [("sqlite", 0.5), ("postgres", 0.5), ("sqlite", 0.9), ("sqlite", 0.99)],
    indirect=["backend"],
)
def test_a_truncated_file(db: Ops, backup: Path, keep: float) -> None:
    data = backup.read_bytes()
    backup.write_bytes(data[: int(len(data) * keep)])
    error = refused_file(db, backup)
    assert "truncated or damaged" in error.message


@sqlite_only  # the file is refused before the database is read
def test_a_file_with_one_byte_of_a_record_changed(db: Ops, backup: Path) -> None:
    data = backup.read_bytes()
    at = data.index(b"3200")  # the amount of outlay OL-7002
    backup.write_bytes(data[:at] + b"9" + data[at + 1 :])
    error = refused_file(db, backup)
    assert "does not match its SHA-256" in error.message
    assert "--force does not override this" in str(error.hint)
    # and --force does not override it
    refused_file(db, backup, force=True)


@sqlite_only  # the file is refused before the database is read
def test_a_changed_record_id(db: Ops, backup: Path) -> None:
    data = backup.read_bytes()
    backup.write_bytes(data.replace(b'"ER-7001"', b'"ER-7009"', 1))
    assert "does not match its SHA-256" in refused_file(db, backup).message


@sqlite_only  # the file is refused before the database is read
def test_a_changed_header_is_a_changed_file(db: Ops, backup: Path) -> None:
    data = backup.read_bytes()
    backup.write_bytes(data.replace(b'"exported_at": "2', b'"exported_at": "1', 1))
    assert "does not match its SHA-256" in refused_file(db, backup).message


NOT_BACKUPS = {
    "empty": b"",
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00",
    "text": b"not json at all",
    "list": b"[1, 2, 3]",
    "import-file": b'{"offices": [], "companies": []}',
    "bad-header": b'{"collabctl_export": "yes"}',
    "deep": b"[" * 100_000,
}


# refused before the database is read: one case on both backends, the others on SQLite
@pytest.mark.parametrize(
    ("backend", "data"),
    [
        pytest.param("postgres", NOT_BACKUPS["import-file"], id="postgres-import-file"),
        *(pytest.param("sqlite", data, id=f"sqlite-{name}") for name, data in NOT_BACKUPS.items()),
    ],
    indirect=["backend"],
)
def test_files_that_are_not_backups(db: Ops, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "other.json"
    path.write_bytes(data)
    refused_file(db, path)


@sqlite_only  # the file is refused before the database is read
def test_an_export_of_a_whole_company_is_not_a_backup(db: Ops, demo: CLI, tmp_path: Path) -> None:
    out = tmp_path / "export.json"
    assert demo("export", "1007", "-o", str(out)).exit_code == 0
    error = refused_file(db, out, force=True)
    assert "not a backup of one service" in error.message


def test_a_backup_without_a_hash_needs_force(db: Ops, backup: Path) -> None:
    """A backup written before backups carried a hash (or an export of the service)."""
    document = content(backup)
    del document["collabctl_export"]["sha256"]
    backup.write_text(json.dumps(document, indent=2), encoding="utf-8")
    error = refused_file(db, backup)
    assert "has no SHA-256" in error.message
    assert f"collabctl restore {backup} --force" in str(error.hint)

    result = db.restore(backup, force=True)
    assert result["verified"] is False
    assert db.records("1007", "utlagg") == RECORDS_1007
    (event,) = db.events("restore")
    assert event["details"]["verified"] is False
    assert event["details"]["sha256"] == ops.content_digest(document)


REFUSED_RECORDS = [
    ("id", ""),
    ("id", "a\x00b"),
    ("status", "s" * 41),
    ("kind", None),
    ("owner", 5),
    ("payload", [1]),
    ("payload", {"amount": float("nan")}),
    ("service", "eekonomi"),
]


# checked before the database is read: one case on both backends, the others on SQLite
@pytest.mark.parametrize(
    ("backend", "field", "value"),
    [("postgres", *REFUSED_RECORDS[1]), *(("sqlite", *case) for case in REFUSED_RECORDS)],
    indirect=["backend"],
)
def test_records_the_database_would_refuse_are_invalid_input(
    db: Ops, backup: Path, tmp_path: Path, field: str, value: Any
) -> None:
    """Even with a correct hash (which anyone can compute), each record is checked."""
    document = content(backup)
    document["companies"][0]["records"][0][field] = value
    refused_file(db, sealed(tmp_path, document))


@sqlite_only  # the file is refused before the database is read
def test_a_record_twice_is_invalid_input(db: Ops, backup: Path, tmp_path: Path) -> None:
    document = content(backup)
    records = document["companies"][0]["records"]
    records.append(dict(records[0]))
    assert "appears twice" in refused_file(db, sealed(tmp_path, document)).message


# -- concurrency ----------------------------------------------------------------------


def test_two_restores_at_once_restore_once(db: Ops, backup: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    read = ops.read_backup(backup)

    def attempt(_: int) -> str:
        other = Database(db_url())
        try:
            other.transact(lambda s: ops.restore_backup(s, db.context(), read))
            return "restored"
        except CollabError as exc:
            return exc.code
        finally:
            other.dispose()

    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(attempt, range(4)))
    assert outcomes == ["conflict", "conflict", "conflict", "restored"]
    assert db.records("1007", "utlagg") == RECORDS_1007
    assert len(db.events("restore")) == 1


# -- the command line -----------------------------------------------------------------


def subscription_of(company: dict[str, Any], service: str) -> dict[str, Any]:
    return next(s for s in company["subscriptions"] if s["service"] == service)


def test_delete_restore_start_and_end_again(demo: CLI) -> None:
    """The whole story: delete with a backup, restore it, see it, work in it again."""
    backup = delete_with_backup(demo)
    company = show(demo, "1007")
    assert subscription_of(company, "utlagg") == {
        "service": "utlagg",
        "state": "deleted",
        "records": 0,
    }
    deleted_table = demo("show", "1007").stdout
    assert "utlagg was deleted: `collabctl restore BACKUP_FILE` puts its records back" in (
        deleted_table
    )

    dry = demo("restore", str(backup), "--dry-run", *JSON)
    assert dry.exit_code == 0, dry.stderr
    assert dry.json()["status"] == "would-restore"
    assert subscription_of(show(demo, "1007"), "utlagg")["state"] == "deleted"

    run = demo("restore", str(backup), "--yes")
    assert run.exit_code == 0, run.stderr
    assert "Restored 2 records of utlagg for 1007 Trädgårdsdesign Syd AB" in run.stdout
    assert f"collabctl start 1007 --service utlagg --office {EXEMPEL}" in run.stdout

    company = show(demo, "1007")
    assert subscription_of(company, "utlagg") == {
        "service": "utlagg",
        "state": "active",
        "records": 2,
    }
    utlagg = [c for c in company["collaborations"] if c["service"] == "utlagg"]
    assert [(c["state"], c["outcome"]) for c in utlagg] == [("ended", "delete")]

    started = demo("start", "1007", "--service", "utlagg", "--office", EXEMPEL, *JSON)
    assert started.exit_code == 0, started.stderr
    ended = demo("end", "1007", "-s", "utlagg", "-o", "continue", "--by", "office", "--yes", *JSON)
    assert ended.exit_code == 0, ended.stderr
    assert ended.json()["subscription_state"] == "active"
    company = show(demo, "1007")
    assert subscription_of(company, "utlagg") == {
        "service": "utlagg",
        "state": "active",
        "records": 2,
    }

    log = demo("log", "--customer", "1007", "--service", "utlagg", "--reverse", *JSON).json()
    assert [e["action"] for e in log if e["action"] != "import"] == [
        "end",
        "restore",
        "start",
        "end",
    ]
    restored = next(e for e in log if e["action"] == "restore")
    assert restored["details"]["backup_path"] == str(backup)
    assert restored["details"]["subscription"] == {"before": "deleted", "after": "active"}
    assert restored["details"]["records"] == {"before": 0, "after": 2}


@sqlite_only  # the rendering of a report or a hint already read
def test_restore_dry_run_as_a_table(demo: CLI) -> None:
    backup = delete_with_backup(demo)
    run = demo("restore", str(backup), "--dry-run")
    assert run.exit_code == 0, run.stderr
    assert "Would restore 2 records of utlagg for 1007 Trädgårdsdesign Syd AB" in run.stdout
    assert "ER-7001, OL-7002" in run.stdout
    assert (
        "The backup is intact: its content matches the SHA-256 its delete recorded." in run.stdout
    )
    assert "Nothing changed; run again with --yes to restore." in run.stdout


def test_restore_without_a_terminal_needs_yes(demo: CLI) -> None:
    backup = delete_with_backup(demo)
    error = error_of(demo("restore", str(backup), *JSON), "invalid-input", 2)
    assert "--yes" in error["hint"]
    assert subscription_of(show(demo, "1007"), "utlagg")["state"] == "deleted"


def test_restore_refusals_through_the_command_line(demo: CLI, tmp_path: Path) -> None:
    backup = delete_with_backup(demo)
    data = backup.read_bytes()

    error_of(demo("restore", str(tmp_path / "nope.json"), "--yes", *JSON), "invalid-input", 2)
    truncated = tmp_path / "truncated.json"
    truncated.write_bytes(data[: len(data) // 2])
    error_of(demo("restore", str(truncated), "--yes", *JSON), "invalid-input", 2)
    edited = tmp_path / "edited.json"
    at = data.index(b"3200")
    edited.write_bytes(data[:at] + b"4" + data[at + 1 :])
    error = error_of(demo("restore", str(edited), "--yes", "--force", *JSON), "invalid-input", 2)
    assert "does not match its SHA-256" in error["message"]
    error = error_of(demo("restore", str(edited), "--dry-run", *JSON), "invalid-input", 2)
    other = tmp_path / "other.json"
    other.write_text('{"offices": []}', encoding="utf-8")
    error_of(demo("restore", str(other), "--yes", *JSON), "invalid-input", 2)
    assert subscription_of(show(demo, "1007"), "utlagg")["state"] == "deleted"

    assert demo("restore", str(backup), "--yes").exit_code == 0
    error = error_of(demo("restore", str(backup), "--yes", *JSON), "conflict", 1)
    assert "not deleted" in error["message"]
    log = demo("log", "--customer", "1007", *JSON).json()
    assert [e["action"] for e in log].count("restore") == 1


def test_a_backup_without_a_hash_needs_force_on_the_command_line(demo: CLI) -> None:
    backup = delete_with_backup(demo)
    document = content(backup)
    del document["collabctl_export"]["sha256"]
    backup.write_text(json.dumps(document, indent=2), encoding="utf-8")
    error = error_of(demo("restore", str(backup), "--yes", *JSON), "invalid-input", 2)
    assert "--force" in error["hint"]
    run = demo("restore", str(backup), "--yes", "--force")
    assert run.exit_code == 0, run.stderr
    # its content is what the delete recorded: not forced after all
    assert "its content matches the SHA-256 its delete recorded" in run.stdout


@sqlite_only  # the rendering of a report or a hint already read
def test_the_end_of_a_delete_says_how_to_undo_it_in_words_a_shell_keeps_together(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shlex

    monkeypatch.setenv("COLLABCTL_HOME", str(tmp_path / "Application Support"))
    assert cli("demo").exit_code == 0
    run = cli("end", "1007", "-s", "utlagg", "-o", "delete", "--by", "customer", "--yes")
    assert run.exit_code == 0, run.stderr
    undo = next(line for line in run.stdout.splitlines() if line.startswith("To undo the delete: "))
    command = shlex.split(undo.removeprefix("To undo the delete: "))
    assert command[:2] == ["collabctl", "restore"]
    assert Path(command[2]).is_file()
    assert cli(*command[1:], "--yes").exit_code == 0


@pytest.mark.parametrize("answer", ["y", "n"])
def test_restore_at_a_terminal_shows_what_it_would_do_and_asks(answer: str) -> None:
    from helpers import Terminal, invoke

    assert invoke("demo").exit_code == 0
    ended = invoke(
        "end", "1007", "-s", "utlagg", "-o", "delete", "--by", "customer", "--yes", *JSON
    )
    backup = ended.json()["backup_path"]
    term = Terminal("restore", backup)
    term.expect(r"Would restore 2 records of utlagg for 1007 Trädgårdsdesign Syd AB")
    term.answer("Restore these records?", answer)
    if answer == "y":
        term.expect(r"Restored 2 records of utlagg")
        assert term.finish() == 0
    else:
        term.expect(r"error\[cancelled\]: nothing was restored")
        assert term.finish() == 1
    shown = invoke("show", "1007", *JSON).json()
    state = next(s["state"] for s in shown["subscriptions"] if s["service"] == "utlagg")
    assert state == ("active" if answer == "y" else "deleted")
