"""Rules the test suite keeps itself to: every test that reaches the PostgreSQL server
carries the ``postgres`` marker, so ``-m 'not postgres'`` runs without a server; and no
module of the suite imports a test module, so running or reading one test module never
drags in another's tests and setup, and a test moves without breaking others."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SUITE = Path(__file__).parent

NO_SERVER_NEEDED = """
import pytest


@pytest.fixture(params=["sqlite", "postgres"])
def unmarked(request):
    if request.param == "postgres":
        return request.getfixturevalue("pg_database_url")
    return request.param


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def marked(request):
    if request.param == "postgres":
        return request.getfixturevalue("pg_database_url")
    return request.param


def test_asks_for_the_server_unmarked(unmarked):
    assert unmarked == "sqlite"


def test_asks_for_the_server_marked(marked):
    assert marked == "sqlite"


def test_names_the_server(pg_database_url):
    assert pg_database_url
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    # no binaries: should any test reach for the server, it is skipped, never started
    monkeypatch.setenv("COLLABCTL_PG_BINDIR", str(pytester.mkdir("no-postgres")))
    monkeypatch.delenv("COLLABCTL_REQUIRE_POSTGRES", raising=False)
    pytester.makepyfile(test_uses_postgres=NO_SERVER_NEEDED)
    return pytester


def test_a_test_reaching_the_server_without_the_marker_fails(suite: pytest.Pytester) -> None:
    result = suite.runpytest_inprocess("-p", "pg_fixtures", "-m", "not postgres")
    # the marked parameter and the test naming a pg_ fixture are left out by the marker;
    # the unmarked parameter is not, and fails before any server is looked for
    result.assert_outcomes(passed=2, errors=1, deselected=2)
    result.stdout.fnmatch_lines(
        [
            "*test_asks_for_the_server_unmarked?postgres? uses the PostgreSQL server but is not marked*"
        ]
    )


# -- no test module imported ------------------------------------------------------------


def imports_of_test_modules(source: str) -> list[tuple[int, str]]:
    """(line, module) of every import of a ``test_*`` module in ``source``: at the top, in a
    function or under ``if TYPE_CHECKING``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module] if node.module else [alias.name for alias in node.names]
        else:
            continue
        found += [(node.lineno, n) for n in names if n.split(".")[0].startswith("test_")]
    return sorted(found)


def test_no_module_of_the_suite_imports_a_test_module() -> None:
    found = [
        f"{path.name}:{line} imports {module}"
        for path in sorted(SUITE.glob("*.py"))
        for line, module in imports_of_test_modules(path.read_text(encoding="utf-8"))
    ]
    assert not found, (
        "a test module is imported by no other: move what several modules share into a "
        "module of its own named for what it holds (not test_*, e.g. tests/process_races.py, "
        "tests/screens.py, or tests/helpers.py when it is small and general) and import it "
        "from there in the test module it came from too: " + "; ".join(found)
    )


def test_the_scan_sees_every_kind_of_import_of_a_test_module() -> None:
    source = """
from __future__ import annotations

from typing import TYPE_CHECKING

import helpers
import test_a
import test_b as b
from test_c import shared
from helpers import test_looking_name
from . import test_d

if TYPE_CHECKING:
    from test_e import Type


def use() -> None:
    import test_f.inner
"""
    assert imports_of_test_modules(source) == [
        (7, "test_a"),
        (8, "test_b"),
        (9, "test_c"),
        (11, "test_d"),
        (14, "test_e"),
        (18, "test_f.inner"),
    ]
