"""Shared pieces of the benchmarks: synthetic data, timing, peak memory, tables.

Every benchmark runs collabctl as a user would (a subprocess, a fresh
``COLLABCTL_HOME`` in a temporary directory) so start-up, parsing and output
are part of what is measured.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

PYTHON = sys.executable
#: The installed console script beside the interpreter, else ``python -m collabctl``.
COLLABCTL: list[str] = (
    [str(Path(PYTHON).with_name("collabctl"))]
    if Path(PYTHON).with_name("collabctl").exists()
    else [PYTHON, "-m", "collabctl"]
)

OFFICES = (
    ("556677-8899", "Exempelbyrån AB"),
    ("559123-4561", "Siffror & Balans Redovisning AB"),
    ("556234-5677", "Norrlands Lönebyrå AB"),
)


#: The bulk end both bulk benchmarks measure: customer numbers on stdin, results as JSON Lines.
BULK_SERVICE, BULK_OUTCOME = "eekonomi", "deactivate"
BULK_END_ARGS = (
    "end",
    "--from",
    "-",
    "--service",
    BULK_SERVICE,
    "--outcome",
    BULK_OUTCOME,
    "--by",
    "office",
    "--yes",
    "--format",
    "jsonl",
)


def luhn_digit(nine: str) -> str:
    """The check digit that makes ``nine`` + digit pass the Luhn mod-10 rule."""
    total = 0
    for index, char in enumerate(reversed(nine)):
        value = int(char)
        if index % 2 == 0:  # doubled positions, counted from the (future) check digit
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def org_number(index: int) -> str:
    nine = f"55{index:07d}"
    return f"{nine[:6]}-{nine[6:]}{luhn_digit(nine)}"


def customer_number(index: int) -> str:
    return f"{100000 + index}"


def company(index: int, service: str = "eekonomi") -> dict[str, object]:
    """A company ready to end: a main contact, one subscription, one active collaboration."""
    number = customer_number(index)
    return {
        "customer_number": number,
        "org_number": org_number(index),
        "name": f"Bolag {index} AB",
        "users": [
            {
                "email": f"admin@bolag{index}.se",
                "name": f"Admin {index}",
                "role": "administrator",
                "main_contact": True,
                "services": [service],
            }
        ],
        "subscriptions": [{"service": service, "state": "active"}],
        "collaborations": [
            {
                "service": service,
                "office": OFFICES[index % len(OFFICES)][0],
                "state": "active",
                "started_at": "2024-01-31T09:00:00Z",
            }
        ],
    }


def write_import_file(path: Path, n: int) -> Path:
    """JSON Lines in the import format: the offices, then ``n`` companies."""
    with path.open("w", encoding="utf-8") as out:
        for org, name in OFFICES:
            out.write(json.dumps({"office": {"org_number": org, "name": name}}) + "\n")
        for index in range(n):
            out.write(json.dumps({"company": company(index)}, ensure_ascii=False) + "\n")
    return path


def write_numbers_file(path: Path, n: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for index in range(n):
            out.write(customer_number(index) + "\n")
    return path


@contextmanager
def temp_home(prefix: str = "collabctl-bench-") -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLLABCTL_")}
    env["COLLABCTL_HOME"] = str(home)
    env["COLLABCTL_ACTOR"] = "benchmark"
    return env


@dataclass
class Measured:
    seconds: float  # wall clock
    cpu_seconds: float  # user + system time of the process: steadier on a busy machine
    peak_rss_mb: float
    returncode: int
    stdout: bytes
    stderr: bytes


def run(
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    stdin: Path | None = None,
    stdout_to: Path | None = None,
    check: bool = True,
) -> Measured:
    """Run one command: its wall time and the peak resident memory of that process alone.

    The child is reaped with ``wait4`` so the memory figure is this child's, not
    the maximum over every child the benchmark ever ran.
    """
    with tempfile.TemporaryFile() as out_tmp, tempfile.TemporaryFile() as err_tmp:
        stdin_handle = stdin.open("rb") if stdin else subprocess.DEVNULL
        stdout_handle = stdout_to.open("wb") if stdout_to else out_tmp
        try:
            started = time.perf_counter()
            proc = subprocess.Popen(
                list(args), stdin=stdin_handle, stdout=stdout_handle, stderr=err_tmp, env=env
            )
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - started
            proc.returncode = os.waitstatus_to_exitcode(status)
        finally:
            if stdin:
                stdin_handle.close()  # type: ignore[union-attr]
            if stdout_to:
                stdout_handle.close()  # type: ignore[union-attr]
        out_tmp.seek(0)
        err_tmp.seek(0)
        out, err = out_tmp.read(), err_tmp.read()
    if check and proc.returncode != 0:
        raise SystemExit(
            f"{' '.join(args)} exited {proc.returncode}:\n{err.decode(errors='replace')[-2000:]}"
        )
    # ru_maxrss is in kilobytes on Linux
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(seconds, cpu, usage.ru_maxrss / 1024, proc.returncode, out, err)


def median_run(args: Sequence[str], repeat: int, **kwargs: object) -> Measured:
    runs = [run(args, **kwargs) for _ in range(repeat)]  # type: ignore[arg-type]
    runs.sort(key=lambda m: m.seconds)
    return runs[len(runs) // 2]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, so the output can be pasted into docs/performance.md."""
    cells = [[str(h) for h in headers], *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for index, row in enumerate(cells):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if index == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    return str(value)


def machine() -> str:
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"SQLite {__import__('sqlite3').sqlite_version}, {platform.system()} {platform.release()}"
    )


def fill_database(home: Path, n: int, service: str = "eekonomi") -> Path:
    """The database of ``collabctl import`` of :func:`write_import_file`, written directly.

    Importing 100 000 companies through collabctl is itself a benchmark
    (import_list.py); the other benchmarks only need the data, so they write the
    same rows with sqlite3 after ``collabctl db upgrade`` created the schema.
    """
    import sqlite3

    run([*COLLABCTL, "db", "upgrade"], env=env_for(home))
    path = home / "collabctl.db"
    started = "2024-01-31T09:00:00.000000Z"
    with closing(sqlite3.connect(path)) as con, con:
        con.executemany("INSERT INTO office (org_number, name) VALUES (?, ?)", OFFICES)
        con.executemany(
            "INSERT INTO company (customer_number, org_number, name) VALUES (?, ?, ?)",
            ((customer_number(i), org_number(i), f"Bolag {i} AB") for i in range(n)),
        )
        con.executemany(
            "INSERT INTO company_user (customer_number, email, email_key, name, role,"
            " main_contact, services) VALUES (?, ?, ?, ?, 'administrator', 1, ?)",
            (
                (
                    customer_number(i),
                    f"admin@bolag{i}.se",
                    f"admin@bolag{i}.se",
                    f"Admin {i}",
                    json.dumps([service]),
                )
                for i in range(n)
            ),
        )
        con.executemany(
            "INSERT INTO subscription (customer_number, service, state) VALUES (?, ?, 'active')",
            ((customer_number(i), service) for i in range(n)),
        )
        con.executemany(
            "INSERT INTO collaboration (customer_number, service, office_org_number, state,"
            " started_at) VALUES (?, ?, ?, 'active', ?)",
            (
                (customer_number(i), service, OFFICES[i % len(OFFICES)][0], started)
                for i in range(n)
            ),
        )
    return path


def snapshot(path: Path) -> Path:
    """A copy of a database file to start each measured run from the same state."""
    import sqlite3

    with closing(sqlite3.connect(path)) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    copy = path.with_suffix(".snapshot")
    shutil.copyfile(path, copy)
    return copy


def restore(snapshot_path: Path, path: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(snapshot_path, path)
    os.chmod(path, 0o600)
