"""``collabctl import`` of many companies, then ``list --format jsonl`` over them.

    python benchmarks/import_list.py             # 100 000 companies, memory also at 10 000
    python benchmarks/import_list.py --n 5000    # a quick run
    python benchmarks/import_list.py --list-only # fill the database directly, time only list

Each company comes with a main contact, a subscription and an active
collaboration (JSON Lines, one company a line). Prints wall and CPU time,
throughput and the peak resident memory of each process; memory should not
grow with the number of companies (both commands stream).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common


def measure(n: int, list_only: bool) -> dict[str, Any]:
    with common.temp_home() as home:
        env = common.env_for(home)
        result: dict[str, Any] = {"n": n, "import": None}
        if list_only:
            common.fill_database(home, n)
        else:
            source = common.write_import_file(home / "companies.jsonl", n)
            result["import_mb"] = source.stat().st_size / 1e6
            imported = common.run([*common.COLLABCTL, "import", str(source)], env=env)
            expected = (
                f"imported {n + len(common.OFFICES)} items: {n + len(common.OFFICES)} changed"
            )
            if expected not in imported.stderr.decode():
                raise SystemExit(f"import did not import everything: {imported.stderr[-500:]!r}")
            result["import"] = imported
        out = home / "list.jsonl"
        listed = common.run(
            [*common.COLLABCTL, "list", "--format", "jsonl"], env=env, stdout_to=out
        )
        with out.open("rb") as handle:
            lines = sum(1 for _ in handle)
        if lines != n:
            raise SystemExit(f"list printed {lines} collaborations, expected {n}")
        result["list"] = listed
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="companies (default 100000)")
    parser.add_argument(
        "--memory-n", type=int, default=None, help="a smaller size for memory (default n/10)"
    )
    parser.add_argument(
        "--list-only",
        action="store_true",
        help="write the companies straight into the database and measure only list",
    )
    args = parser.parse_args()
    small = args.memory_n or max(args.n // 10, 1)
    print(f"machine: {common.machine()}\n")
    results = [measure(size, args.list_only) for size in sorted({small, args.n})]
    rows = []
    for r in results:
        for command, key in (("import FILE", "import"), ("list --format jsonl", "list")):
            m = r[key]
            if m is None:
                continue
            rows.append(
                (
                    command,
                    f"{r['n']:,}",
                    f"{m.seconds:.2f}",
                    f"{m.cpu_seconds:.2f}",
                    f"{r['n'] / m.seconds:,.0f}",
                    f"{m.peak_rss_mb:.1f}",
                )
            )
    print(common.table(("command", "companies", "wall s", "CPU s", "companies/s", "peak MB"), rows))
    if len(results) > 1:
        for command, key in (("import", "import"), ("list --format jsonl", "list")):
            low, high = results[0][key], results[-1][key]
            if low is None or high is None:
                continue
            flat = high.peak_rss_mb <= low.peak_rss_mb * 1.10 + 2
            print(
                f"{command}: peak {low.peak_rss_mb:.1f} MB at {results[0]['n']:,}, "
                f"{high.peak_rss_mb:.1f} MB at {results[-1]['n']:,} "
                f"(flat: within 10%): {'met' if flat else 'MISSED'}"
            )


if __name__ == "__main__":
    main()
