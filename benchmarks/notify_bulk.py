"""Notifications at bulk size: what queueing costs a bulk end, and `notify send` at scale.

    python benchmarks/notify_bulk.py             # 10 000 items: 20 000 messages
    python benchmarks/notify_bulk.py --n 2000    # a quick run

1. **Queueing.** The bulk end of bulk_end.py over N companies, each with a
   main contact and an office with an e-mail address, so that every ended item
   queues two messages, against the same bulk end without notifications
   (``operations.notify.end_messages`` giving none), from the same database
   snapshot, alternately, ``--repeat`` times (median):
   a. *per item*: the bulk end operation (``operations.bulk.end_many``, what
      ``end --from`` runs) in this process, its CPU and wall time divided by N:
      no start-up to subtract, and CPU time is what the work costs even on a
      busy machine. Target: at most 30% more per item.
   b. *as a user runs it*: ``collabctl end --from -`` as a process, start-up
      and output included, against a copy of this source tree in which
      ``end_messages`` gives none.
2. **Sending.** ``collabctl notify send`` delivers the 2N messages to an SMTP
   server on 127.0.0.1 (aiosmtpd, in this process, counting what it accepts),
   and 2N/10 from a smaller outbox: wall time, messages/s, peak memory of the
   sender. Target: memory flat (within 10%).
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import threading
from contextlib import closing
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "src" / "collabctl"
END = [*common.COLLABCTL, *common.BULK_END_ARGS]
SEND = [*common.COLLABCTL, "notify", "send"]
TARGET_SLOWDOWN = 0.30
SENDER = "collabctl@byran.example"

_WITHOUT_NOTIFICATIONS = '''

def end_messages(*args: Any, **kwargs: Any) -> None:
    """The baseline of benchmarks/notify_bulk.py: an end's plan has no messages."""
'''


def baseline_tree(directory: Path) -> Path:
    """A copy of the package whose ends queue no notification; put it first on PYTHONPATH."""
    target = directory / "collabctl"
    shutil.copytree(SOURCE, target, ignore=shutil.ignore_patterns("__pycache__"))
    notify = target / "operations" / "notify.py"
    notify.write_text(notify.read_text(encoding="utf-8") + _WITHOUT_NOTIFICATIONS, "utf-8")
    return directory


def prepare(home: Path, n: int) -> Path:
    """A database of n companies ready to end, every office with an e-mail address."""
    db = common.fill_database(home, n, common.BULK_SERVICE)
    with closing(sqlite3.connect(db)) as con, con:
        con.execute("UPDATE office SET email = 'kontor-' || org_number || '@byran.example'")
    return common.snapshot(db)


def outbox_count(db: Path) -> int:
    with closing(sqlite3.connect(db)) as con:
        return int(con.execute("SELECT count(*) FROM outbox").fetchone()[0])


def sent_count(db: Path) -> int:
    with closing(sqlite3.connect(db)) as con:
        return int(con.execute("SELECT count(*) FROM outbox WHERE state = 'sent'").fetchone()[0])


def measure_end(n: int, repeat: int, baseline: Path) -> dict[str, Any]:
    with common.temp_home() as home:
        env = common.env_for(home)
        base_env = {**env, "PYTHONPATH": str(baseline)}
        start = prepare(home, n)
        db = home / "collabctl.db"
        numbers = common.write_numbers_file(home / "numbers.txt", n)
        out = home / "results.jsonl"
        without, with_ = [], []
        for _ in range(repeat):
            common.restore(start, db)
            without.append(common.run(END, env=base_env, stdin=numbers, stdout_to=out))
            if outbox_count(db) != 0:
                raise SystemExit("the baseline queued notifications: the copy was not patched")
            common.restore(start, db)
            with_.append(common.run(END, env=env, stdin=numbers, stdout_to=out))
            if outbox_count(db) != 2 * n:
                raise SystemExit(f"expected {2 * n} messages, found {outbox_count(db)}")
        return {"n": n, "without": _median(without), "with": _median(with_)}


def measure_per_item(n: int, repeat: int) -> dict[str, Any]:
    """CPU and wall seconds per item of ``end_many`` over n items, with and without
    queueing (medians of ``repeat`` alternate runs from one snapshot)."""
    import os
    import time

    from collabctl.operations import notify
    from collabctl.operations.bulk import end_many
    from collabctl.operations.context import Context
    from collabctl.operations.ending import EndRequest
    from collabctl.store.database import Database

    real = notify.end_messages
    with common.temp_home() as home:
        os.environ["COLLABCTL_HOME"] = str(home)
        start = prepare(home, n)
        db_path = home / "collabctl.db"
        defaults = EndRequest("", common.BULK_SERVICE, outcome=common.BULK_OUTCOME, by="office")
        numbers = [common.customer_number(i) for i in range(n)]
        costs: dict[str, list[tuple[float, float]]] = {"without": [], "with": []}
        try:
            for _ in range(repeat):
                for key in ("without", "with"):
                    common.restore(start, db_path)
                    notify.end_messages = real if key == "with" else _queue_nothing  # type: ignore[assignment]
                    db = Database(f"sqlite:///{db_path}")
                    cpu, wall = time.process_time(), time.perf_counter()
                    ended = sum(
                        len(batch)
                        for batch in end_many(
                            db, Context("benchmark"), iter(numbers), defaults,
                            dry_run=False, backup_dir=home / "backups",
                        )
                    )  # fmt: skip
                    costs[key].append(
                        (
                            (time.process_time() - cpu) / n * 1e6,
                            (time.perf_counter() - wall) / n * 1e6,
                        )
                    )
                    db.dispose()
                    queued = outbox_count(db_path)
                    if ended != n or queued != (2 * n if key == "with" else 0):
                        raise SystemExit(f"{key}: {ended} items ended, {queued} messages queued")
        finally:
            notify.end_messages = real  # type: ignore[assignment]
    return {
        key: (
            common.median([c for c, _ in runs]),
            common.median([w for _, w in runs]),
        )
        for key, runs in costs.items()
    }


def _queue_nothing(*args: Any, **kwargs: Any) -> None:
    return None


def _median(runs: list[common.Measured]) -> common.Measured:
    return sorted(runs, key=lambda m: m.seconds)[len(runs) // 2]


class _Counter:
    """An aiosmtpd handler that only counts: the benchmark measures the sender."""

    def __init__(self) -> None:
        self.accepted = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.accepted += 1
        return "250 2.0.0 accepted"


def measure_send(n: int) -> dict[str, Any]:
    """`notify send` of the 2n messages a bulk end of n items queued."""
    from aiosmtpd.controller import Controller

    with common.temp_home() as home:
        env = common.env_for(home)
        start = prepare(home, n)
        db = home / "collabctl.db"
        common.restore(start, db)
        numbers = common.write_numbers_file(home / "numbers.txt", n)
        common.run(END, env=env, stdin=numbers, stdout_to=home / "results.jsonl")
        handler = _Counter()
        port = _free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            send_env = {
                **env,
                "COLLABCTL_SMTP_URL": f"smtp://127.0.0.1:{port}",
                "COLLABCTL_MAIL_FROM": SENDER,
            }
            measured = common.run(SEND, env=send_env)
        finally:
            controller.stop()
        if handler.accepted != 2 * n or sent_count(db) != 2 * n:
            raise SystemExit(
                f"expected {2 * n} messages sent, the server accepted {handler.accepted} "
                f"and {sent_count(db)} are marked sent"
            )
        return {"messages": 2 * n, "send": measured}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="items to end (default 10000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    args = parser.parse_args()
    small = max(args.n // 10, 1)
    print(f"machine: {common.machine()}\n")

    # in a process of its own: this one starts the commands measured below, and a child
    # reports as its peak memory at least what its parent held when it was forked
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        per_item = pool.submit(measure_per_item, args.n, args.repeat).result()
    (cpu_without, wall_without), (cpu_with, wall_with) = per_item["without"], per_item["with"]
    slowdown_cpu, slowdown_wall = cpu_with / cpu_without - 1, wall_with / wall_without - 1
    print(
        common.table(
            ("per ended item", "without notifications", "with two queued", "more"),
            [
                ("CPU µs", f"{cpu_without:.1f}", f"{cpu_with:.1f}", f"{slowdown_cpu * 100:+.0f}%"),
                (
                    "wall µs",
                    f"{wall_without:.1f}",
                    f"{wall_with:.1f}",
                    f"{slowdown_wall * 100:+.0f}%",
                ),
            ],
        )
    )
    verdict = "met" if slowdown_cpu <= TARGET_SLOWDOWN else "MISSED"
    print(
        f"\nqueueing 2 messages per ended item: {slowdown_cpu * 100:+.0f}% CPU per item "
        f"(target <= +{TARGET_SLOWDOWN * 100:.0f}%): {verdict}\n"
    )

    with common.temp_home("collabctl-baseline-") as tmp:
        baseline = baseline_tree(tmp)
        whole = measure_end(args.n, args.repeat, baseline)
    w, o = whole["without"], whole["with"]
    print(
        common.table(
            (
                "items",
                "messages queued",
                "collabctl end --from, without notifications s (wall / cpu)",
                "with notifications s (wall / cpu)",
                "more (wall / cpu)",
                "peak MB (without / with)",
            ),
            [
                (
                    f"{args.n:,}",
                    f"{2 * args.n:,}",
                    f"{w.seconds:.2f} / {w.cpu_seconds:.2f}",
                    f"{o.seconds:.2f} / {o.cpu_seconds:.2f}",
                    f"{(o.seconds / w.seconds - 1) * 100:+.0f}% / "
                    f"{(o.cpu_seconds / w.cpu_seconds - 1) * 100:+.0f}%",
                    f"{w.peak_rss_mb:.1f} / {o.peak_rss_mb:.1f}",
                )
            ],
        )
    )

    sends = [measure_send(size) for size in (small, args.n)]
    rows = [
        (
            f"{s['messages']:,}",
            f"{s['send'].seconds:.2f} / {s['send'].cpu_seconds:.2f}",
            f"{s['messages'] / s['send'].seconds:,.0f}",
            f"{s['send'].peak_rss_mb:.1f}",
        )
        for s in sends
    ]
    print()
    print(common.table(("messages", "notify send s (wall / cpu)", "messages/s", "peak MB"), rows))
    small_mb, large_mb = (s["send"].peak_rss_mb for s in sends)
    flat = large_mb <= small_mb * 1.10
    print(
        f"\nmemory of notify send: {small_mb:.1f} MB for {sends[0]['messages']:,} messages, "
        f"{large_mb:.1f} MB for {sends[1]['messages']:,} (flat: within 10%): "
        f"{'met' if flat else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
