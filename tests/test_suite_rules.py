"""Rules the test suite keeps itself to: every test that reaches the PostgreSQL server
carries the ``postgres`` marker, so ``-m 'not postgres'`` runs without a server."""

from __future__ import annotations

import pytest

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
