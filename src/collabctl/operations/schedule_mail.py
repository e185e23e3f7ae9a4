"""The notification texts about a scheduled end (``schedule``) and its cancellation
(``schedule-cancel``), in English and Swedish; :mod:`mail_templates` renders them.

They name the last day of the collaboration as ``YYYY-MM-DD``. The end itself,
when a run performs it, is told by the same message as any end.
"""

from __future__ import annotations

EVENTS = ("schedule", "schedule-cancel")

_TEXTS: dict[str, dict[str, dict[str, str] | str]] = {
    "en": {
        "schedule_subject": {
            "main-contact": "{service_name}: your collaboration with {office} will end on {ends_on}",
            "office": "{service_name}: the collaboration with {company} ({number}) will end on "
            "{ends_on}",
        },
        "schedule_body": (
            "The collaboration between {company} (customer {number}) and {office} ({office_org}) "
            "for {service_name} will end on {ends_on}, at the end of the day, at the request "
            "of {party}."
        ),
        "schedule_what_then": "What it will mean: {outcome}",
        "schedule_until": "Until then nothing changes: the office keeps its access.",
        "cancel_subject": {
            "main-contact": "{service_name}: the end of your collaboration with {office} on "
            "{ends_on} is cancelled",
            "office": "{service_name}: the end of the collaboration with {company} ({number}) on "
            "{ends_on} is cancelled",
        },
        "cancel_body": (
            "The end of the collaboration between {company} (customer {number}) and {office} "
            "({office_org}) for {service_name}, planned for {ends_on}, is cancelled. The "
            "collaboration goes on as before."
        ),
    },
    "sv": {
        "schedule_subject": {
            "main-contact": "{service_name}: ert samarbete med {office} avslutas {ends_on}",
            "office": "{service_name}: samarbetet med {company} ({number}) avslutas {ends_on}",
        },
        "schedule_body": (
            "Samarbetet mellan {company} (kundnummer {number}) och {office} ({office_org}) i "
            "{service_name} avslutas {ends_on}, vid dagens slut, på begäran av {party}."
        ),
        "schedule_what_then": "Det kommer att innebära: {outcome}",
        "schedule_until": "Fram till dess ändras ingenting: byrån behåller sin åtkomst.",
        "cancel_subject": {
            "main-contact": "{service_name}: avslutet av ert samarbete med {office} den "
            "{ends_on} är inställt",
            "office": "{service_name}: avslutet av samarbetet med {company} ({number}) den "
            "{ends_on} är inställt",
        },
        "cancel_body": (
            "Avslutet av samarbetet mellan {company} (kundnummer {number}) och {office} "
            "({office_org}) i {service_name}, planerat till {ends_on}, är inställt. "
            "Samarbetet fortsätter som tidigare."
        ),
    },
}


def subject(event: str, ends_on: str | None, role: str, lang: str, fields: dict[str, str]) -> str:
    """The subject of a ``schedule`` or ``schedule-cancel`` message (the notice's ``event``)
    ending on ``ends_on``."""
    key = "schedule_subject" if event == "schedule" else "cancel_subject"
    texts = _TEXTS[lang][key]
    assert isinstance(texts, dict)
    return texts[role].format_map(_with_day(ends_on, fields))


def paragraphs(
    event: str, ends_on: str | None, lang: str, fields: dict[str, str], outcome: str
) -> list[str]:
    """The body's paragraphs; ``outcome``: the sentence that says what the outcome means."""
    texts = _TEXTS[lang]
    values = _with_day(ends_on, fields)
    if event == "schedule-cancel":
        return [str(texts["cancel_body"]).format_map(values)]
    return [
        str(texts["schedule_body"]).format_map(values),
        str(texts["schedule_what_then"]).format(outcome=outcome),
        str(texts["schedule_until"]),
    ]


def _with_day(ends_on: str | None, fields: dict[str, str]) -> dict[str, str]:
    values = {**fields, "ends_on": ends_on or ""}
    values.setdefault("party", fields.get("party") or values["company"])
    return values
