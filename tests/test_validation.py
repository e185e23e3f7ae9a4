"""Validation of keys and identifiers: pure rules, no database."""

from __future__ import annotations

import pytest

from collabctl.domain import validation
from collabctl.domain.errors import InvalidInput

# -- customer numbers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", "1"),
        ("1001", "1001"),
        ("0042", "0042"),
        ("0000000001", "0000000001"),
        ("9999999999", "9999999999"),
        (" 1001 ", "1001"),
        (1001, "1001"),
    ],
)
def test_customer_number_accepts_one_to_ten_digits_and_keeps_leading_zeros(
    value: object, expected: str
) -> None:
    assert validation.customer_number(value) == expected


@pytest.mark.parametrize(
    "value",
    ["", "   ", "12345678901", "10a1", "abc", "-5", "10 01", "1.5", None, True, False, 1.0, [1]],
)
def test_customer_number_rejects_everything_else(value: object) -> None:
    with pytest.raises(InvalidInput) as info:
        validation.customer_number(value)
    assert info.value.code == "invalid-input"
    assert info.value.exit_code == 2
    assert "customer_number" in info.value.message
    assert info.value.hint and "1 to 10 digits" in info.value.hint


def test_customer_number_error_names_the_field_it_was_given() -> None:
    with pytest.raises(InvalidInput) as info:
        validation.customer_number("x", "companies[3].customer_number")
    assert info.value.message.startswith("companies[3].customer_number:")


# -- organisation numbers ---------------------------------------------------------------


@pytest.mark.parametrize(
    "digits", ["5560360793", "5566778899", "5591234561", "5562345677", "5567890123"]
)
def test_luhn_accepts_real_check_digits(digits: str) -> None:
    assert validation.luhn_valid(digits)


@pytest.mark.parametrize("digits", ["5560360794", "5560360790", "5566778898", "1234567890"])
def test_luhn_rejects_wrong_check_digits(digits: str) -> None:
    assert not validation.luhn_valid(digits)


@pytest.mark.parametrize("value", ["556036-0793", "5560360793", " 556036-0793 ", "5560360793\n"])
def test_org_number_is_accepted_with_or_without_dash_and_stored_with_it(value: str) -> None:
    assert validation.org_number(value) == "556036-0793"


def test_org_number_with_wrong_check_digit_is_rejected_with_a_hint() -> None:
    with pytest.raises(InvalidInput) as info:
        validation.org_number("556036-0794", "office")
    assert info.value.message == "office: 556036-0794 has a wrong check digit"
    assert info.value.hint is not None
    assert "Luhn" in info.value.hint


def test_every_wrong_last_digit_is_caught() -> None:
    wrong = [f"556036-079{d}" for d in range(10) if d != 3]
    for value in wrong:
        with pytest.raises(InvalidInput):
            validation.org_number(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "556036-079",
        "556036-07931",
        "55603607931",
        "556036--0793",
        "5560-360793",
        "55603a-0793",
        "556036 0793",
        5560360793,
        None,
    ],
)
def test_org_number_rejects_malformed_values(value: object) -> None:
    with pytest.raises(InvalidInput) as info:
        validation.org_number(value)
    assert "is not an organisation number" in info.value.message
    assert info.value.hint == "write it as NNNNNN-NNNN, e.g. 556036-0793"


# -- e-mail and names -------------------------------------------------------------------


@pytest.mark.parametrize("value", ["anna@kund.se", "a.b+c@sub.example.se", " anna@kund.se "])
def test_email_accepts_plain_addresses(value: str) -> None:
    assert validation.email(value) == value.strip()


@pytest.mark.parametrize(
    "value", ["", "anna", "anna@", "@kund.se", "anna@kund", "an na@kund.se", "a@b@c.se", None, 7]
)
def test_email_rejects_non_addresses(value: object) -> None:
    with pytest.raises(InvalidInput) as info:
        validation.email(value, "users[0].email")
    assert info.value.message.startswith("users[0].email:")
    assert "not an e-mail address" in info.value.message


def test_email_key_compares_case_insensitively() -> None:
    assert validation.email_key(" Anna@Kund.SE ") == validation.email_key("anna@kund.se")
    assert validation.email_key("anna@kund.se") != validation.email_key("anne@kund.se")


def test_name_must_be_non_empty_text() -> None:
    assert validation.name("  Kund AB ") == "Kund AB"
    for value in ("", "   ", None, 3):
        with pytest.raises(InvalidInput):
            validation.name(value)


# -- roles ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["administrator", "user", "auditor"])
def test_role_accepts_the_three_roles(value: str) -> None:
    assert validation.role(value) == value


@pytest.mark.parametrize("value", ["admin", "Administrator", "", None, "owner"])
def test_role_rejects_anything_else_and_lists_the_roles(value: object) -> None:
    with pytest.raises(InvalidInput) as info:
        validation.role(value)
    assert info.value.hint == "use one of: administrator, user, auditor"
