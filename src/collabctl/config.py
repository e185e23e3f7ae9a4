"""Where collabctl keeps its files, which database it talks to, and how URLs are shown.

Kept free of database and terminal libraries: ``--help`` and ``--version``
import this module.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collabctl.domain.errors import InvalidInput

APP_NAME = "collabctl"
DB_FILENAME = "collabctl.db"


def home_override() -> Path | None:
    value = os.environ.get("COLLABCTL_HOME")
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    """The user data directory (database, backups); ``COLLABCTL_HOME`` replaces it."""
    override = home_override()
    if override is not None:
        return override
    from platformdirs import user_data_path

    return user_data_path(APP_NAME)


def config_dir() -> Path:
    """The user config directory (``config.toml``); ``COLLABCTL_HOME`` replaces it."""
    override = home_override()
    if override is not None:
        return override
    from platformdirs import user_config_path

    return user_config_path(APP_NAME)


def config_file() -> Path:
    return config_dir() / "config.toml"


def backup_dir() -> Path:
    """Where ``delete`` writes its backups; made (private) by the first backup written."""
    return data_dir() / "backups"


def default_database_url() -> str:
    return f"sqlite:///{data_dir() / DB_FILENAME}"


def load_config_file(path: Path | None = None) -> dict[str, Any]:
    path = path or config_file()
    try:
        with path.open("rb") as handle:
            import tomllib  # only when there is a file: most commands run without one

            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (ValueError, OSError) as exc:  # tomllib.TOMLDecodeError, or a file not in UTF-8
        raise InvalidInput(
            f"cannot read the configuration file {path}: {exc}",
            'fix the file (it is TOML: database_url = "...") or remove it',
        ) from exc


@dataclass(frozen=True)
class ResolvedUrl:
    url: str
    source: str  # option | environment | config | default

    @property
    def embedded(self) -> bool:
        return self.source == "default"


def resolve_database_url(option: str | None, config: dict[str, Any] | None = None) -> ResolvedUrl:
    """Option > ``COLLABCTL_DATABASE_URL`` > ``database_url`` in config.toml > embedded SQLite."""
    if option:
        return ResolvedUrl(option, "option")
    env = os.environ.get("COLLABCTL_DATABASE_URL")
    if env:
        return ResolvedUrl(env, "environment")
    config = load_config_file() if config is None else config
    value = config.get("database_url")
    if value:
        if not isinstance(value, str):
            raise InvalidInput(
                f"database_url in {config_file()} must be a string",
                'e.g. database_url = "sqlite:///..."',
            )
        return ResolvedUrl(value, "config")
    return ResolvedUrl(default_database_url(), "default")


_URL_PASSWORD_RE = re.compile(
    r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]*)(?P<at>@)"
)
_KV_PASSWORD_RE = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<pw>'[^']*'|\S+)", re.IGNORECASE)


#: The word hints use where a password goes; not a secret, so it stays readable.
_PLACEHOLDER = "PASSWORD"


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Hide passwords in URLs, ``password=...`` pairs and any known secret string."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _URL_PASSWORD_RE.sub(
        lambda m: m[0] if m["pw"] == _PLACEHOLDER else f"{m['head']}***{m['at']}", text
    )
    return _KV_PASSWORD_RE.sub(lambda m: f"{m['head']}***", text)


def url_password(url: str) -> str | None:
    match = _URL_PASSWORD_RE.search(url)
    if not match or not match["pw"]:
        return None
    from urllib.parse import unquote

    return unquote(match["pw"])


def url_secrets(url: str) -> tuple[str, ...]:
    """The literal password in a URL and its URL-decoded form, to scrub from any message."""
    match = _URL_PASSWORD_RE.search(url)
    if not match or not match["pw"]:
        return ()
    raw = match["pw"]
    decoded = url_password(url) or raw
    return tuple({raw, decoded})
