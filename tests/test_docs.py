"""The documentation cannot drift from the tool.

- docs/cli.md is regenerated from the commands' --help and must match.
- Every command, error code and exit code is documented.
- Every `collabctl ...` line in the README and docs/ uses real commands and options,
  the README's quick start runs, and its test command is the one CI runs.
- The support guide's examples print what the guide shows: each ```console block is
  run in order on a fresh demo database and compared with its output, and the
  interactive transcript is typed into a real terminal and every line of it checked.

To bring the guide's output up to date after a deliberate change in output:

    python tests/test_docs.py --update-guide
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from collabctl.cli import docgen
from collabctl.cli.app import app
from collabctl.domain import errors
from helpers import COMMAND, Terminal, invoke

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
CLI_MD = DOCS / "cli.md"
GUIDE = DOCS / "guide.md"
CI_RUN = ROOT / ".ci" / "run"

#: The commands the reference must cover, whatever the generator finds.
EXPECTED_COMMANDS = {
    "collabctl",
    "collabctl demo",
    "collabctl import",
    "collabctl list",
    "collabctl show",
    "collabctl start",
    "collabctl end",
    "collabctl set-main-contact",
    "collabctl add-user",
    "collabctl export",
    "collabctl log",
    "collabctl doctor",
    "collabctl db",
    "collabctl db upgrade",
    "collabctl db current",
}

#: The directory the guide's examples were run in (COLLABCTL_HOME=$PWD/home).
GUIDE_DIR = "/tmp/guide"
#: The login the guide's examples were run under: the audit log's db_user on SQLite.
GUIDE_LOGIN = "anna"

#: EXIT_OK, EXIT_RULE, ... (EXIT_CODES, the code -> exit code map, is not one of them)
EXIT_CODES_USED = sorted(
    value
    for name, value in vars(errors).items()
    if name.startswith("EXIT_") and isinstance(value, int)
)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _doc_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


# -- the command reference ------------------------------------------------------------


def test_cli_reference_is_current() -> None:
    problem = docgen.check(CLI_MD)
    assert problem is None, problem


def test_check_fails_on_a_stale_or_missing_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current = tmp_path / "cli.md"
    current.write_text(docgen.render(), encoding="utf-8")
    assert docgen.main(["--check", str(current)]) == 0

    stale = tmp_path / "stale.md"
    stale.write_text(docgen.render().replace("--dry-run", "--try", 1), encoding="utf-8")
    assert docgen.main(["--check", str(stale)]) == 1
    err = capsys.readouterr().err
    assert docgen.REGENERATE in err
    assert "--try" in err  # the diff shows the stale line

    assert docgen.main(["--check", str(tmp_path / "absent.md")]) == 1
    assert docgen.REGENERATE in capsys.readouterr().err


def test_every_command_is_in_the_reference() -> None:
    found = docgen.commands()
    names = {c.name for c in found}
    assert names >= EXPECTED_COMMANDS, f"not found: {EXPECTED_COMMANDS - names}"
    text = _read(CLI_MD)
    for command in found:
        assert f"\n## {command.name}\n" in text, f"{command.name} has no section in {CLI_MD}"
        assert command.help in text, f"the help of {command.name} is not in {CLI_MD}"


@pytest.mark.parametrize("command", docgen.commands(), ids=lambda c: c.name)
def test_reference_is_what_help_prints_in_a_terminal(
    command: docgen.CommandHelp,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # As in a terminal 120 columns wide, where click wraps at docgen.WIDTH (CliRunner
    # would not do: it forces a width of its own).
    monkeypatch.setenv("COLUMNS", "120")
    with pytest.raises(SystemExit) as exited:
        app([*command.path[1:], "--help"], prog_name="collabctl")
    assert exited.value.code in (0, None)
    assert capsys.readouterr().out == command.help


def test_reference_renders_without_colour_or_boxes() -> None:
    text = docgen.render()
    assert "\x1b[" not in text
    assert not set("┏┃━╭│") & set(text)


# -- error codes, exit codes, commands in the README ----------------------------------


def _table_rows(text: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("|") and not re.match(r"^\|[\s:|-]+\|$", line)
    ]


def test_readme_gives_every_error_code_its_exit_code() -> None:
    rows = {row[0]: row for row in _table_rows(_read(README)) if len(row) >= 3}
    for code, exit_code in errors.EXIT_CODES.items():
        row = rows.get(f"`{code}`")
        assert row is not None, f"README.md has no error code table row for `{code}`"
        assert row[1] == str(exit_code), f"README.md gives `{code}` exit {row[1]}, not {exit_code}"


def test_readme_documents_every_exit_code() -> None:
    first_cells = {row[0] for row in _table_rows(_read(README))}
    for exit_code in EXIT_CODES_USED:
        assert str(exit_code) in first_cells, f"README.md has no exit code row for {exit_code}"


def test_docs_mention_every_error_code() -> None:
    text = "\n".join(_read(path) for path in _doc_files())
    for code in errors.EXIT_CODES:
        assert f"`{code}`" in text or f"error[{code}]" in text, f"no document names {code}"


def test_readme_command_table_lists_every_command() -> None:
    rows = {row[0] for row in _table_rows(_read(README))}
    names = [c.name for c in docgen.commands()]
    # the commands that do something: `collabctl` and `collabctl db` only group them
    leaves = [n for n in names if not any(other.startswith(n + " ") for other in names)]
    for name in (leaf.removeprefix("collabctl ") for leaf in leaves):
        assert any(cell.startswith(f"`{name}") for cell in rows), (
            f"README.md's command table has no row for `{name}`"
        )


# -- commands shown in the docs -------------------------------------------------------


_SHELL = {"", "sh", "bash", "shell", "console", "text"}


def _code_lines(text: str) -> Iterator[str]:
    """The shell command lines of fenced code blocks (continuation lines joined): in a
    transcript (console, text) only the `$ ` lines, the rest is what they printed."""
    language: str | None = None
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("```"):
            language = None if language is not None else line[3:].strip()
            pending = ""
            continue
        if language not in _SHELL:
            continue
        if language in ("console", "text") and not (pending or line.startswith("$ ")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield pending + line
        pending = ""


_CONTROL = {"&&", "||", "|", ";", "(", ")", "&"}


def _collabctl_invocations(line: str) -> Iterator[list[str]]:
    """Each `collabctl ...` command on a shell line, as its arguments."""
    lexer = shlex.shlex(line.removeprefix("$ "), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    segment: list[str] = []
    for token in [*lexer, ";"]:
        if token not in _CONTROL:
            segment.append(token)
            continue
        while segment and "=" in segment[0] and not segment[0].startswith("-"):
            segment.pop(0)  # NAME=value before the command
        if segment and segment[0] == "collabctl":
            # a redirection and its target are the shell's, not collabctl's
            args = segment[1:]
            while any(a in (">", "<", ">>") for a in args):
                at = next(i for i, a in enumerate(args) if a in (">", "<", ">>"))
                del args[at : at + 2]
            yield args
        segment = []


def _options(command: Any, ctx: Any) -> dict[str, Any]:
    return {name: p for p in command.get_params(ctx) for name in (*p.opts, *p.secondary_opts)}


def _check_invocation(args: list[str]) -> str | None:
    """Why these arguments would not parse, or None: unknown commands and options."""
    command: Any = COMMAND
    ctx = docgen._context(command, "collabctl", None)
    path = ["collabctl"]
    rest = list(args)
    while True:
        options = _options(command, ctx)
        while rest:
            word = rest.pop(0)
            if word.startswith("-") and word != "-":
                name = word.split("=", 1)[0]
                param = options.get(name)
                if param is None:
                    return f"{' '.join(path)} has no option {name}"
                if not getattr(param, "is_flag", False) and "=" not in word and rest:
                    rest.pop(0)  # the option's value
            elif hasattr(command, "list_commands"):
                sub = command.get_command(ctx, word)
                if sub is None:
                    return f"{' '.join(path)} has no command {word}"
                path.append(word)
                ctx = docgen._context(sub, word, ctx)
                command = sub
                break
        else:
            return None


def _documented_invocations() -> list[tuple[str, list[str]]]:
    found = []
    for path in _doc_files():
        if path == CLI_MD:
            continue
        for line in _code_lines(_read(path)):
            found += [(f"{path.name}: {line}", args) for args in _collabctl_invocations(line)]
    return found


def test_docs_show_only_real_commands_and_options() -> None:
    found = _documented_invocations()
    assert len(found) > 20, "the README and the guide show collabctl commands"
    problems = [f"{where}\n    {why}" for where, args in found if (why := _check_invocation(args))]
    assert not problems, "\n".join(problems)


def test_option_check_catches_a_wrong_option() -> None:
    assert _check_invocation(["end", "1001", "--outcome", "continue", "--yes"]) is None
    assert _check_invocation(["--as", "office:556677-8899", "db", "current"]) is None
    assert "no option --sure" in str(_check_invocation(["end", "1001", "--sure"]))
    assert "no command finish" in str(_check_invocation(["finish", "1001"]))


def test_readme_quick_start_runs() -> None:
    line = next(line for line in _code_lines(_read(README)) if "pip install . &&" in line)
    invocations = list(_collabctl_invocations(line))
    assert [args[0] for args in invocations][:2] == ["demo", "list"]
    assert invocations[-1][0] == "end"
    for args in invocations:
        result = invoke(*args)
        assert result.exit_code == 0, f"collabctl {' '.join(args)}: {result.stderr}"


def test_readme_test_command_is_the_one_ci_runs() -> None:
    lines = _read(CI_RUN).splitlines()
    marker = next(i for i, line in enumerate(lines) if "README's test command, exactly" in line)
    command = lines[marker + 1].strip()
    assert command.startswith("python -m pip install")
    readme = _read(README)
    assert f". .venv/bin/activate && {command}" in readme


def _slug(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_links_between_documents_resolve() -> None:
    problems = []
    for path in _doc_files():
        text = _read(path)
        anchors = {_slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            if file and not (path.parent / file).exists():
                problems.append(f"{path.name}: {target}: no such file")
            elif not file and anchor not in anchors:
                problems.append(f"{path.name}: {target}: no such heading")
    assert not problems, "\n".join(problems)


# -- the support guide ----------------------------------------------------------------


@dataclass
class Example:
    command: str
    output: list[str] = field(default_factory=list)


def guide_examples(text: str) -> list[Example]:
    """The `$ ` lines of the ```console blocks, each with the lines it printed."""
    examples: list[Example] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("```"):
            inside = line.strip() == "```console"
        elif inside and line.startswith("$ "):
            examples.append(Example(line[2:]))
        elif inside:
            examples[-1].output.append(line)
    return examples


_TIMES = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"), "<time>"),
    (re.compile(r"\d{8}T\d{6,}Z"), "<time>"),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d"), "<minute>"),
    (re.compile(r"\d{4}-\d\d-\d\d"), "<date>"),
]


def normalise(lines: list[str]) -> list[str]:
    """Times change with every run; everything else must match."""
    text = "\n".join(line.rstrip() for line in lines).strip("\n")
    for pattern, replacement in _TIMES:
        text = pattern.sub(replacement, text)
    return text.split("\n") if text else []


def run_guide(text: str, workdir: Path, setenv: Any) -> Iterator[tuple[Example, list[str]]]:
    """Run the guide's examples in order in ``workdir``; yield each with what it printed."""
    for example in guide_examples(text):
        words = shlex.split(example.command)
        if words[0] == "export":
            for pair in words[1:]:
                name, _, value = pair.partition("=")
                if name == "COLLABCTL_HOME":
                    assert value == "$PWD/home", "the guide keeps its data in $PWD/home"
                else:
                    setenv(name, value)
            yield example, example.output
            continue
        assert words[0] == "collabctl", f"the guide runs only collabctl: {example.command}"
        args = []
        for word in words[1:]:
            args += sorted(glob.glob(word)) if "*" in word else [word]
        result = invoke(*args)
        printed = (result.stdout + result.stderr).replace(str(workdir), GUIDE_DIR)
        yield example, printed.rstrip("\n").split("\n") if printed.strip() else []


def test_guide_examples_print_what_the_guide_shows(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the autouse fixture runs each test in tmp_path with COLLABCTL_HOME=tmp_path/home,
    # which is the guide's `cd DIR; export COLLABCTL_HOME=$PWD/home`
    assert home == tmp_path / "home"
    monkeypatch.setenv("LOGNAME", GUIDE_LOGIN)
    # db_user on SQLite is the account of the real uid: the guide shows one on any machine
    monkeypatch.setattr("collabctl.store.statements.os_login", lambda: GUIDE_LOGIN)
    text = _read(GUIDE)
    ran = 0
    problems = []
    for example, printed in run_guide(text, tmp_path, monkeypatch.setenv):
        ran += 1
        if normalise(printed) != normalise(example.output):
            shown = "\n".join(printed)
            problems.append(f"$ {example.command}\nprints:\n{shown}")
    assert ran > 20
    assert not problems, (
        f"{GUIDE} shows output the commands no longer print; check the change is meant, "
        "then update it with: python tests/test_docs.py --update-guide\n\n" + "\n\n".join(problems)
    )


INTERACTIVE_START = "```text\n$ collabctl end\n"
DOWN, ENTER = "\x1b[B", "\r"
#: What the agent in the guide's transcript types: (wait for this text, then type this).
TRANSCRIPT_KEYS = [
    ("Company (type to search", "1002"),
    ("1002  Snickeri Norr AB", ENTER),
    ("Who is ending the collaboration?", DOWN),
    ("» the accounting office", ENTER),
    ("Fix it now?", ENTER),
    ("afterwards?", DOWN),
    ("» deactivate", ENTER),
    ("When does the collaboration end?", ENTER),
    ("Reason (optional", ENTER),
    ("(y/N)", "y"),
]


def test_guide_interactive_transcript_is_real() -> None:
    text = _read(GUIDE)
    transcript = text.split(INTERACTIVE_START, 1)[1].split("\n```", 1)[0].splitlines()
    assert len(transcript) > 10
    result = invoke("demo")
    assert result.exit_code == 0, result.stderr

    terminal = Terminal("end", size=(50, 200))
    for wanted, keys in TRANSCRIPT_KEYS:
        terminal.answer(wanted, keys)
    assert terminal.finish() == 0, terminal.text

    # questionary redraws in place: each line of the transcript must be on the screen,
    # in the guide's order
    screen, at = terminal.text, 0
    for line in transcript:
        found = screen.find(line + "\n", at)  # the whole line, not a prefix of it
        assert found >= 0, (
            f"{GUIDE}: the interactive transcript shows\n    {line}\n"
            f"which the terminal did not (in that order); it showed:\n{screen[at:]}"
        )
        at = found + len(line)


def update_guide() -> None:
    """Rewrite the output in the guide's console blocks with what the commands print now."""
    text = _read(GUIDE)
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        os.chdir(workdir)
        for name in [n for n in os.environ if n.startswith("COLLABCTL_")]:
            del os.environ[name]
        os.environ["COLLABCTL_HOME"] = str(workdir / "home")
        os.environ["LOGNAME"] = GUIDE_LOGIN
        import collabctl.store.statements

        collabctl.store.statements.os_login = lambda: GUIDE_LOGIN
        # output that differs only in its times is kept, so the diff shows what changed
        outputs = [
            example.output if normalise(printed) == normalise(example.output) else printed
            for example, printed in run_guide(text, workdir, os.environ.__setitem__)
        ]
    lines, out = text.splitlines(), []
    inside, index = False, 0
    for line in lines:
        if line.startswith("```"):
            inside = line.strip() == "```console"
            out.append(line)
        elif inside and line.startswith("$ "):
            out.append(line)
            out += [o.rstrip() for o in outputs[index]]
            index += 1
        elif not inside:
            out.append(line)
    GUIDE.write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"updated {GUIDE}: {index} examples")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update-guide"]:
        sys.exit("usage: python tests/test_docs.py --update-guide")
    update_guide()
