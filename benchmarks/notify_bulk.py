"""Notifications at bulk size: what queueing costs a bulk end, and `notify send` at scale.

    python benchmarks/notify_bulk.py             # 10 000 items: 20 000 messages
    python benchmarks/notify_bulk.py --n 2000    # a quick run

1. **Queueing.** The bulk end of bulk_end.py (customer numbers on stdin, results
   as JSON Lines) over N companies, each with a main contact and an office with
   an e-mail address, so every ended item queues two messages. It is compared
   with the same bulk end without notifications: a copy of this source tree in
   which ``operations.notify.queue_end`` does nothing, run from the same database
   snapshot. Both run at N and N/10, alternately, ``--repeat`` times (median);
   the marginal cost per item (run over N minus run over N/10, divided by the
   extra items) cancels start-up out. Target: at most 30% slower.
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

def queue_end(*args: Any, **kwargs: Any) -> None:
    """The baseline of benchmarks/notify_bulk.py: an end queues nothing."""
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

    with common.temp_home("collabctl-baseline-") as tmp:
        baseline = baseline_tree(tmp)
        ends = [measure_end(size, args.repeat, baseline) for size in (small, args.n)]
    rows = []
    for r in ends:
        w, o = r["without"], r["with"]
        rows.append(
            (
                f"{r['n']:,}",
                f"{2 * r['n']:,}",
                f"{w.seconds:.2f} / {w.cpu_seconds:.2f}",
                f"{o.seconds:.2f} / {o.cpu_seconds:.2f}",
                f"{(o.seconds / w.seconds - 1) * 100:+.0f}%",
                f"{w.peak_rss_mb:.1f} / {o.peak_rss_mb:.1f}",
            )
        )
    print(
        common.table(
            (
                "items",
                "messages queued",
                "end without notifications s (wall / cpu)",
                "end with notifications s (wall / cpu)",
                "wall",
                "peak MB (without / with)",
            ),
            rows,
        )
    )
    low, high = ends
    extra = high["n"] - low["n"]
    per_item = {
        key: (high[key].seconds - low[key].seconds) / extra * 1e6 for key in ("without", "with")
    }
    per_item_cpu = {
        key: (high[key].cpu_seconds - low[key].cpu_seconds) / extra * 1e6
        for key in ("without", "with")
    }
    slowdown = per_item["with"] / per_item["without"] - 1
    slowdown_cpu = per_item_cpu["with"] / per_item_cpu["without"] - 1
    verdict = "met" if max(slowdown, slowdown_cpu) <= TARGET_SLOWDOWN else "MISSED"
    print(
        f"\nmarginal cost per ended item: {per_item['without']:.1f} µs without notifications, "
        f"{per_item['with']:.1f} µs with two queued ({slowdown * 100:+.0f}% wall, "
        f"{slowdown_cpu * 100:+.0f}% CPU; target <= +{TARGET_SLOWDOWN * 100:.0f}%): {verdict}"
    )
    total = high["with"].seconds / high["without"].seconds - 1
    print(f"whole run of {high['n']:,} items, start-up included: {total * 100:+.0f}% wall")

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
