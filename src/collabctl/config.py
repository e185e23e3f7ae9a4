"""Where collabctl keeps its files, what its configuration says, and how database URLs are shown.

Kept free of database and terminal libraries at import time: ``--help`` and
``--version`` import this module. SQLAlchemy's URL parser is imported inside the
functions that read a URL, which only commands that open a database call.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from collabctl.domain.errors import ConfigInvalid, InvalidInput

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from collabctl.domain.catalogue import Catalogue

APP_NAME = "collabctl"
DB_FILENAME = "collabctl.db"

#: Every key config.toml may hold, and what it is. Any other key is refused with a
#: "did you mean": a misspelt ``databse_url`` must not quietly leave an agent on the
#: local file while they believe they work on the shared database.
CONFIG_KEYS: dict[str, str] = {
    "database_url": "the database (after --database-url and COLLABCTL_DATABASE_URL)",
    "catalogue": "a TOML file of extra services, relative to config.toml",
    "smtp_url": "the SMTP server notifications go through (after COLLABCTL_SMTP_URL)",
    "mail_from": "the sender address of notifications (after COLLABCTL_MAIL_FROM)",
    "mail_language": "the language of notifications: en (the default) or sv",
    "notify_expire_hours": "hours a notification may wait undelivered before it fails (72)",
    "timezone": "the time zone of the days end --at names (default Europe/Stockholm)",
}


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


# -- config.toml and the catalogue file ------------------------------------------------------


def read_toml(path: Path, *, what: str, fix: str) -> dict[str, Any] | None:
    """The TOML document at ``path``, or None when there is no such file."""
    try:
        with path.open("rb") as handle:
            import tomllib  # only when there is a file: most commands run without one

            return tomllib.load(handle)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise ConfigInvalid(f"the {what} {path} is a directory, not a file", fix) from None
    except PermissionError:
        raise ConfigInvalid(
            f"cannot read the {what} {path}: permission denied",
            f"make it readable by you (chmod u+r {path}) or {fix}",
        ) from None
    except (ValueError, OSError) as exc:  # tomllib.TOMLDecodeError, or a file not in UTF-8
        raise ConfigInvalid(f"cannot read the {what} {path}: {exc}", fix) from exc


def load_config_file(path: Path | None = None) -> dict[str, Any]:
    """config.toml, checked: every key known, each of the right type. {} when absent."""
    path = path or config_file()
    config = read_toml(
        path,
        what="configuration file",
        fix='fix the file (it is TOML: database_url = "...") or remove it',
    )
    if config is None:
        return {}
    for key, value in config.items():
        if key not in CONFIG_KEYS:
            close = difflib.get_close_matches(key, CONFIG_KEYS, n=1)
            raise ConfigInvalid(
                f"unknown setting {key!r} in {path}"
                + (f": did you mean {close[0]!r}?" if close else ""),
                f"rename it to {close[0]}"
                if close
                else f"known settings: {', '.join(CONFIG_KEYS)}",
                details={"key": key, "path": str(path)},
            )
        if not isinstance(value, str):
            example = {"database_url": '"sqlite:///..."', "catalogue": '"services.toml"'}.get(
                key, '"..."'
            )
            raise ConfigInvalid(
                f"{key} in {path} must be a string",
                f"e.g. {key} = {example}",
            )
    return config


def catalogue_file(config: dict[str, Any]) -> Path | None:
    """The catalogue file config.toml names (relative to config.toml), if it names one."""
    name = config.get("catalogue")
    if not name:
        return None
    return (config_file().parent / Path(str(name)).expanduser()).resolve()


def load_catalogue(config: dict[str, Any]) -> Catalogue:
    """The default services, extended by the catalogue file config.toml names, if any.

    A named file that is missing, unreadable or holds an invalid service is a
    configuration problem (``config-invalid``), reported with the file and field.
    """
    from collabctl.domain.catalogue import Catalogue, service_from_mapping

    catalogue = Catalogue()
    file = catalogue_file(config)
    if file is None:
        return catalogue
    fix = f"fix the `catalogue` setting in {config_file()} or remove it"
    document = read_toml(file, what="catalogue file", fix=fix)
    if document is None:
        raise ConfigInvalid(
            f"the catalogue file {file} named in {config_file()} does not exist", fix
        )
    entries = document.get("services", [])
    if not isinstance(entries, list):
        raise ConfigInvalid(
            f"{file}: services must be a list of [[services]] tables", "see README: catalogue file"
        )
    try:
        services = [
            service_from_mapping(entry, f"{file}: services[{index}]")
            for index, entry in enumerate(entries)
        ]
    except InvalidInput as exc:
        raise ConfigInvalid(exc.message, exc.hint) from None
    return catalogue.extended(services)


# -- which database --------------------------------------------------------------------------


class ResolvedUrl(NamedTuple):
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
            raise ConfigInvalid(
                f"database_url in {config_file()} must be a string",
                'e.g. database_url = "sqlite:///..."',
            )
        return ResolvedUrl(value, "config")
    return ResolvedUrl(default_database_url(), "default")


# -- database URLs as people see them --------------------------------------------------------
#
# A URL is parsed, never searched with a pattern: the password is what the parser
# finds between the user name and the host, and what is shown is the parsed URL
# rendered with its password hidden. Passwords are typed raw as often as encoded
# (`agent:S3cr3t!Pw@rd#%x@host`), so the user part ends at the last "@" before the
# host, not the first: a host never holds an "@". Whatever text came from elsewhere
# (a driver's error) is scrubbed of the password in every form it may take there.

#: shown where a password was
HIDDEN = "***"
#: The word hints use where a password goes; not a secret, so it stays readable.
_PLACEHOLDER = "PASSWORD"
_QUERY_SECRETS = ("password",)
_KV_PASSWORD_RE = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<pw>'(?:[^'\\]|\\.)*'|\S+)", re.I)


class ParsedUrl(NamedTuple):
    """A database URL as typed, as understood, and as it may be shown."""

    raw: str
    #: None when the text cannot be understood as a URL at all
    url: URL | None
    #: the password as the database receives it (from the user part or the query string)
    password: str | None
    #: the password in every form it may appear in text: as typed, decoded, encoded
    secrets: tuple[str, ...]

    @property
    def display(self) -> str:
        """The URL with its password hidden: safe to print, log and put in a hint."""
        if self.url is None:
            scheme, sep, _ = self.raw.partition("://")
            plain = scheme.isascii() and scheme.replace("+", "").replace("-", "").isalnum()
            return f"{scheme}://…" if sep and plain else "…"
        url = self.url
        hidden_query = {k: "QUERYSECRETHIDDEN" for k in _QUERY_SECRETS if k in url.query}
        if url.password is None and not hidden_query:
            return self.raw  # nothing to hide: shown as typed (a path keeps its spelling)
        if hidden_query:
            url = url.update_query_dict(hidden_query)
        text = url.render_as_string(hide_password=True)
        return text.replace("QUERYSECRETHIDDEN", HIDDEN)


def parse_url(raw: str) -> ParsedUrl:
    """Understand ``raw`` as a database URL (SQLAlchemy's parser), whatever its password holds."""
    from urllib.parse import quote, quote_plus, unquote

    from sqlalchemy.engine import make_url

    userinfo, rest = _split_userinfo(raw)
    typed: list[str] = []
    url: URL | None
    try:
        if userinfo is None:
            url = make_url(raw)
        else:
            scheme = raw.partition("://")[0]
            user, colon, password = userinfo.partition(":")
            url = make_url(f"{scheme}://{rest}").set(
                username=unquote(user) or None, password=unquote(password) if colon else None
            )
            if colon:
                typed.append(password)
        if url.port is not None and not 0 < url.port < 65536:
            # refused here, as a port that is no number is: never a name lookup first
            raise ValueError(f"port {url.port} is out of range")
    except Exception:  # sqlalchemy's ArgumentError, or ValueError for a bad port
        url = None
        if userinfo is not None and ":" in userinfo:
            typed.append(userinfo.partition(":")[2])
    passwords = []
    if url is not None:
        if url.password:
            passwords.append(str(url.password))
        for key in _QUERY_SECRETS:
            values = url.query.get(key)
            for value in [values] if isinstance(values, str) else values or ():
                passwords.append(value)
                typed.append(value)
    forms: set[str] = set(typed)
    for password in passwords:
        forms.update({password, quote(password, safe=""), quote_plus(password, safe="")})
    secrets = tuple(sorted((s for s in forms if s and s != _PLACEHOLDER), key=len, reverse=True))
    return ParsedUrl(raw, url, passwords[0] if passwords else None, secrets)


def _split_userinfo(raw: str) -> tuple[str | None, str]:
    """``(user[:password], host-and-after)``, or ``(None, raw)`` for a URL with no user part.

    The user part ends at the first "@" after which the host (up to the next "/" or
    "?") holds no further "@": so an "@", "/", "#", "%", "?" or space typed raw in
    the password stays in the password.
    """
    scheme, sep, after = raw.partition("://")
    if not sep or not scheme or after.startswith("/"):
        return None, raw
    at = after.find("@")
    while at != -1:
        user = after[:at].partition(":")[0]
        if "/" in user:
            return None, raw
        host = after[at + 1 :]
        for stop in "/?":
            host = host.partition(stop)[0]
        if "@" not in host:
            return after[:at], after[at + 1 :]
        at = after.find("@", at + 1)
    return None, raw


def display_url(raw: str) -> str:
    """``raw`` with its password hidden."""
    return parse_url(raw).display


def url_password(url: str) -> str | None:
    """The password a URL carries (in its user part or its query string), decoded."""
    return parse_url(url).password


def url_secrets(url: str) -> tuple[str, ...]:
    """The password in a URL in every form it may show up in a message, longest first."""
    return parse_url(url).secrets


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Scrub known passwords, and ``password=...`` pairs, from text that came from elsewhere.

    A secret is replaced where it stands as a whole token, so that a password that
    is also a common word (``postgres``) does not eat the words around it.
    """
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and secret != _PLACEHOLDER:
            text = _token_re(secret).sub(HIDDEN, text)
    return _KV_PASSWORD_RE.sub(
        # already hidden (a URL's query string as collabctl shows it), or the placeholder
        lambda m: (
            m[0]
            if m["pw"] == _PLACEHOLDER or m["pw"].startswith(HIDDEN)
            else f"{m['head']}{HIDDEN}"
        ),
        text,
    )


def _token_re(secret: str) -> re.Pattern[str]:
    head = r"(?<!\w)" if secret[0].isalnum() or secret[0] == "_" else ""
    tail = r"(?!\w)" if secret[-1].isalnum() or secret[-1] == "_" else ""
    return re.compile(head + re.escape(secret) + tail)
