"""Every single-company read finds its rows through an index, on both backends, so it
takes milliseconds whatever the size of the database (SPEC §6; benchmarks/scale.py
times the same reads over 100 000 and 1 000 000 companies).

How the statements are recorded and their plans judged: tests/query_plans.py.
"""

from __future__ import annotations

from pathlib import Path

from helpers import CLI, db_url
from query_plans import (
    BULK,
    OFFICES,
    TARGET,
    analyze,
    customer,
    explained,
    load,
    postgres_scans,
    recording,
    sqlite_scans,
)

# -- the reads ---------------------------------------------------------------------------

FLAGS = ("--by", "office", "--format", "json")


def reads(number: str, office: str) -> list[tuple[str, tuple[str, ...], str | None]]:
    """(what, arguments, stdin) of each single-company read and end."""
    return [
        ("list --customer", ("list", "--customer", number, "--format", "json"), None),
        ("list --customer --state all", ("list", "--customer", number, "--state", "all"), None),
        ("show", ("show", number, "--format", "json"), None),
        ("log --customer", ("log", "--customer", number, "--format", "json"), None),
        (
            "list --customer, as the office",
            ("--as", f"office:{office}", "list", "--customer", number, "--format", "json"),
            None,
        ),
        ("show, as the office", ("--as", f"office:{office}", "show", number), None),
        (
            "end pre-flight with a checklist (dry run)",
            ("end", number, "--service", "utlagg", "--outcome", "continue", *FLAGS, "--dry-run"),
            None,
        ),
        (
            "end",
            ("end", number, "--service", "eekonomi", "--outcome", "continue", "--yes", *FLAGS),
            None,
        ),
        (
            "end of an ended collaboration (already-ended)",
            ("end", number, "--service", "eekonomi", "--outcome", "continue", "--yes", *FLAGS),
            None,
        ),
        ("bulk end", BULK, "".join(customer(TARGET + i) + "\n" for i in (1, 2, 5, 6))),
    ]


def test_every_single_company_read_uses_an_index(cli: CLI, backend: str, tmp_path: Path) -> None:
    load(cli, tmp_path)
    url = db_url()
    if backend == "postgres":
        analyze(url)
    number, office = customer(TARGET), OFFICES[TARGET % len(OFFICES)][0]
    failures = []
    checked = 0
    for what, args, stdin in reads(number, office):
        with recording() as statements:
            run = cli(*args, input=stdin)
        assert run.exit_code in (0, 1), (what, run.stderr[-2000:])
        for sql, params in explained(statements):
            if backend == "postgres":
                bad = postgres_scans(url, sql, params)
            else:
                bad = sqlite_scans(Path(url.removeprefix("sqlite:///")), sql, params)
            checked += 1
            if bad:
                failures.append(f"{what}: {' '.join(sql.split())[:300]}\n    {bad}")
    assert not failures, "\n".join(failures)
    assert checked >= 15, "the commands ran their queries"
