"""Shell completion, driven through the protocol a shell uses: collabctl run with
``_COLLABCTL_COMPLETE=complete_bash``, ``COMP_WORDS`` and ``COMP_CWORD`` (zsh:
``complete_zsh`` and ``_TYPER_COMPLETE_ARGS``, which carries descriptions too).

Most run in this process; a few run the installed ``collabctl`` (``process=True``),
whose start-up builds only the command being completed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from helpers import CLI, COLLABCTL, PROCESS_TIMEOUT_S, Run, invoke


def _answer(env: dict[str, str], process: bool) -> Run:
    """collabctl's answer to a completion request given by ``env``."""
    if not process:
        return invoke(env=env)
    result = subprocess.run(
        COLLABCTL,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT_S,
        check=False,
    )
    return Run(result.returncode, result.stdout, result.stderr)


def complete(line: str, env: dict[str, str] | None = None, *, process: bool = False) -> list[str]:
    """What bash is offered for the last word of ``line`` (which may be empty)."""
    words = line.split(" ")
    request = {
        "_COLLABCTL_COMPLETE": "complete_bash",
        "COMP_WORDS": line,
        "COMP_CWORD": str(len(words) - 1),
    }
    result = _answer({**request, **(env or {})}, process)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "", "completion is silent"
    return result.stdout.split()


def complete_zsh(line: str, *, process: bool = False) -> str:
    request = {"_COLLABCTL_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": line}
    result = _answer(request, process)
    assert result.exit_code == 0, result.stderr
    return result.stdout


DEMO_CUSTOMERS = ["0042", "1001", "1002", "1003", "1004", "1005", "1007"]


@pytest.fixture
def demo_data() -> None:
    assert invoke("demo").exit_code == 0


@pytest.mark.usefixtures("demo_data")
@pytest.mark.parametrize(
    "line,expected",
    [
        ("collabctl end --by ", ["customer", "office"]),
        ("collabctl end --by o", ["office"]),
        ("collabctl end -s ", ["eekonomi", "fakturering", "lon", "utlagg"]),
        ("collabctl end --service u", ["utlagg"]),
        ("collabctl end --outcome ", ["continue", "deactivate", "delete", "handover"]),
        # the service given first narrows what follows to its own
        ("collabctl end -s lon -o ", ["handover"]),
        ("collabctl end -s utlagg --outcome ", ["continue", "delete"]),
        ("collabctl end --confirm ", ["data-synchronised", "backup-handed-over"]),
        ("collabctl end -s lon -c ", ["data-synchronised", "backup-handed-over"]),
        ("collabctl end -s eekonomi -c ", []),
        ("collabctl list --state ", ["active", "ended", "all"]),
        ("collabctl list -f ", ["table", "json", "jsonl", "csv"]),
        ("collabctl show 1001 --format j", ["json", "jsonl"]),
        (
            "collabctl notify list --state ",
            ["pending", "sent", "failed", "no-address", "cancelled", "all"],
        ),
        ("collabctl add-user 1001 --role ", ["administrator", "user", "auditor"]),
        ("collabctl user set-role 1001 erik@kund.se ", ["administrator", "user", "auditor"]),
        (
            "collabctl user set-services 1001 erik@kund.se --grant ",
            ["eekonomi", "fakturering", "lon", "utlagg"],
        ),
        ("collabctl export 1001 -s f", ["fakturering"]),
        ("collabctl start 1001 -s ", ["eekonomi", "fakturering", "lon", "utlagg"]),
    ],
)
def test_options_with_fixed_values_complete_them(line: str, expected: list[str]) -> None:
    assert complete(line) == expected


@pytest.mark.usefixtures("demo_data")
@pytest.mark.parametrize(
    "line",
    [
        "collabctl show ",
        "collabctl end ",
        "collabctl export ",
        "collabctl start ",
        "collabctl set-main-contact ",
        "collabctl user list ",
        "collabctl list --customer ",
        "collabctl log --customer ",
    ],
)
def test_customer_completes_customer_numbers_from_the_database(line: str) -> None:
    assert complete(line) == DEMO_CUSTOMERS


@pytest.mark.usefixtures("demo_data")
def test_customer_numbers_narrow_as_digits_are_typed() -> None:
    offered = complete("collabctl show 100", process=True)
    assert offered == ["1001", "1002", "1003", "1004", "1005", "1007"]
    assert complete("collabctl show 00") == ["0042"]
    assert complete("collabctl show 9") == []
    assert complete("collabctl show x") == []


@pytest.mark.usefixtures("demo_data")
def test_the_company_name_is_the_description() -> None:
    offered = complete_zsh("collabctl show 100", process=True)
    assert '"1001":"Kund AB"' in offered
    assert '"1002":"Snickeri Norr AB"' in offered


@pytest.mark.usefixtures("demo_data")
def test_a_scope_completes_only_what_it_sees() -> None:
    assert complete("collabctl --as customer:1004 show ") == ["1004"]
    # Norrlands Lönebyrå works for 1004 and 1005
    assert complete("collabctl show ", env={"COLLABCTL_AS": "office:556234-5677"}) == [
        "1004",
        "1005",
    ]


@pytest.mark.usefixtures("demo_data")
def test_services_from_the_database_complete_too(cli: CLI) -> None:
    document = {"services": [{"code": "tid", "name": "Tidrapportering", "outcomes": ["continue"]}]}
    import json

    assert cli("import", "-", input=json.dumps(document)).exit_code == 0
    assert complete("collabctl end -s t") == ["tid"]


def test_no_database_means_nothing_offered_and_nothing_created(home: Path, tmp_path: Path) -> None:
    assert complete("collabctl show ") == []
    assert not home.exists() or not list(home.rglob("*.db")), list(home.rglob("*"))
    missing = tmp_path / "typo" / "dir" / "x.db"
    assert complete(f"collabctl --database-url sqlite:///{missing} show ") == []
    assert not (tmp_path / "typo").exists()
    # fixed values need no database at all
    assert complete("collabctl end --by ") == ["customer", "office"]


def test_an_unreachable_or_broken_setup_is_silent(home: Path) -> None:
    unreachable = {"COLLABCTL_DATABASE_URL": "postgresql://u:pw@127.0.0.1:1/db"}
    assert complete("collabctl show ", env=unreachable) == []
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("this is not toml [", encoding="utf-8")
    assert complete("collabctl show ") == []
    assert complete("collabctl end -s ") == ["eekonomi", "fakturering", "lon", "utlagg"]


def test_completion_reads_and_never_writes(demo_data: None) -> None:
    before = invoke("log", "--format", "json").stdout
    assert complete("collabctl show ") == DEMO_CUSTOMERS
    assert invoke("log", "--format", "json").stdout == before


def test_every_option_with_fixed_values_declares_a_completion() -> None:
    """The tree itself: every option whose metavar lists its values, every choice option,
    and every CUSTOMER, --service and --outcome has a completion."""
    import typer.main

    from collabctl.cli.app import app

    def walk(command: object) -> object:
        yield command
        for sub in getattr(command, "commands", {}).values():
            yield from walk(sub)

    checked = 0
    for command in walk(typer.main.get_command(app)):
        for param in command.params:  # type: ignore[attr-defined]
            if getattr(param, "is_flag", False) or getattr(param, "hidden", False):
                continue
            names = {*getattr(param, "opts", ()), str(param.metavar)}
            fixed = "|" in str(param.metavar) and str(param.metavar).islower()
            known = names & {"CUSTOMER", "--service", "--outcome", "--by", "--confirm", "ROLE"}
            if fixed or known:
                has = param._custom_shell_complete is not None or param.type_descriptor.choices
                assert has, (command.name, param.name)  # type: ignore[attr-defined]
                checked += 1
    assert checked > 30
