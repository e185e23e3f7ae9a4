"""The global options work before or after the command, with the same result, and every
command's help lists them (SPEC §8.4, gh's inherited flags)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import CLI, COMMAND, Tty, invoke, log_events, sqlite_only
from screens import at_terminal, calls, pager

__all__ = ["pager"]

OFFICE = "office:556677-8899"

# Where an option stands is the parser's business, so these run on SQLite only
# (sqlite_only); what each option does is tested on both backends in its own module.


def both_ways(cli: CLI, option: tuple[str, ...], *command: str, **kwargs: object) -> str:
    """``collabctl OPTION COMMAND`` and ``collabctl COMMAND OPTION``: the same exit code and
    output; that output."""
    before = cli(*option, *command, **kwargs)
    after = cli(*command, *option, **kwargs)
    assert (after.exit_code, after.stdout, after.stderr) == (
        before.exit_code,
        before.stdout,
        before.stderr,
    )
    return before.stdout


@sqlite_only
def test_as_after_the_command_scopes_it(demo: CLI) -> None:
    scoped = both_ways(demo, ("--as", OFFICE), "list", "--format", "csv")
    assert scoped != demo("list", "--format", "csv").stdout
    assert {line.split(",")[3] for line in scoped.splitlines()[1:]} == {"556677-8899"}


@sqlite_only
def test_as_after_a_command_in_a_group(demo: CLI) -> None:
    both_ways(demo, ("--as", "customer:1001"), "user", "list", "1001", "--format", "json")
    refused = demo("user", "list", "1002", "--as", "customer:1001")
    assert refused.exit_code == 1 and "error[not-found]" in refused.stderr


@sqlite_only
def test_database_url_after_the_command(demo: CLI, tmp_path: Path) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    both_ways(demo, ("--database-url", other), "list")  # no database there: the same error
    assert demo("db", "upgrade", "--database-url", other).exit_code == 0
    assert demo("demo", "--database-url", other).exit_code == 0
    demo("--database-url", other, "end", "1001", "-s", "eekonomi", "-o", "continue",
         "--by", "customer", "--yes")  # fmt: skip
    listed = both_ways(demo, ("--database-url", other), "list", "--customer", "1001", "-f", "csv")
    assert "eekonomi" not in listed
    assert "eekonomi" in demo("list", "--customer", "1001", "-f", "csv").stdout


@sqlite_only
def test_actor_after_the_command_is_recorded(demo: CLI) -> None:
    demo("user", "set-role", "1001", "erik@kund.se", "auditor", "--actor", "Alice A")
    demo("--actor", "Bob B", "user", "set-role", "1001", "erik@kund.se", "user")
    assert [e["actor"] for e in log_events(demo, "--customer", "1001")[-2:]] == [
        "Alice A",
        "Bob B",
    ]
    both_ways(demo, ("--actor", " "), "user", "set-role", "1001", "erik@kund.se", "user")


@sqlite_only
def test_no_input_after_the_command_at_a_terminal(demo: CLI) -> None:
    text = both_ways(demo, ("--no-input",), "user", "set-role", "1001", tty=Tty())
    assert text == ""
    refused = demo("user", "set-role", "1001", "--no-input", tty=Tty())
    assert refused.exit_code == 2 and "EMAIL is required" in refused.stderr


@sqlite_only
def test_color_after_the_command(demo: CLI) -> None:
    coloured = both_ways(demo, ("--color", "always"), "show", "1001", tty=Tty())
    assert "\x1b[" in coloured
    assert "\x1b[" not in demo("show", "1001", "--color", "never", tty=Tty()).stdout


@sqlite_only
def test_a_command_with_an_option_of_that_name_keeps_its_own(demo: CLI) -> None:
    # log --actor filters; the global one goes before the command
    assert demo("log", "--actor", "nobody-at-all", "--format", "json").json() == []


@pytest.fixture
def demo_data() -> None:
    assert invoke("demo").exit_code == 0


@pytest.mark.usefixtures("demo_data")
def test_no_pager_and_color_after_the_command_in_a_terminal(pager: Path) -> None:
    env = {"COLLABCTL_PAGER": str(pager)}
    after = at_terminal("log", "--no-pager", "--color", "never", rows=12, env=env)
    before = at_terminal("--no-pager", "--color", "never", "log", rows=12, env=env)
    assert calls(pager) == 0
    assert (after.status, after.raw) == (before.status, before.raw) and after.status == 0
    assert "\x1b[1" not in after.raw
    assert at_terminal("log", rows=12, env=env).status == 0
    assert calls(pager) == 1


def commands(command: object, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    found = []
    for name, sub in getattr(command, "commands", {}).items():
        found += [((*path, name), sub), *commands(sub, (*path, name))]
    return found


GLOBAL = ("--as", "--database-url", "--actor", "--color", "--no-pager", "--no-input")


@pytest.mark.parametrize("path", [p for p, _ in commands(COMMAND)], ids=" ".join)
def test_every_help_lists_the_global_options(path: tuple[str, ...]) -> None:
    text = invoke(*path, "--help").stdout
    section = text.split("Global options (also before the command):", 1)
    assert len(section) == 2, text
    own = {"log": {"--actor"}}.get(path[-1], set())
    for option in GLOBAL:
        assert (option in section[1]) != (option in own), (path, option)
