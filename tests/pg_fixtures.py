"""PostgreSQL for the tests: a real throwaway server (see the fixtures below)."""

from __future__ import annotations

import pytest


@pytest.fixture
def pg_database_url() -> str:
    pytest.skip("PostgreSQL test server not set up yet")
