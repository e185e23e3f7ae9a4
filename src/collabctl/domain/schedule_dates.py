"""When a scheduled end is due: ``--at DATE|month-end|year-end`` in the configured time zone.

A scheduled end takes effect at the end of a calendar day in the time zone of
the business (``timezone`` in config.toml, default ``Europe/Stockholm``): it is
due at 00:00 local time the next day, stored as that instant in UTC. The zone
rules (``zoneinfo``) make this right on both sides of summer time: the end of
30 June in Stockholm is 22:00 UTC, the end of 31 December is 23:00 UTC.

Pure rules, no I/O beyond the zone database: "today" is passed in.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from collabctl.domain.errors import ConfigInvalid, InvalidInput

DEFAULT_TIMEZONE = "Europe/Stockholm"
#: the words --at takes besides a date
PERIOD_ENDS = ("month-end", "year-end")
AT_HINT = "use --at YYYY-MM-DD (a day from tomorrow on), --at month-end or --at year-end"

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d")


@dataclass(frozen=True)
class EndDay:
    """The last day of a collaboration and the instant its end is due."""

    ends_on: date
    due_at: datetime  # aware, UTC

    @property
    def due_text(self) -> str:
        """The due instant in the stored form (``2027-01-31T23:00:00.000000Z``)."""
        return self.due_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def zone(name: object, where: str = "timezone in config.toml") -> ZoneInfo:
    """The time zone a setting names; an unknown one is ``config-invalid``."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigInvalid(
            f"{where}: expected a time zone name", f'e.g. timezone = "{DEFAULT_TIMEZONE}"'
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigInvalid(
            f"{where}: {name!r} is not a time zone collabctl knows",
            f'use an IANA zone name, e.g. timezone = "{DEFAULT_TIMEZONE}"',
        ) from None


def local_today(now: datetime, tz: ZoneInfo) -> date:
    """The calendar day it is at ``now`` (aware) in ``tz``."""
    return now.astimezone(tz).date()


def end_day(text: str, *, now: datetime, tz: ZoneInfo, option: str = "--at") -> EndDay:
    """``--at``: a date, ``month-end`` or ``year-end``, from tomorrow on (in ``tz``)."""
    today = local_today(now, tz)
    value = text.strip() if isinstance(text, str) else ""
    if value == "month-end":
        day = _month_end(today)
        if day == today:  # on the last day of a month: the next month's last day
            day = _month_end(today + timedelta(days=1))
    elif value == "year-end":
        day = date(today.year, 12, 31)
        if day == today:
            day = date(today.year + 1, 12, 31)
    elif _DATE_TIME.match(value):
        raise InvalidInput(
            f"{option} {text}: a time is not a date; an end takes effect at the end of a day",
            f"give the last day alone: {option} {value[:10]}",
        )
    elif _DATE.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise InvalidInput(
                f"{option} {text}: there is no such day in the calendar", AT_HINT
            ) from None
    else:
        raise InvalidInput(f"{option} {text!r}: not a date", AT_HINT)
    if day <= today:
        raise InvalidInput(
            f"{option} {day.isoformat()}: the day must be in the future "
            f"(today is {today.isoformat()} in {tz.key})",
            f"to end now, leave out {option}; to end later: " + AT_HINT,
        )
    return EndDay(day, due_instant(day, tz))


def due_instant(day: date, tz: ZoneInfo) -> datetime:
    """00:00 local time the day after ``day``, in UTC."""
    midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return midnight.astimezone(UTC)


def _month_end(day: date) -> date:
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])
