"""What the README promises about the terminal holds (SPEC §8.4): the JSON shapes it
names, the absolute SQLite path and its hint, and a --version that the CHANGELOG knows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import collabctl
from helpers import CLI, error_of, invoke, sqlite_only

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text("utf-8")


def test_the_version_is_the_newest_release_in_the_changelog() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text("utf-8")
    released = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", changelog, re.M)
    assert released and released[0] == collabctl.__version__
    assert invoke("--version").stdout.strip() == f"collabctl {collabctl.__version__}"


LISTS = [
    ("list",),
    ("log",),
    ("user", "list", "1001"),
    ("notify", "list"),
    ("doctor",),
]
OBJECTS = [("show", "1001"), ("log", "--verify"), ("db", "current")]


# the shape of what was read: db current (the schema's revision) on both backends, the
# others on SQLite
@pytest.mark.parametrize(
    ("backend", "command"),
    [
        *(pytest.param("sqlite", c, id="sqlite-" + " ".join(c)) for c in LISTS + OBJECTS),
        pytest.param("postgres", ("db", "current"), id="postgres-db current"),
    ],
    indirect=["backend"],
)
def test_the_json_shapes_the_readme_names(demo: CLI, command: tuple[str, ...]) -> None:
    shape = list if command in LISTS else dict
    name = " ".join(w for w in command if not w.isdigit())
    section = README.split("With `json`, a command that prints records prints a list:")[1]
    lists_named, objects_named = section.split("Every other command", 1)
    objects_named = objects_named.split("An error is")[0]
    named = lists_named if shape is list else objects_named
    assert f"`{name}`" in " ".join(named.split()), name
    assert isinstance(demo(*command, "--format", "json").json(), shape)


@sqlite_only  # it runs on SQLite URLs of its own
def test_an_absolute_sqlite_path_has_four_slashes(demo: CLI, tmp_path: Path) -> None:
    target = tmp_path / "abs.db"
    assert invoke("db", "upgrade", "--database-url", f"sqlite:///{target}").exit_code == 0
    assert "sqlite:////" in README
    listed = invoke("list", "--database-url", f"sqlite:///{target}", "--format", "json")
    assert listed.exit_code == 0 and listed.json() == []
    # three slashes: a path relative to here, with a hint naming the four-slash URL
    relative = f"sqlite://{target}"
    run = invoke("list", "--database-url", relative, "--format", "json")
    error = error_of(run, "database-unavailable", 3)
    assert f"sqlite:///{target}" in error["hint"] and "four slashes" in error["hint"]


def test_the_readme_commands_in_its_text_run_as_written(demo: CLI) -> None:
    import shlex

    text = " ".join(README.split())
    spans = set(re.findall(r"`(collabctl [^`]+)`", text))
    runnable = [s for s in spans if not re.search(r"\b[A-Z]{2,}\b|install-completion|\.\.\.", s)]
    assert "collabctl list --fields customer_number,service --format csv" in runnable
    assert "collabctl list --as office:556677-8899" in runnable
    for span in sorted(runnable):
        run = demo(*shlex.split(span)[1:])
        assert run.exit_code == 0, (span, run.output)
