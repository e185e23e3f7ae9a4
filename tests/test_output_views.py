"""What ``list``, ``show`` and ``log`` select (SPEC §7.1): list --search, --limit, --sort;
show by org number; log newest first with --limit, --reverse, --until, --action, --actor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers import CLI, db_url, error_of, import_doc, luhn_org_number, ok, sqlite_only

JSON = ("--format", "json")
EXEMPEL = "556677-8899"


def keys(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["customer_number"], r["service"]) for r in rows]


# -- list ----------------------------------------------------------------------------


def test_list_search_by_name_customer_number_or_org_number(demo: CLI) -> None:
    every = ok(demo("list", "--state", "all", *JSON))
    by_name = ok(demo("list", "--search", "hörnet", "--state", "all", *JSON))
    assert keys(by_name) == [("0042", "eekonomi"), ("0042", "fakturering")]
    # any case, any script; a part of the name is enough
    assert ok(demo("list", "--search", "HÖRNET", "--state", "all", *JSON)) == by_name
    assert ok(demo("list", "--search", "café h", "--state", "all", *JSON)) == by_name
    # the customer number is a whole number, not a part of one
    assert keys(ok(demo("list", "--search", "0042", "--state", "all", *JSON))) == keys(by_name)
    assert ok(demo("list", "--search", "004", "--state", "all", *JSON)) == []
    # the company's org number, with or without the dash
    company = ok(demo("show", "1001", *JSON))
    org = company["org_number"]
    mine = [r for r in every if r["customer_number"] == "1001"]
    assert ok(demo("list", "--search", org, "--state", "all", *JSON)) == mine
    assert ok(demo("list", "--search", org.replace("-", ""), "--state", "all", *JSON)) == mine
    # combined with the other filters, and in every format
    active = ok(demo("list", "--search", "hörnet", *JSON))
    assert keys(active) == [("0042", "fakturering")]
    lines = demo("list", "--search", "hörnet", "--format", "jsonl").jsonl()
    assert lines == active
    table = demo("list", "--search", "hörnet")
    assert "Café Hörnet HB" in table.stdout and "Kund AB" not in table.stdout


def test_list_search_that_matches_nothing_and_an_empty_one(demo: CLI) -> None:
    nothing = demo("list", "--search", "no such company")
    assert nothing.exit_code == 0 and nothing.stdout == ""
    assert "no collaborations match" in nothing.stderr
    error_of(demo("list", "--search", " ", *JSON), "invalid-input", 2)


def test_list_limit_and_sort(demo: CLI) -> None:
    every = ok(demo("list", "--state", "all", *JSON))
    assert ok(demo("list", "--state", "all", "--limit", "3", *JSON)) == every[:3]
    assert (
        ok(demo("list", "--state", "all", "-n", "1", "--search", "kund", *JSON))
        == [r for r in every if r["customer_number"] == "1001"][:1]
    )

    started = ok(demo("list", "--state", "all", "--sort", "started", *JSON))
    assert sorted(keys(started)) == sorted(keys(every))
    assert [r["started_at"] for r in started] == sorted(r["started_at"] for r in every)

    # two more ended, so the order among ended rows shows: oldest end first
    for number in ("1004", "1001"):
        end = demo("end", number, "-s", "eekonomi", "-o", "deactivate", "--by", "office",
                   "--yes", *JSON)  # fmt: skip
        assert end.exit_code == 0, end.stderr
    ended = ok(demo("list", "--state", "all", "--sort", "ended", *JSON))
    ends = [r["ended_at"] for r in ended if r["ended_at"] is not None]
    assert len(ends) == 3 and ends == sorted(ends)
    assert [(r["customer_number"], r["service"]) for r in ended[1:3]] == [
        ("1004", "eekonomi"),
        ("1001", "eekonomi"),
    ]
    assert all(r["ended_at"] is None for r in ended[3:])  # the active ones last

    error_of(demo("list", "--limit", "0", *JSON), "invalid-input", 2)
    error_of(demo("list", "--sort", "name", *JSON), "invalid-input", 2)


@sqlite_only  # the rendering of rows already read
def test_list_table_shows_the_office_org_number(demo: CLI) -> None:
    table = demo("list", "--customer", "1002")
    header, row = table.stdout.splitlines()
    assert "office org" in header
    assert EXEMPEL in row.split()


# -- show ---------------------------------------------------------------------------


def test_show_by_org_number(demo: CLI) -> None:
    by_number = ok(demo("show", "1004", *JSON))
    org = by_number["org_number"]
    assert ok(demo("show", org, *JSON)) == by_number
    assert ok(demo("show", org.replace("-", ""), *JSON)) == by_number  # ten digits
    assert "Bygg & Lön i Umeå AB" in demo("show", org).stdout


def test_show_by_an_org_number_nobody_has_or_two_companies_have(demo: CLI) -> None:
    error = error_of(demo("show", luhn_org_number(9_999_999), *JSON), "not-found")
    assert "no company has org number" in error["message"]
    error_of(demo("show", "556036-0790", *JSON), "invalid-input", 2)  # wrong check digit

    twin = {
        "customer_number": "3001",
        "org_number": ok(demo("show", "1004", *JSON))["org_number"],
        "name": "Bygg & Lön i Umeå AB, filial",
    }
    assert import_doc(demo, {"companies": [twin]}).exit_code == 0
    error = error_of(demo("show", twin["org_number"], *JSON), "invalid-input", 2)
    assert "1004, 3001" in error["message"]
    assert "collabctl show 1004" in error["hint"]


def test_show_by_org_number_respects_the_scope(demo: CLI) -> None:
    org = ok(demo("show", "1004", *JSON))["org_number"]
    # Exempelbyrån has no collaboration with 1004: not found, said as for any number
    error = error_of(demo("--as", f"office:{EXEMPEL}", "show", org, *JSON), "not-found")
    assert "Bygg" not in error["message"] + error["hint"]
    assert ok(demo("--as", "customer:1004", "show", org, *JSON))["customer_number"] == "1004"


# -- log ----------------------------------------------------------------------------


@pytest.fixture
def history(demo: CLI) -> CLI:
    ok(demo("end", "1001", "-s", "eekonomi", "-o", "continue", "--by", "office", "--yes", *JSON))
    ok(demo("--actor", "agent-7", "add-user", "1002", "--email", "ny@snickerinorr.se", *JSON))
    ok(demo("start", "1001", "-s", "eekonomi", "--office", EXEMPEL, *JSON))
    return demo


def test_log_is_newest_first_in_every_format(history: CLI) -> None:
    events = ok(history("log", *JSON))
    ids = [e["id"] for e in events]
    assert ids == sorted(ids, reverse=True)
    assert [e["action"] for e in events[:3]] == ["start", "add-user", "end"]
    assert history("log", "--format", "jsonl").jsonl() == events
    csv_ids = [
        line.split(",")[0] for line in history("log", "--format", "csv").stdout.split("\n")[1:-1]
    ]
    assert csv_ids == [str(i) for i in ids]
    assert ok(history("log", "--reverse", *JSON)) == events[::-1]


def test_log_limit_is_the_newest_n_in_either_order(history: CLI) -> None:
    events = ok(history("log", *JSON))
    assert ok(history("log", "--limit", "2", *JSON)) == events[:2]
    assert ok(history("log", "-n", "2", "--reverse", *JSON)) == events[:2][::-1]
    assert ok(history("log", "--customer", "1001", "--limit", "1", *JSON))[0]["action"] == "start"
    error_of(history("log", "--limit", "0", *JSON), "invalid-input", 2)


def test_log_until_action_and_actor(history: CLI) -> None:
    events = ok(history("log", *JSON))
    end = next(e for e in events if e["action"] == "end")
    until = ok(history("log", "--until", end["at"], *JSON))
    assert until == [e for e in events if e["at"] <= end["at"]]
    assert until[0]["id"] == end["id"] or until[0]["at"] == end["at"]
    between = ok(history("log", "--since", end["at"], "--until", end["at"], *JSON))
    assert end in between
    assert ok(history("log", "--until", "2000-01-01", *JSON)) == []
    error_of(history("log", "--until", "tomorrow", *JSON), "invalid-input", 2)

    assert [e["action"] for e in ok(history("log", "--action", "end", *JSON))] == ["end"]
    assert ok(history("log", "--action", "import", *JSON)) == [
        e for e in events if e["action"] == "import"
    ]
    mine = ok(history("log", "--actor", "agent-7", *JSON))
    assert [(e["actor"], e["action"]) for e in mine] == [("agent-7", "add-user")]
    assert ok(history("log", "--actor", "nobody", *JSON)) == []


def test_log_table_shows_details_as_key_value_text(history: CLI) -> None:
    table = history("log", "--action", "end")
    assert table.exit_code == 0, table.output
    header, line = table.stdout.splitlines()
    assert header.split()[:3] == ["id", "at", "actor"]
    assert "outcome: continue" in line
    assert "subscription: active -> active" in line
    assert "ended by: office" in line
    assert '{"' not in line
    set_role = history("log", "--action", "add-user")
    assert "ny@snickerinorr.se" in set_role.stdout


@sqlite_only  # refused before the database is read
def test_log_verify_refuses_the_new_filters_too(history: CLI) -> None:
    for extra in (("--limit", "3"), ("--reverse",), ("--actor", "x"), ("--until", "2030-01-01")):
        error = error_of(history("log", "--verify", *extra, *JSON), "invalid-input", 2)
        assert extra[0] in error["message"]


# -- the new reads stay indexed -----------------------------------------------------------


def test_the_new_single_company_reads_use_an_index(cli: CLI, backend: str, tmp_path: Path) -> None:
    """show by org number, log newest first / --limit / --reverse and list's sorts and
    limit, for one company: the statements they send are explained as
    tests/test_query_plans.py explains those of the other reads."""
    import query_plans as plans

    plans.load(cli, tmp_path)
    url = db_url()
    if backend == "postgres":
        plans.analyze(url)
    number = plans.customer(plans.TARGET)
    org = ok(cli("show", number, *JSON))["org_number"]
    reads = [
        ("show ORG", ("show", org, *JSON)),
        ("log --customer --limit 1", ("log", "--customer", number, "--limit", "1", *JSON)),
        ("log --customer --reverse", ("log", "--customer", number, "--reverse", *JSON)),
        ("log --customer -n 2 --reverse", ("log", "--customer", number, "-n", "2", "--reverse")),
        ("list --customer --sort started", ("list", "--customer", number, "--sort", "started")),
        ("list --customer --sort ended", ("list", "--customer", number, "--sort", "ended")),
        ("list --customer --limit 1", ("list", "--customer", number, "--limit", "1", *JSON)),
    ]
    failures, checked = [], 0
    for what, args in reads:
        with plans.recording() as statements:
            run = cli(*args)
        assert run.exit_code == 0, (what, run.stderr[-2000:])
        for sql, params in plans.explained(statements):
            if backend == "postgres":
                bad = plans.postgres_scans(url, sql, params)
            else:
                bad = plans.sqlite_scans(Path(url.removeprefix("sqlite:///")), sql, params)
            checked += 1
            if bad:
                failures.append(f"{what}: {' '.join(sql.split())[:300]}\n    {bad}")
    assert not failures, "\n".join(failures)
    assert checked >= len(reads)
