"""Validation of keys and identifiers: customer numbers, organisation numbers, e-mail."""

from __future__ import annotations

import re

from collabctl.domain.errors import InvalidInput

_CUSTOMER_RE = re.compile(r"\d{1,10}")
_ORG_RE = re.compile(r"(\d{6})-?(\d{4})")
# Deliberately simple: one @, no spaces, a dot in the domain. Delivery is not our job.
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

ROLES = ("administrator", "user", "auditor")
#: who a collaboration is ended by: one of its two parties
ENDED_BY = ("customer", "office")


def luhn_valid(digits: str) -> bool:
    """The Luhn mod-10 check over a string of digits (Swedish org and personal numbers)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def customer_number(value: object, field: str = "customer_number") -> str:
    """A customer number: 1–10 digits, kept as a string so leading zeros survive."""
    text = str(value).strip() if value is not None else ""
    if (
        not isinstance(value, str | int)
        or isinstance(value, bool)
        or not _CUSTOMER_RE.fullmatch(text)
    ):
        raise InvalidInput(
            f"{field}: {value!r} is not a customer number",
            "a customer number is 1 to 10 digits, e.g. 1001 or 0042",
        )
    return text


def org_number(value: object, field: str = "org_number") -> str:
    """A Swedish organisation number, accepted with or without the dash, returned with it."""
    text = value.strip() if isinstance(value, str) else ""
    match = _ORG_RE.fullmatch(text)
    if not match:
        raise InvalidInput(
            f"{field}: {value!r} is not an organisation number",
            "write it as NNNNNN-NNNN, e.g. 556036-0793",
        )
    digits = match.group(1) + match.group(2)
    if not luhn_valid(digits):
        raise InvalidInput(
            f"{field}: {text} has a wrong check digit",
            "the last digit is a Luhn mod-10 check over all ten digits; check for a typo",
        )
    return f"{match.group(1)}-{match.group(2)}"


def email(value: object, field: str = "email") -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not _EMAIL_RE.fullmatch(text):
        raise InvalidInput(f"{field}: {value!r} is not an e-mail address", "e.g. anna@example.se")
    return text


def email_key(value: str) -> str:
    """E-mail addresses are compared case-insensitively within a company."""
    return value.strip().casefold()


def role(value: object, field: str = "role") -> str:
    if value not in ROLES:
        raise InvalidInput(f"{field}: {value!r} is not a role", f"use one of: {', '.join(ROLES)}")
    return str(value)


def name(value: object, field: str = "name") -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidInput(f"{field}: a non-empty name is required", None)
    return text
