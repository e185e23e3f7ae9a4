"""The notification texts, in English and Swedish: every word a recipient reads is here.

The change that causes a message stores its facts (:class:`Notice`, as JSON:
:func:`to_facts`) and its language in the outbox; :func:`render` turns them,
for one recipient (the company's main contact or the office), into the subject
and the plain-text body when the message is sent (:func:`subject` alone when it
is listed). The facts keep the names as they were at the change: the catalogue's
service name, the company's and the office's names.

The texts say what happened, to which service (the catalogue's display name),
on whose behalf, what it means for access (one sentence per outcome), the reason
when one was given, and for ``delete`` whether a backup exists and who holds it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from collabctl.domain.errors import CollabError

LANGUAGES = ("en", "sv")
DEFAULT_LANGUAGE = "en"
#: who a message is for: the company's main contact, or the accounting office
ROLES = ("main-contact", "office")
EVENTS = ("start", "end", "main-contact", "schedule", "schedule-cancel")


@dataclass(frozen=True, slots=True)
class Notice:
    """The facts of one change, as the messages about it tell them."""

    event: str  # start | end | main-contact
    at: str  # stored timestamp, 2024-01-31T09:00:00.000000Z
    customer_number: str
    company_name: str
    office_org_number: str
    office_name: str
    actor: str
    #: on whose behalf: "customer" | "office" | None (a support agent acting for neither)
    behalf: str | None = None
    service: str | None = None  # code
    service_name: str | None = None  # the catalogue's display name
    # end
    outcome: str | None = None
    reason: str | None = None
    backup_file: str | None = None
    # main-contact
    contact_email: str | None = None
    contact_name: str | None = None
    previous_contact: str | None = None
    promoted: bool = False
    # schedule, schedule-cancel: the collaboration's last day, YYYY-MM-DD
    ends_on: str | None = None


@dataclass(frozen=True)
class _Texts:
    date: str  # "{date}", "{time}"
    hello: str
    behalf: str  # "{actor}", "{party}"
    by_support: str  # "{actor}"
    done_by: str  # "{actor}": an end names the party in its first sentence
    reason: str
    footer_main_contact: str  # "{company}"
    footer_office: str  # "{office}"
    start_subject: dict[str, str]
    start_body: str
    start_access: str
    end_subject: dict[str, str]
    end_body: str
    end_what_now: str
    outcomes: dict[str, str]
    backup_kept: str  # "{file}", "{actor}"
    backup_none: str
    others_unaffected: str
    contact_subject: str
    contact_body: str
    contact_replaces: str  # "{previous}"
    contact_first: str
    contact_admin: str
    contact_promoted: str  # "{name}"


_EN = _Texts(
    date="{date} at {time} UTC",
    hello="Hello,",
    behalf="Done by {actor} on behalf of {party}.",
    by_support="Done by {actor} at support.",
    done_by="Done by {actor}.",
    reason="Reason given: {reason}",
    footer_main_contact=(
        "This is an automatic message from collabctl to the main contact of {company}.\n"
        "Replies to it are not read."
    ),
    footer_office=(
        "This is an automatic message from collabctl to the accounting office {office}.\n"
        "Replies to it are not read."
    ),
    start_subject={
        "main-contact": "{service_name}: {office} now works with you",
        "office": "{service_name}: collaboration with {company} ({number}) started",
    },
    start_body=(
        "{office} ({office_org}) and {company} (customer {number}) collaborate in "
        "{service_name} from {when}."
    ),
    start_access="The office can now read and change {company}'s information in {service_name}.",
    end_subject={
        "main-contact": "{service_name}: your collaboration with {office} has ended",
        "office": "{service_name}: the collaboration with {company} ({number}) has ended",
    },
    end_body=(
        "The collaboration between {company} (customer {number}) and {office} ({office_org}) "
        "for {service_name} ended on {when}, at the request of {party}."
    ),
    end_what_now="What this means: {outcome}",
    outcomes={
        "continue": (
            "{company} keeps working in {service_name} on its own; {office} no longer has "
            "access to it."
        ),
        "deactivate": (
            "{service_name} is closed for {company}: the existing information can still be "
            "read, but nothing can be changed."
        ),
        "delete": (
            "{service_name} and all its information have been deleted for {company}; this "
            "cannot be undone in the service."
        ),
        "handover": (
            "{company} no longer has access to the online service {service_name}; it continues "
            "in the pay program from the handed-over backup, or through a new collaboration."
        ),
    },
    backup_kept=(
        "A backup of the information was saved before it was deleted ({file}). {actor}, who "
        "ended the collaboration, holds it: ask them for a copy if you need the information."
    ),
    backup_none="No backup was saved before the information was deleted.",
    others_unaffected="Other services and collaborations are not affected.",
    contact_subject="{company}: {contact} is now the main contact",
    contact_body="{contact_name} ({contact}) is now the main contact of {company} (customer {number})",
    contact_replaces=", replacing {previous}.",
    contact_first="; the company had no main contact before.",
    contact_admin="The main contact is always an administrator of the company.",
    contact_promoted="{contact_name} was made administrator for this.",
)

_SV = _Texts(
    date="den {date} kl. {time_sv} UTC",
    hello="Hej,",
    behalf="Utfört av {actor} på uppdrag av {party}.",
    by_support="Utfört av {actor} på supporten.",
    done_by="Utfört av {actor}.",
    reason="Angiven anledning: {reason}",
    footer_main_contact=(
        "Det här är ett automatiskt meddelande från collabctl till huvudkontakten för "
        "{company}.\nSvar på meddelandet läses inte."
    ),
    footer_office=(
        "Det här är ett automatiskt meddelande från collabctl till redovisningsbyrån "
        "{office}.\nSvar på meddelandet läses inte."
    ),
    start_subject={
        "main-contact": "{service_name}: {office} arbetar nu med er",
        "office": "{service_name}: samarbetet med {company} ({number}) har börjat",
    },
    start_body=(
        "{office} ({office_org}) och {company} (kundnummer {number}) samarbetar i "
        "{service_name} från {when}."
    ),
    start_access="Byrån kan nu läsa och ändra uppgifterna för {company} i {service_name}.",
    end_subject={
        "main-contact": "{service_name}: ert samarbete med {office} har avslutats",
        "office": "{service_name}: samarbetet med {company} ({number}) har avslutats",
    },
    end_body=(
        "Samarbetet mellan {company} (kundnummer {number}) och {office} ({office_org}) i "
        "{service_name} avslutades {when}, på begäran av {party}."
    ),
    end_what_now="Det innebär: {outcome}",
    outcomes={
        "continue": (
            "{company} fortsätter att använda {service_name} på egen hand; {office} har inte "
            "längre åtkomst till tjänsten."
        ),
        "deactivate": (
            "{service_name} är avslutad för {company}: befintliga uppgifter går fortfarande "
            "att läsa, men ingenting kan ändras."
        ),
        "delete": (
            "{service_name} och alla uppgifter i tjänsten har raderats för {company}; det går "
            "inte att ångra i tjänsten."
        ),
        "handover": (
            "{company} har inte längre åtkomst till onlinetjänsten {service_name}; arbetet "
            "fortsätter i löneprogrammet utifrån den överlämnade säkerhetskopian, eller genom "
            "ett nytt samarbete."
        ),
    },
    backup_kept=(
        "En säkerhetskopia av uppgifterna sparades innan de raderades ({file}). Den finns hos "
        "{actor}, som avslutade samarbetet: be om en kopia om ni behöver uppgifterna."
    ),
    backup_none="Ingen säkerhetskopia sparades innan uppgifterna raderades.",
    others_unaffected="Övriga tjänster och samarbeten påverkas inte.",
    contact_subject="{company}: {contact} är nu huvudkontakt",
    contact_body="{contact_name} ({contact}) är nu huvudkontakt för {company} (kundnummer {number})",
    contact_replaces=" och ersätter {previous}.",
    contact_first="; företaget hade ingen huvudkontakt tidigare.",
    contact_admin="Huvudkontakten är alltid administratör för företaget.",
    contact_promoted="{contact_name} har därför blivit administratör.",
)

TEXTS: dict[str, _Texts] = {"en": _EN, "sv": _SV}


def language_setting(config: Mapping[str, Any]) -> str:
    """``mail_language`` in config.toml: en (the default) or sv."""
    value = config.get("mail_language", DEFAULT_LANGUAGE)
    if value in TEXTS:
        return str(value)
    raise CollabError(
        f"mail_language in config.toml: {value!r} is not a language collabctl writes",
        f"use one of: {', '.join(LANGUAGES)}",
        code="config-invalid",
    )


#: fields of a Notice that the outbox keeps in columns of their own
_COLUMN_FIELDS = ("event", "at", "customer_number", "office_org_number", "service")
#: the fields of a Notice stored as its facts
_FACT_FIELDS = tuple(f for f in Notice.__dataclass_fields__ if f not in _COLUMN_FIELDS)


def to_facts(notice: Notice) -> str:
    """The facts of ``notice`` as stored in the outbox: JSON of the fields that are set,
    but for those the outbox has columns for (:func:`from_facts` takes them back)."""
    values = {f: getattr(notice, f) for f in _FACT_FIELDS}
    return json.dumps(
        {k: v for k, v in values.items() if v is not None and v is not False},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def from_facts(
    facts: str,
    *,
    event: str,
    at: str,
    customer_number: str,
    office_org_number: str | None,
    service: str | None,
) -> Notice:
    """The Notice an outbox row tells (fields a newer collabctl may have added are left out)."""
    values = json.loads(facts)
    return Notice(
        event=event,
        at=at,
        customer_number=customer_number,
        office_org_number=office_org_number or "",
        service=service,
        **{k: v for k, v in values.items() if k in _FACT_FIELDS},
    )


def subject(notice: Notice, role: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """The subject line alone, e.g. for ``notify list``."""
    t = TEXTS[lang]
    fields = _fields(notice, t)
    if notice.event == "start":
        return t.start_subject[role].format_map(fields)
    if notice.event == "end":
        return t.end_subject[role].format_map(fields)
    if notice.event == "main-contact":
        return t.contact_subject.format_map(fields)
    if notice.event in ("schedule", "schedule-cancel"):
        from collabctl.operations import schedule_mail

        return schedule_mail.subject(notice.event, notice.ends_on, role, lang, fields)
    raise ValueError(f"unknown event {notice.event!r}")


def _fields(notice: Notice, t: _Texts) -> dict[str, str]:
    at = notice.at
    fields = {
        "company": notice.company_name,
        "number": notice.customer_number,
        "office": notice.office_name,
        "office_org": notice.office_org_number,
        "service_name": notice.service_name or notice.service or "",
        "actor": notice.actor,
        "contact": notice.contact_email or "",
        "contact_name": notice.contact_name or notice.contact_email or "",
    }
    fields["when"] = t.date.format(
        date=at[:10], time=at[11:16], time_sv=at[11:16].replace(":", ".")
    )
    if notice.behalf == "customer":
        fields["party"] = notice.company_name
    elif notice.behalf == "office":
        fields["party"] = notice.office_name
    return fields


def render(notice: Notice, role: str, lang: str = DEFAULT_LANGUAGE) -> tuple[str, str]:
    """The subject and plain-text body of the message about ``notice`` to ``role``."""
    t = TEXTS[lang]
    fields = _fields(notice, t)
    title = subject(notice, role, lang)
    if notice.event == "start":
        paragraphs = [t.start_body.format_map(fields), t.start_access.format_map(fields)]
    elif notice.event == "end":
        paragraphs = [t.end_body.format_map(fields)]
        what = t.end_what_now.format(outcome=t.outcomes[notice.outcome or ""].format_map(fields))
        if notice.outcome == "delete":
            what += "\n" + (
                t.backup_kept.format(file=notice.backup_file, actor=notice.actor)
                if notice.backup_file
                else t.backup_none
            )
        paragraphs.append(what)
        if notice.reason:
            paragraphs.append(t.reason.format(reason=notice.reason))
        paragraphs.append(t.others_unaffected)
    elif notice.event == "main-contact":
        first = t.contact_body.format_map(fields) + (
            t.contact_replaces.format(previous=notice.previous_contact)
            if notice.previous_contact
            else t.contact_first
        )
        second = t.contact_admin
        if notice.promoted:
            second += " " + t.contact_promoted.format_map(fields)
        paragraphs = [first, second]
    elif notice.event in ("schedule", "schedule-cancel"):
        from collabctl.operations import schedule_mail

        meaning = t.outcomes.get(notice.outcome or "", "").format_map(fields)
        paragraphs = schedule_mail.paragraphs(notice.event, notice.ends_on, lang, fields, meaning)
    else:
        raise ValueError(f"unknown event {notice.event!r}")
    if notice.event == "end":
        paragraphs.append(t.done_by.format_map(fields))
    else:
        paragraphs.append((t.behalf if "party" in fields else t.by_support).format_map(fields))
    footer = t.footer_main_contact if role == "main-contact" else t.footer_office
    body = "\n\n".join([t.hello, *paragraphs, "-- \n" + footer.format_map(fields)]) + "\n"
    return title, body
