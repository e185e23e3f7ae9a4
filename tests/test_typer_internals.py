"""What collabctl takes from Typer beyond its documented API (``cli/typer_internals.py``)
still works as that module expects: on an upgrade of Typer outside the pinned range, or
one that changes what is used, these fail and name what broke."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from collabctl.cli import typer_internals as internals
from helpers import COMMAND, invoke

PYPROJECT = Path(__file__).parent.parent / "pyproject.toml"


def test_the_installed_typer_is_in_the_range_this_was_written_for() -> None:
    lower, upper = internals.SUPPORTED
    dependencies = tomllib.loads(PYPROJECT.read_text("utf-8"))["project"]["dependencies"]
    assert f"typer{lower},{upper}" in dependencies, "pyproject.toml and SUPPORTED disagree"
    installed = tuple(int(part) for part in version("typer").split(".")[:2])
    low = tuple(int(p) for p in lower.removeprefix(">=").split("."))
    high = tuple(int(p) for p in upper.removeprefix("<").split("."))
    assert low <= installed < high, (
        f"typer {version('typer')} is outside {lower},{upper}: check every function of "
        "cli/typer_internals.py against it, then widen SUPPORTED and pyproject.toml"
    )


def test_click_messages_are_still_recognised() -> None:
    unknown = invoke("lisst")
    assert "unknown command 'lisst'" in unknown.stderr and "collabctl list" in unknown.stderr
    extra = invoke("list", "surplus")
    assert "unexpected argument: surplus" in extra.stderr
    missing = invoke("--as", "office:556677-8899")
    assert "a command is missing" in missing.stderr, missing.stderr
    for run in (unknown, extra, missing):
        assert run.exit_code == 2 and "Traceback" not in run.output


def test_parameters_are_read_as_expected() -> None:
    listing = COMMAND.commands["list"]
    by_name = {p.name: p for p in listing.params}
    assert internals.choices(by_name["fmt"]) == ["table", "json", "jsonl", "csv"]
    assert internals.is_integer(by_name["limit"])
    assert not internals.is_integer(by_name["search"])
    assert internals.has_own_completion(by_name["customer"])
    show = COMMAND.commands["show"]
    customer = next(p for p in show.params if p.name == "customer")
    assert isinstance(customer, internals.Argument)
    assert internals.argument_name(customer) == "CUSTOMER"
    assert re.search(r"collabctl show \[OPTIONS\] CUSTOMER$", invoke("show", "--help").stdout, re.M)


def test_a_copied_option_is_not_an_argument_of_the_command() -> None:
    root = {p.name: p for p in COMMAND.params}
    seen: list[object] = []
    copy = internals.copy_option(root["party"], internals.Option, lambda c, p, v: seen.append(v))
    assert (copy.name, copy.opts, copy.expose_value, copy.envvar) == (
        "party",
        ["--as"],
        False,
        None,
    )
    flag = internals.copy_option(root["no_pager"], internals.Option, lambda c, p, v: v)
    assert flag.is_flag and flag.default is False


def test_an_option_without_its_value_is_recognised() -> None:
    run = invoke("list", "--customer")
    assert run.exit_code == 2 and "--customer needs a value" in run.stderr, run.stderr
