"""The day ``end --at`` names and the instant the end is due: pure rules, no database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from collabctl.domain.errors import ConfigInvalid, InvalidInput
from collabctl.domain.schedule_dates import end_day, zone

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def at(text: str, now: str) -> tuple[str, str]:
    day = end_day(text, now=datetime.fromisoformat(now), tz=STOCKHOLM)
    return day.ends_on.isoformat(), day.due_text


def test_a_day_in_winter_is_due_at_2300_utc_and_in_summer_at_2200() -> None:
    now = "2027-01-10T12:00:00+00:00"
    assert at("2027-01-31", now) == ("2027-01-31", "2027-01-31T23:00:00.000000Z")
    assert at("2027-06-30", now) == ("2027-06-30", "2027-06-30T22:00:00.000000Z")
    # the last day before summer time starts (28 March 2027): midnight is still +01:00
    assert at("2027-03-27", now)[1] == "2027-03-27T23:00:00.000000Z"
    # on the day summer time starts, the next midnight is +02:00
    assert at("2027-03-28", now)[1] == "2027-03-28T22:00:00.000000Z"
    # and on the day it ends (31 October 2027) the next midnight is +01:00 again
    assert at("2027-10-30", now)[1] == "2027-10-30T22:00:00.000000Z"
    assert at("2027-10-31", now)[1] == "2027-10-31T23:00:00.000000Z"


def test_month_end_and_year_end() -> None:
    assert at("month-end", "2027-02-10T12:00:00+00:00")[0] == "2027-02-28"
    assert at("month-end", "2028-02-10T12:00:00+00:00")[0] == "2028-02-29"
    assert at("year-end", "2027-02-10T12:00:00+00:00") == (
        "2027-12-31",
        "2027-12-31T23:00:00.000000Z",
    )


def test_on_the_last_day_month_end_means_next_month_and_year_end_next_year() -> None:
    # 22:30 UTC on 31 January is 23:30 on 31 January in Stockholm
    assert at("month-end", "2027-01-31T22:30:00+00:00")[0] == "2027-02-28"
    # 23:30 UTC on 31 January is already 1 February in Stockholm
    assert at("month-end", "2027-01-31T23:30:00+00:00")[0] == "2027-02-28"
    assert at("month-end", "2027-01-30T12:00:00+00:00")[0] == "2027-01-31"
    assert at("year-end", "2027-12-31T12:00:00+00:00")[0] == "2028-12-31"


def test_today_is_not_in_the_future_but_tomorrow_is() -> None:
    now = "2027-01-10T12:00:00+00:00"
    assert at("2027-01-11", now)[0] == "2027-01-11"
    for text in ("2027-01-10", "2027-01-09", "2020-01-01"):
        with pytest.raises(InvalidInput, match="must be in the future"):
            at(text, now)
    # "today" is the day in Stockholm: at 23:30 UTC on the 10th it is already the 11th there
    with pytest.raises(InvalidInput, match="today is 2027-01-11 in Europe/Stockholm"):
        at("2027-01-11", "2027-01-10T23:30:00+00:00")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2027-02-30", "no such day in the calendar"),
        ("2027-13-01", "no such day in the calendar"),
        ("yesterday", "not a date"),
        ("tomorrow", "not a date"),
        ("31/01/2027", "not a date"),
        ("2027-1-31", "not a date"),
        ("", "not a date"),
        ("2027-01-31T10:00", "a time is not a date"),
        ("2027-01-31 10:00", "a time is not a date"),
    ],
)
def test_what_is_not_a_day_is_invalid_input_saying_why(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as raised:
        at(text, "2027-01-10T12:00:00+00:00")
    assert raised.value.hint


def test_another_time_zone_moves_the_instant() -> None:
    day = end_day("2027-01-31", now=datetime(2027, 1, 10, tzinfo=UTC), tz=zone("America/New_York"))
    assert day.ends_on == date(2027, 1, 31)
    assert day.due_text == "2027-02-01T05:00:00.000000Z"


@pytest.mark.parametrize("name", ["Europe/Stockhom", "Mars/Olympus", "../../etc/passwd", "", 5])
def test_an_unknown_time_zone_is_config_invalid(name: object) -> None:
    with pytest.raises(ConfigInvalid) as raised:
        zone(name)
    assert raised.value.code == "config-invalid"
    assert "Europe/Stockholm" in (raised.value.hint or "")
