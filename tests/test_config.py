"""Which database collabctl uses: option > environment > config.toml > embedded default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from collabctl import config
from collabctl.domain.errors import ConfigInvalid
from helpers import invoke

run = invoke  # on whatever database the configuration picks (no backend fixture)


def doctor(*options: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    result = run(*options, "doctor", "--format", "json", env=env)
    checks = {c["check"]: c for c in result.json()}
    return result.exit_code, checks


def write_config(home: Path, text: str) -> None:
    # private, as collabctl would have made it (doctor flags a directory others can read)
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
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
    # a database named by URL is never created by a read, doctor included
    assert code == 3
    assert checks["database"]["detail"] == f"no database at {files['config']}"
    assert not files["config"].parent.exists()
    assert not (home / "collabctl.db").exists()

    # `db upgrade` is what creates it; a configured database is never migrated implicitly
    upgraded = run("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.stderr
    assert files["config"].is_file()
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
    assert checks["database"]["detail"] == f"no database at {files['environment']}"
    assert run("db", "upgrade").exit_code == 0
    assert files["environment"].is_file()
    assert not files["config"].exists()
    assert not (home / "collabctl.db").exists()


def test_option_beats_everything(
    home: Path, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(home, f'database_url = "{url(files["config"])}"\n')
    monkeypatch.setenv("COLLABCTL_DATABASE_URL", url(files["environment"]))
    _, checks = doctor("--database-url", url(files["option"]))
    assert checks["database-url"]["detail"] == f"{url(files['option'])} (from option)"
    assert checks["database"]["detail"] == f"no database at {files['option']}"
    assert run("--database-url", url(files["option"]), "db", "upgrade").exit_code == 0
    assert files["option"].is_file()
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
    assert result.exit_code == 3  # the same exit as doctor's
    assert (
        f"error[config-invalid]: cannot read the configuration file {home / 'config.toml'}"
        in result.stderr
    )
    assert "hint: fix the file" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (home / "collabctl.db").exists()


def test_database_url_must_be_a_string(home: Path) -> None:
    write_config(home, "database_url = 5\n")
    result = run("list", "--format", "json")
    assert result.exit_code == 3
    assert "error[config-invalid]: database_url in" in result.stderr
    assert "must be a string" in result.stderr
    assert result.json()["error"]["code"] == "config-invalid"


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
    with pytest.raises(ConfigInvalid):
        config.resolve_database_url(None, {"database_url": ["x"]})


def test_collabctl_home_replaces_config_and_data_directories(home: Path) -> None:
    assert config.config_dir() == home
    assert config.data_dir() == home
    assert config.config_file() == home / "config.toml"
    assert config.default_database_url() == f"sqlite:///{home / 'collabctl.db'}"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:s3cret@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgres://u:s3cret@h/db", "postgres://u:***@h/db"),
        ("postgresql+psycopg://u:@h/db", "postgresql+psycopg://u:***@h/db"),
        (
            "postgresql://u@h/db?password=s3cret&sslmode=require",
            "postgresql://u@h/db?password=***&sslmode=require",
        ),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
    ],
)
def test_display_url_hides_the_password(url: str, shown: str) -> None:
    assert config.display_url(url) == shown


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("host=h password=s3cret user=u", "host=h password=*** user=u"),
        ("PASSWORD = 's3 cret' dbname=x", "PASSWORD = *** dbname=x"),
        ("use postgresql://USER:PASSWORD@HOST/DB", "use postgresql://USER:PASSWORD@HOST/DB"),
    ],
)
def test_redact_hides_password_pairs(text: str, expected: str) -> None:
    assert config.redact(text) == expected


def test_url_secrets_include_the_decoded_password() -> None:
    secrets = config.url_secrets("postgresql://u:p%40ss%21@h/db")
    assert set(secrets) == {"p%40ss%21", "p@ss!"}
    assert config.redact("auth failed for p@ss! at h", secrets) == "auth failed for *** at h"
    assert config.url_secrets("postgresql://u@h/db") == ()


# -- configuration problems: config-invalid, exit 3 ------------------------------------------


def test_an_unknown_key_is_named_with_a_suggestion(home: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared.db"
    write_config(home, f'databse_url = "{url(shared)}"\n')
    expected = (
        f"unknown setting 'databse_url' in {home / 'config.toml'}: did you mean 'database_url'?"
    )
    for command in (["list"], ["db", "current"]):
        result = run(*command, "--format", "json")
        assert result.exit_code == 3, (command, result.stderr)
        assert f"error[config-invalid]: {expected}" in result.stderr
        assert "hint: rename it to database_url" in result.stderr
        assert result.json()["error"]["code"] == "config-invalid"
    code, checks = doctor()
    assert code == 3
    assert checks["config"] == {"check": "config", "ok": False, "detail": expected}
    # the agent is not quietly left on the local file
    assert not (home / "collabctl.db").exists()
    assert not shared.exists()


def test_an_unknown_key_without_a_close_match_lists_the_known_ones(home: Path) -> None:
    write_config(home, 'colour = "never"\n')
    result = run("list")
    assert result.exit_code == 3
    assert "error[config-invalid]: unknown setting 'colour'" in result.stderr
    assert "did you mean" not in result.stderr
    assert "hint: known settings: database_url, catalogue, smtp_url" in result.stderr


def test_a_table_where_a_setting_belongs_is_refused(home: Path) -> None:
    write_config(home, '[database_url]\nurl = "sqlite:///x.db"\n')
    result = run("list")
    assert result.exit_code == 3
    assert "error[config-invalid]: database_url in" in result.stderr


def test_an_unreadable_config_file_is_config_invalid(home: Path) -> None:
    write_config(home, "")
    (home / "config.toml").unlink()
    (home / "config.toml").mkdir()
    result = run("list")
    assert result.exit_code == 3
    assert (
        f"error[config-invalid]: the configuration file {home / 'config.toml'} is a directory"
        in (result.stderr)
    )


def test_a_missing_catalogue_file_fails_every_command_and_doctor(home: Path) -> None:
    write_config(home, 'catalogue = "nowhere.toml"\n')
    expected = (
        f"the catalogue file {home / 'nowhere.toml'} named in {home / 'config.toml'} does not exist"
    )
    for command in (["list"], ["show", "1001"]):
        result = run(*command)
        assert result.exit_code == 3, result.stderr
        assert f"error[config-invalid]: {expected}" in result.stderr
        assert "hint: fix the `catalogue` setting" in result.stderr


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '[[services]]\ncode = "tid"\nname = "Tid"\noutcomes = ["archive"]\n',
            "services[0].outcomes[0]: unknown outcome 'archive'",
        ),
        ('[[services]]\ncode = "tid"\n', "services[0].name: a display name is required"),
        ('services = "tid"\n', "services must be a list"),
        ("[[services]\n", "cannot read the catalogue file"),
    ],
)
def test_an_invalid_catalogue_file_is_config_invalid(home: Path, body: str, message: str) -> None:
    write_config(home, 'catalogue = "services.toml"\n')
    (home / "services.toml").write_text(body, encoding="utf-8")
    result = run("list", "--format", "json")
    assert result.exit_code == 3, result.stderr
    assert result.json()["error"]["code"] == "config-invalid"
    assert message in result.stderr
    assert str(home / "services.toml") in result.stderr


def test_load_catalogue_reads_the_file_beside_config_toml(home: Path) -> None:
    write_config(home, 'catalogue = "more/services.toml"\n')
    (home / "more").mkdir()
    (home / "more" / "services.toml").write_text(
        '[[services]]\ncode = "tid"\nname = "Tid"\noutcomes = ["continue"]\n', encoding="utf-8"
    )
    catalogue = config.load_catalogue(config.load_config_file())
    assert catalogue.get("tid").outcomes == ("continue",)
    assert "eekonomi" in catalogue
    assert "tid" not in config.load_catalogue({})


def test_an_unusable_url_in_config_toml_is_config_invalid(home: Path) -> None:
    write_config(home, 'database_url = "mysql://u@h/db"\n')
    result = run("list")
    assert result.exit_code == 3
    assert (
        f"error[config-invalid]: database_url in {home / 'config.toml'}: unsupported database "
        "'mysql'" in result.stderr
    )
