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


def _walk(command: object) -> list[object]:
    subs = list(getattr(command, "commands", {}).values())
    return [command, *(c for sub in subs for c in _walk(sub))]


def test_values_taken_without_pydantic_are_what_typer_makes_of_them() -> None:
    """``lean_coercion`` skips Typer's pydantic adapter where the result is plain: for
    every parameter of every command, the same value, or the same refusal."""
    from typer._coercion import build_runtime_param

    samples = [None, "", "0042", "7", "-3", " 7", "abc", "Table", "JSON", "x\udcff"]
    checked = 0
    for command in _walk(COMMAND):
        ctx = internals.Context(command)
        params = internals.lean_coercion(list(command.get_params(ctx)))
        for param in params:
            if not hasattr(param, "type_descriptor"):
                continue
            values = [*samples, param.default, *internals.choices(param)]
            for value in values:
                lean, typer_own = (
                    _outcome(param._runtime_param, param, ctx, value),
                    _outcome(build_runtime_param(param.type_descriptor), param, ctx, value),
                )
                assert lean == typer_own, (command.name, param.name, value)
                checked += 1
    assert checked > 1000


def _outcome(runtime: object, param: object, ctx: object, value: object) -> object:
    try:
        result = runtime.coerce(value, param=param, ctx=ctx)  # type: ignore[attr-defined]
    except internals.BadParameter as exc:
        return ("refused", exc.format_message())
    return ("value", type(result), result)


def test_a_command_built_alone_is_the_one_typer_builds_with_its_group() -> None:
    """``command_of`` builds one command as Typer's ``get_group`` builds it among the
    others (what running a command builds: cli/command_tree.py); None for a group with
    sub-groups, whose commands are built together."""
    from collabctl.cli import app

    for group in app.GROUPS:
        commands = __import__(f"collabctl.cli.commands.{group}", fromlist=["commands"]).commands
        together = internals.commands_of(commands)
        for name, command in together.items():
            alone = internals.command_of(commands, name)
            if commands.registered_groups:
                assert alone is None, name
                continue
            assert alone is not None and alone is not command, name
            assert type(alone) is type(command), name
            assert (alone.name, alone.help, alone.short_help) == (
                command.name,
                command.help,
                command.short_help,
            )
            assert [(p.name, p.opts, p.default, p.required) for p in alone.params] == [
                (p.name, p.opts, p.default, p.required) for p in command.params
            ], name
        assert internals.command_of(commands, "no-such-command") is None
