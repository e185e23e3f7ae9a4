"""doctor loads what every other command loads: it fails where they fail, with the same
exit code, and no password from any source ever shows, even when the database URL is
too broken to build a database from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from collabctl.cli.env import Environment
from collabctl.cli.state import State
from helpers import Run, invoke

PASSWORD = "Zq7-secret-pw"
CATALOGUE = '[[services]]\ncode = "tid"\nname = "Tid"\noutcomes = ["continue"]\n'


def write_config(home: Path, text: str, mode: int = 0o600) -> Path:
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = home / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def doctor() -> tuple[Run, dict[str, dict[str, Any]]]:
    result = invoke("doctor", "--format", "json")
    return result, {c["check"]: c for c in result.json()}


# -- doctor and the other commands agree -----------------------------------------------------


def _broken_toml(home: Path) -> str:
    write_config(home, 'database_url = "sqlite:///unterminated\n')
    return f"cannot read the configuration file {home / 'config.toml'}"


def _unknown_key(home: Path) -> str:
    write_config(home, f'databse_url = "sqlite:///{home / "shared.db"}"\n')
    return "unknown setting 'databse_url' in "


def _missing_catalogue(home: Path) -> str:
    write_config(home, 'catalogue = "nowhere.toml"\n')
    return f"the catalogue file {home / 'nowhere.toml'} named in {home / 'config.toml'} does not"


def _invalid_catalogue(home: Path) -> str:
    write_config(home, 'catalogue = "services.toml"\n')
    (home / "services.toml").write_text('[[services]]\ncode = "tid"\n', encoding="utf-8")
    return f"{home / 'services.toml'}: services[0].name: a display name is required"


@pytest.mark.parametrize(
    "make",
    [_broken_toml, _unknown_key, _missing_catalogue, _invalid_catalogue],
    ids=lambda f: f.__name__.strip("_"),
)
def test_list_and_doctor_agree_on_a_configuration_problem(home: Path, make: Any) -> None:
    expected = make(home)
    listed = invoke("list", "--format", "json")
    assert listed.exit_code == 3, listed.output
    assert listed.json()["error"]["code"] == "config-invalid"
    assert f"error[config-invalid]: {expected}" in listed.stderr

    result, checks = doctor()
    assert result.exit_code == listed.exit_code == 3
    assert checks["config"]["ok"] is False
    assert expected in checks["config"]["detail"]
    # the detail says the problem once, not once per layer that passed it on
    assert checks["config"]["detail"].count(expected) == 1
    assert "error[internal]" not in result.output + listed.output


def test_a_misspelt_key_gets_its_did_you_mean_from_both(home: Path) -> None:
    _unknown_key(home)
    listed = invoke("list")
    assert "did you mean 'database_url'?" in listed.stderr
    assert "hint: rename it to database_url" in listed.stderr
    _, checks = doctor()
    assert checks["config"]["detail"].endswith("did you mean 'database_url'?")
    assert not (home / "shared.db").exists()
    assert not (home / "collabctl.db").exists()


def test_a_bad_catalogue_does_not_hide_the_database_checks(home: Path) -> None:
    _missing_catalogue(home)
    result, checks = doctor()
    assert result.exit_code == 3
    assert "fix: fix the `catalogue` setting in" in checks["config"]["detail"]
    # the database is not part of the problem, and doctor still says how it is
    assert checks["database-url"]["ok"] and checks["database"]["ok"] and checks["write"]["ok"]


def test_a_good_catalogue_is_named_with_its_services(home: Path) -> None:
    write_config(home, 'catalogue = "services.toml"\n')
    (home / "services.toml").write_text(CATALOGUE, encoding="utf-8")
    assert invoke("list").exit_code == 0
    result, checks = doctor()
    assert result.exit_code == 0, checks
    detail = checks["config"]["detail"]
    assert detail.startswith(f"{home / 'config.toml'} (read); catalogue {home / 'services.toml'}")
    assert detail.endswith(" services in all)")


# -- passwords in a config.toml others can read --------------------------------------------


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (f'smtp_url = "smtp://mailer:{PASSWORD}@mail.example:587"\n', "the SMTP password"),
        (
            f'database_url = "postgresql://agent:{PASSWORD}@127.0.0.1:1/db"\n'
            f'smtp_url = "smtp://mailer:{PASSWORD}@mail.example:587"\n',
            "a database password and the SMTP password",
        ),
    ],
    ids=["smtp", "both"],
)
def test_a_readable_config_with_an_smtp_password_fails_doctor(
    home: Path, text: str, named: str
) -> None:
    path = write_config(home, text + 'mail_from = "collabctl@byran.se"\n', mode=0o644)
    result, checks = doctor()
    assert result.exit_code == 3
    assert checks["config"] == {
        "check": "config",
        "ok": False,
        "detail": f"{path} holds {named} and others can read it: run chmod 600 {path}",
    }
    assert PASSWORD not in result.output
    assert (path.stat().st_mode & 0o777) == 0o644  # reported, not changed
    path.chmod(0o600)
    _, checks = doctor()
    assert checks["config"]["ok"] is True


# -- a URL too broken to build a database from -----------------------------------------------

MALFORMED = [
    f"postgresql://agent:{PASSWORD}@db.example:notaport/collab",
    f"postgresql://agent:{PASSWORD}@[::1/collab",
    f"mysql://agent:{PASSWORD}@db.example/collab",
    f"postgresql://agent:{PASSWORD} x@db.example:99999999/collab",
]


@pytest.mark.parametrize("url", MALFORMED)
def test_state_secrets_come_from_the_url_when_no_database_was_built(
    url: str, monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    env = Environment(stdin_tty=False, stdout_tty=False, stderr_tty=False)
    assert PASSWORD in "".join(State(env, database_url=url).secrets)
    monkeypatch.setenv("COLLABCTL_DATABASE_URL", url)
    assert PASSWORD in "".join(State(env).secrets)
    monkeypatch.delenv("COLLABCTL_DATABASE_URL")
    write_config(home, f'database_url = "{url}"\n')
    assert PASSWORD in "".join(State(env).secrets)
    # a config.toml that cannot be read still leaves the option's password known
    write_config(home, "database_url = \n")
    assert PASSWORD in "".join(State(env, database_url=url).secrets)


@pytest.mark.parametrize("source", ["option", "environment", "config"])
@pytest.mark.parametrize("url", MALFORMED)
def test_a_malformed_url_never_shows_its_password(home: Path, url: str, source: str) -> None:
    options: list[str] = []
    env: dict[str, str] = {}
    if source == "option":
        options = ["--database-url", url]
    elif source == "environment":
        env = {"COLLABCTL_DATABASE_URL": url}
    else:
        write_config(home, f'database_url = "{url}"\n')
    for command in (["list"], ["show", "1001"], ["db", "current"], ["db", "upgrade"], ["doctor"]):
        for fmt in ("table", "json"):
            result = invoke(*options, *command, "--format", fmt, env=env)
            assert result.exit_code in (2, 3), (command, result.output)
            assert PASSWORD not in result.output, (command, result.output)
            assert "Traceback" not in result.output
            assert "error[internal]" not in result.output
