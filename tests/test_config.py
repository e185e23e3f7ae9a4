"""Which database collabctl uses: option > environment > config.toml > embedded default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from collabctl import config
from collabctl.domain.errors import InvalidInput
from helpers import invoke

run = invoke  # on whatever database the configuration picks (no backend fixture)


def doctor(*options: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    result = run(*options, "doctor", "--format", "json", env=env)
    checks = {c["check"]: c for c in result.json()}
    return result.exit_code, checks


def write_config(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(text, encoding="utf-8")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {name: tmp_path / "dbs" / f"{name}.db" for name in ("option", "environment", "config")}


def url(path: Path) -> str:
    return f"sqlite:///{path}"


def test_embedded_default_lives_in_collabctl_home(home: Path) -> None:
    code, checks = doctor()
    assert code == 0, checks
    assert checks["database-url"]["detail"] == f"{url(home / 'collabctl.db')} (from default)"
    assert checks["config"]["ok"]
    assert "not present" in checks["config"]["detail"]
    assert (home / "collabctl.db").is_file()
    assert all(c["ok"] for c in checks.values())


def test_config_file_beats_the_default(home: Path, files: dict[str, Path]) -> None:
    write_config(home, f'database_url = "{url(files["config"])}"\n')
    code, checks = doctor()
    assert checks["config"]["ok"]
    assert f"{home / 'config.toml'} (read)" == checks["config"]["detail"]
    assert checks["database-url"]["detail"] == f"{url(files['config'])} (from config)"
    assert files["config"].exists()
    assert not (home / "collabctl.db").exists()
    # a configured database is not the embedded one: it is never migrated implicitly
    assert code == 3
    assert not checks["schema"]["ok"]
    assert "db upgrade" in checks["schema"]["detail"]

    upgraded = run("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.stderr
    code, checks = doctor()
    assert code == 0, checks
    assert not (home / "collabctl.db").exists()


def test_environment_beats_the_config_file(
    home: Path, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(home, f'database_url = "{url(files["config"])}"\n')
    monkeypatch.setenv("COLLABCTL_DATABASE_URL", url(files["environment"]))
    _, checks = doctor()
    assert checks["database-url"]["detail"] == f"{url(files['environment'])} (from environment)"
    assert files["environment"].exists()
    assert not files["config"].exists()
    assert not (home / "collabctl.db").exists()


def test_option_beats_everything(
    home: Path, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(home, f'database_url = "{url(files["config"])}"\n')
    monkeypatch.setenv("COLLABCTL_DATABASE_URL", url(files["environment"]))
    _, checks = doctor("--database-url", url(files["option"]))
    assert checks["database-url"]["detail"] == f"{url(files['option'])} (from option)"
    assert files["option"].exists()
    assert not files["environment"].exists()
    assert not files["config"].exists()
    assert not (home / "collabctl.db").exists()


def test_the_chosen_database_holds_the_data(
    home: Path, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    option = url(files["option"])
    assert run("--database-url", option, "db", "upgrade").exit_code == 0
    assert run("--database-url", option, "demo").exit_code == 0
    listed = run("--database-url", option, "list", "--format", "json")
    assert len(listed.json()) == 12
    # the embedded default is another, empty database
    assert run("list", "--format", "json").json() == []
    monkeypatch.setenv("COLLABCTL_DATABASE_URL", option)
    assert len(run("list", "--format", "json").json()) == 12


def test_empty_environment_variable_falls_through(
    home: Path, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(home, f'database_url = "{url(files["config"])}"\n')
    monkeypatch.setenv("COLLABCTL_DATABASE_URL", "")
    _, checks = doctor()
    assert checks["database-url"]["detail"].endswith("(from config)")


def test_config_without_database_url_uses_the_default(home: Path) -> None:
    write_config(home, "# nothing set\n")
    code, checks = doctor()
    assert code == 0
    assert checks["database-url"]["detail"].endswith("(from default)")
    assert checks["config"]["ok"]


def test_broken_config_file_is_reported_with_its_path(home: Path) -> None:
    write_config(home, 'database_url = "sqlite:///unterminated\n')
    code, checks = doctor()
    assert code == 3
    assert not checks["config"]["ok"]
    assert str(home / "config.toml") in checks["config"]["detail"]
    assert "database-url" not in checks  # nothing after a broken configuration is trusted

    result = run("list")
    assert result.exit_code != 0
    assert f"cannot read the configuration file {home / 'config.toml'}" in result.stderr
    assert "hint: fix the file" in result.stderr
    assert "Traceback" not in result.stderr


def test_database_url_must_be_a_string(home: Path) -> None:
    write_config(home, "database_url = 5\n")
    result = run("list")
    assert result.exit_code == 2
    assert "error[invalid-input]: database_url in" in result.stderr
    assert "must be a string" in result.stderr


@pytest.mark.parametrize(
    ("bad_url", "message"),
    [
        ("mysql://u@h/db", "unsupported database 'mysql'"),
        ("sqlite://", "an in-memory SQLite database"),
        ("sqlite:///:memory:", "an in-memory SQLite database"),
        ("not a url", "not a database URL"),
    ],
)
def test_unusable_urls_are_configuration_errors(bad_url: str, message: str) -> None:
    result = run("--database-url", bad_url, "list")
    assert result.exit_code == 2
    assert f"error[invalid-input]: {message}" in result.stderr
    assert "hint:" in result.stderr


# -- the functions behind it ----------------------------------------------------------------


def test_resolve_database_url_order(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from_config = {"database_url": "sqlite:///c.db"}
    default = config.resolve_database_url(None, {})
    assert (default.url, default.source, default.embedded) == (
        f"sqlite:///{home / 'collabctl.db'}",
        "default",
        True,
    )
    resolved = config.resolve_database_url(None, from_config)
    assert (resolved.source, resolved.embedded) == ("config", False)
    monkeypatch.setenv("COLLABCTL_DATABASE_URL", "sqlite:///e.db")
    assert config.resolve_database_url(None, from_config).url == "sqlite:///e.db"
    assert config.resolve_database_url("sqlite:///o.db", from_config).url == "sqlite:///o.db"
    monkeypatch.delenv("COLLABCTL_DATABASE_URL")
    with pytest.raises(InvalidInput):
        config.resolve_database_url(None, {"database_url": ["x"]})


def test_collabctl_home_replaces_config_and_data_directories(home: Path) -> None:
    assert config.config_dir() == home
    assert config.data_dir() == home
    assert config.config_file() == home / "config.toml"
    assert config.default_database_url() == f"sqlite:///{home / 'collabctl.db'}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://u:s3cret@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgres://u:s3cret@h/db failed", "postgres://u:***@h/db failed"),
        ("postgresql+psycopg://u:@h/db", "postgresql+psycopg://u:***@h/db"),
        ("host=h password=s3cret user=u", "host=h password=*** user=u"),
        ("PASSWORD = 's3 cret' dbname=x", "PASSWORD = *** dbname=x"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
    ],
)
def test_redact_hides_passwords(text: str, expected: str) -> None:
    assert config.redact(text) == expected


def test_url_secrets_include_the_decoded_password() -> None:
    secrets = config.url_secrets("postgresql://u:p%40ss%21@h/db")
    assert set(secrets) == {"p%40ss%21", "p@ss!"}
    assert config.redact("auth failed for p@ss! at h", secrets) == "auth failed for *** at h"
    assert config.url_secrets("postgresql://u@h/db") == ()
