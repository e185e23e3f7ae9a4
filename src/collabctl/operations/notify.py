"""Notifications to both parties: queued with the change, delivered over SMTP later.

Queueing (:func:`queue_main_contact`, and the messages of a start or an end,
which its plan carries: :func:`start_messages`, :func:`end_messages`) runs inside the transaction of
the change, so a change that rolls back leaves no message. Each event gets one message to the company's main contact and one
to each office concerned, in the caller's ``mail_language``; a party without
an address gets a ``no-address`` message, kept as a record, never sent. What a
message stores is the facts of the change; operations/mail_templates.py
renders them into its text when it is listed or sent.

Listing and delivering the messages is operations/delivery.py.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

from collabctl.domain.catalogue import Service
from collabctl.domain.json_text import raw_string as _string
from collabctl.operations.context import Context, now_iso
from collabctl.operations.mail_templates import (
    Notice,
    to_facts,
)
from collabctl.store import outbox
from collabctl.store.outbox import MessagePair, NewMessage
from collabctl.store.statements import Statements

# -- queueing -----------------------------------------------------------------------


def end_facts(
    company_name: str,
    office_name: str,
    actor: str,
    behalf: str,
    service_name: str,
    outcome: str,
    reason: str | None = None,
    backup_file: str | None = None,
) -> str:
    """The facts of an end as JSON, the text :func:`mail_templates.to_facts` writes for
    a Notice of the end (``reason`` and ``backup_file`` only when given). Every item of a bulk end comes
    here, so the text is put together from its strings, the part that is the same for
    every item of a run made once (the same text, tested)."""
    text = (
        f'{{"company_name":{_string(company_name)},"office_name":{_string(office_name)},'
        f"{_end_facts_tail(actor, behalf, service_name, outcome)}"
    )
    if reason is not None:
        text += f',"reason":{_string(reason)}'
    if backup_file is not None:
        text += f',"backup_file":{_string(backup_file)}'
    return text + "}"


@functools.lru_cache(maxsize=64)
def _end_facts_tail(actor: str, behalf: str, service_name: str, outcome: str) -> str:
    return (
        f'"actor":{_string(actor)},"behalf":{_string(behalf)},'
        f'"service_name":{_string(service_name)},"outcome":{_string(outcome)}'
    )


def _behalf(ctx: Context) -> str | None:
    return ctx.party.kind if ctx.party is not None else None


def start_messages(ctx: Context, collaboration: Mapping[str, Any], at: str) -> MessagePair:
    """The messages about a collaboration that starts (``collaboration``: as ``list`` shows
    it), as the start's plan carries them."""
    service = ctx.service(collaboration["service"])
    notice = Notice(
        event="start",
        at=at,
        customer_number=collaboration["customer_number"],
        company_name=collaboration["company_name"],
        office_org_number=collaboration["office_org_number"],
        office_name=collaboration["office_name"],
        actor=ctx.actor,
        behalf=_behalf(ctx),
        service=service.code,
        service_name=service.name,
    )
    return MessagePair(
        at,
        "start",
        notice.customer_number,
        service.code,
        notice.office_org_number,
        ctx.mail_language,
        to_facts(notice),
    )


def end_messages(
    ctx: Context,
    *,
    at: str,
    customer_number: str,
    company_name: str,
    service: Service,
    office_org_number: str,
    office_name: str,
    ended_by: str,
    outcome: str,
    reason: str | None,
    backup_path: str | None,
) -> MessagePair | None:
    """The messages about an ended collaboration, as the end's plan carries them. Every
    item of a bulk end comes here, so the facts are written as they are (what
    :func:`mail_templates.to_facts` makes of the same Notice), and rendered only when
    sent."""
    facts = end_facts(
        company_name,
        office_name,
        ctx.actor,
        ended_by,
        service.name,
        outcome,
        reason,
        None if backup_path is None else os.path.basename(backup_path),
    )
    return MessagePair(
        at, "end", customer_number, service.code, office_org_number, ctx.mail_language, facts
    )


def queue_main_contact(
    sql: Statements,
    ctx: Context,
    *,
    customer_number: str,
    email: str,
    name: str | None,
    previous: str | None,
    promoted: bool,
    at: str | None = None,
) -> None:
    """The messages about a new main contact: to them, and to every office working with
    the company now (none: the main contact's message alone)."""
    at = at or now_iso()
    company_name = outbox.company_name(sql, customer_number)
    offices = outbox.active_offices(sql, customer_number)
    messages = []
    for index, (org, office_name, office_email) in enumerate(offices or [("", "", None)]):
        notice = Notice(
            event="main-contact",
            at=at,
            customer_number=customer_number,
            company_name=company_name,
            office_org_number=org,
            office_name=office_name,
            actor=ctx.actor,
            behalf=_behalf(ctx),
            contact_email=email,
            contact_name=name,
            previous_contact=previous,
            promoted=promoted,
        )
        facts = to_facts(notice)
        if index == 0:
            messages.append(NewMessage("main-contact", email, None, facts))
        if org:
            messages.append(NewMessage("office", office_email, org, facts))
    outbox.queue_messages(
        sql,
        at=at,
        event="main-contact",
        customer_number=customer_number,
        service=None,
        language=ctx.mail_language,
        messages=messages,
    )
