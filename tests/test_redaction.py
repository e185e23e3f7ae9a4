"""No database password is ever printed: every URL shape, from every source, in every command.

URLs are parsed (SQLAlchemy's parser, with the user part ending at the last "@"
before the host) and shown with the password hidden; text that came from a
driver is scrubbed of the password in the forms it may take there.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from collabctl import config
from helpers import Run, invoke, run_process

#: unreachable: nothing listens on port 1, so every command gets a driver error
HOST = "127.0.0.1:1"


def _shapes() -> list[tuple[str, str, tuple[str, ...], str]]:
    """(id, URL, text that must never be shown, how the URL is shown)."""
    return [
        (
            "raw-space",
            f"postgresql://agent2:zz_secret_zz abc@{HOST}/db",
            ("zz_secret_zz abc", "zz_secret_zz", "secret_zz abc", "zz_secret_zz%20abc"),
            f"postgresql://agent2:***@{HOST}/db",
        ),
        (
            "raw-at-hash-percent",
            f"postgresql://agent:S3cr3t!Pw@rd#%x@{HOST}/db",
            ("S3cr3t!Pw@rd#%x", "S3cr3t", "rd#%x", "Pw@rd", "S3cr3t%21Pw"),
            f"postgresql://agent:***@{HOST}/db",
        ),
        (
            "percent-encoded",
            f"postgresql://u:p%40ss%3Aw0rd%20x@{HOST}/db",
            ("p%40ss%3Aw0rd%20x", "p@ss:w0rd x", "p@ss", "w0rd"),
            f"postgresql://u:***@{HOST}/db",
        ),
        (
            "query-string",
            f"postgresql://agent@{HOST}/db?password=qs_s3cret_pw&sslmode=disable",
            ("qs_s3cret_pw",),
            f"postgresql://agent@{HOST}/db?password=***&sslmode=disable",
        ),
        (
            # the most common password there is: hidden as a word, without eating
            # the words it is part of ("postgresql")
            "common-word",
            f"postgresql://agent:postgres@{HOST}/db",
            (),
            f"postgresql://agent:***@{HOST}/db",
        ),
    ]


SHAPES = _shapes()
COMMANDS = [
    ["doctor", "--format", "json"],
    ["doctor"],
    ["db", "current"],
    ["db", "upgrade", "--format", "json"],
    ["list"],
    ["list", "--format", "json"],
    ["show", "1001"],
]


def leaked(output: str, forbidden: tuple[str, ...], url: str) -> list[str]:
    found = [text for text in forbidden if text in output]
    password = config.url_password(url)
    if password and re.search(rf"(?<!\w){re.escape(password)}(?!\w)", output):
        found.append(password)
    return found


def by_source(source: str, url: str, home: Path) -> tuple[list[str], dict[str, str]]:
    """The global options and environment that give ``url`` from ``source``."""
    if source == "option":
        return ["--database-url", url], {}
    if source == "environment":
        return [], {"COLLABCTL_DATABASE_URL": url}
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    # a TOML literal string: the URL exactly as typed, raw characters included
    (home / "config.toml").write_text(f"database_url = '{url}'\n", encoding="utf-8")
    (home / "config.toml").chmod(0o600)
    return [], {}


@pytest.mark.parametrize("source", ["option", "environment", "config"])
@pytest.mark.parametrize(("shape", "url", "forbidden", "shown"), SHAPES, ids=[s[0] for s in SHAPES])
def test_no_command_shows_the_password(
    home: Path, source: str, shape: str, url: str, forbidden: tuple[str, ...], shown: str
) -> None:
    options, env = by_source(source, url, home)
    for command in COMMANDS:
        result = invoke(*options, *command, env=env)
        assert result.exit_code == 3, (command, result.output)
        assert "error[internal]" not in result.output, command
        assert not leaked(result.output, forbidden, url), (command, result.output)
        if command[0] != "doctor":
            assert result.stderr.startswith("error[database-unavailable]: "), result.stderr
            # the hint that fits a server that cannot be reached
            assert "check the URL (host, port, user," in result.hint()
    checks = {c["check"]: c for c in invoke(*options, "doctor", "--format", "json", env=env).json()}
    assert checks["database-url"]["detail"] == f"{shown} (from {source})"


@pytest.mark.parametrize(("shape", "url", "forbidden", "shown"), SHAPES, ids=[s[0] for s in SHAPES])
def test_the_url_is_parsed_and_shown_with_its_password_hidden(
    shape: str, url: str, forbidden: tuple[str, ...], shown: str
) -> None:
    parsed = config.parse_url(url)
    assert parsed.display == shown
    assert parsed.url is not None
    # the password is all of what stands between the user and the host
    assert parsed.url.host == "127.0.0.1"
    assert parsed.url.port == 1
    assert parsed.url.database == "db"
    assert (
        parsed.password
        == {
            "raw-space": "zz_secret_zz abc",
            "raw-at-hash-percent": "S3cr3t!Pw@rd#%x",
            "percent-encoded": "p@ss:w0rd x",
            "query-string": "qs_s3cret_pw",
            "common-word": "postgres",
        }[shape]
    )
    for text in forbidden:
        assert text not in parsed.display
    # each form the password may take in a message is scrubbed
    for secret in parsed.secrets:
        assert config.redact(f"failed for {secret}: no", parsed.secrets) == "failed for ***: no"


def test_a_url_without_a_password_is_shown_as_typed() -> None:
    for url in (
        f"postgresql://agent@{HOST}/db",
        "postgres://db.internal/collabctl?sslmode=verify-full",
        "sqlite:////srv/shared/team@office.db",
        "sqlite:///relative/x y.db",
    ):
        parsed = config.parse_url(url)
        assert parsed.display == url
        assert parsed.secrets == ()


def test_a_url_that_cannot_be_parsed_shows_only_its_scheme() -> None:
    result = invoke("--database-url", "postgresql://agent:S3cr3t@host:notaport/db", "list")
    assert result.exit_code == 2
    assert "error[invalid-input]: not a database URL: postgresql://…" in result.stderr
    assert "S3cr3t" not in result.output
    assert config.url_secrets("postgresql://agent:S3cr3t@host:notaport/db") == ("S3cr3t",)


@pytest.mark.parametrize("port", ["0", "65536", "99999999"])
def test_a_port_out_of_range_is_refused_before_any_name_lookup(
    port: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    def no_lookup(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a name lookup for a URL with port {port}")

    monkeypatch.setattr(socket, "getaddrinfo", no_lookup)
    url = f"postgresql://agent:S3cr3t@db.example:{port}/db"
    result = invoke("--database-url", url, "list")
    assert result.exit_code == 2, result.output
    assert "error[invalid-input]: not a database URL: postgresql://…" in result.stderr
    assert "S3cr3t" not in result.output
    assert config.url_secrets(url) == ("S3cr3t",)


def test_without_a_password_no_command_hides_anything() -> None:
    url = f"postgresql://agent@{HOST}/db"
    result = invoke("--database-url", url, "list")
    assert result.exit_code == 3
    assert f"cannot use the database {url}: " in result.stderr


@pytest.mark.parametrize(("shape", "url", "forbidden", "shown"), SHAPES, ids=[s[0] for s in SHAPES])
def test_a_real_process_with_debug_output_shows_no_password(
    shape: str, url: str, forbidden: tuple[str, ...], shown: str
) -> None:
    result = run_process("list", env={"COLLABCTL_DATABASE_URL": url, "COLLABCTL_DEBUG": "1"})
    assert result.exit_code == 3, result.output
    assert not leaked(result.output, forbidden, url), result.output


# -- a real server: the password works, and is still never shown ------------------------------

_roles = itertools.count()

PASSWORDS = [
    ("raw-space", "zz_secret_zz abc", ("zz_secret_zz",)),
    ("raw-at-hash-percent", "S3cr3t!Pw@rd#%x", ("S3cr3t", "rd#%x")),
]


@pytest.mark.parametrize("source", ["option", "environment", "config"])
@pytest.mark.parametrize(("shape", "password", "parts"), PASSWORDS, ids=[p[0] for p in PASSWORDS])
def test_a_raw_password_connects_and_the_schema_hint_can_be_pasted(
    pg_server: Any,
    home: Path,
    source: str,
    shape: str,
    password: str,
    parts: tuple[str, ...],
) -> None:
    from psycopg import sql

    server = pg_server
    role = f"redact_{os.getpid()}_{next(_roles)}"
    admin = server.admin()
    admin.execute(
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(password)
        )
    )
    admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(*[sql.Identifier(role)] * 2))
    try:
        # typed raw, as people paste it: "@", "#", "%" and the space not encoded
        url = f"postgresql://{role}:{password}@127.0.0.1:{server.port}/{role}"
        options, env = by_source(source, url, home)
        outputs: list[Run] = []

        refused = invoke(*options, "list", env=env)
        outputs.append(refused)
        assert refused.exit_code == 3, refused.output
        assert "error[schema-outdated]: the database schema is empty" in refused.stderr
        # a pasted hint must work: no URL with *** in it
        assert "***" not in refused.hint()
        assert "collabctl db upgrade" in refused.hint()

        for command in (["db", "current"], ["doctor", "--format", "json"]):
            outputs.append(invoke(*options, *command, env=env))
        upgraded = invoke(*options, "db", "upgrade", "--format", "json", env=env)
        outputs.append(upgraded)
        assert upgraded.exit_code == 0, upgraded.output
        assert json.loads(upgraded.stdout)["database"] == (
            f"postgresql://{role}:***@127.0.0.1:{server.port}/{role}"
        )
        for command in (["list"], ["demo"], ["doctor"]):
            result = invoke(*options, *command, env=env)
            outputs.append(result)
            assert result.exit_code == 0, (command, result.output)

        wrong = url.replace(password, password + "-wrong")
        wrong_options, wrong_env = by_source(source, wrong, home)
        outputs.append(invoke(*wrong_options, "list", env=wrong_env))
        assert outputs[-1].exit_code == 3
        assert "password" in outputs[-1].hint()

        for result in outputs:
            assert password not in result.output
            for part in parts:
                assert part not in result.output, result.output
            assert "error[internal]" not in result.output
    finally:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(role))
        )
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
