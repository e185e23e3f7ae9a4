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
    assert info.value.hint.endswith("use one of: administrator, user, auditor")


@pytest.mark.parametrize(
    ("value", "meant"),
    [("admin", "administrator"), ("Administrator", "administrator"), ("usr", "user")],
)
def test_a_role_typo_gets_a_did_you_mean(value: str, meant: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validation.role(value)
    assert info.value.hint == f"did you mean '{meant}'? use one of: administrator, user, auditor"


# -- lookalike digits ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["１００１", "٥٥", "१००१", "1００1", "\u0661\u0660\u0660\u0661", "1001\u0663"],
)
def test_customer_number_takes_ascii_digits_only(value: str) -> None:
    assert value.isdigit()  # what str.isdigit (and a regex \d) would have let through
    with pytest.raises(InvalidInput) as info:
        validation.customer_number(value)
    assert "0-9" in (info.value.hint or "")


@pytest.mark.parametrize("value", ["٥٥٦٦٧٧-٨٨٩٩", "５５６６７７-８８９９", "556677-889٩"])
def test_org_number_takes_ascii_digits_only(value: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validation.org_number(value)
    assert "is not an organisation number" in info.value.message


def test_text_refuses_what_a_database_cannot_store() -> None:
    assert validation.text("  Kund AB ") == "Kund AB"
    for bad in ("a\x00b", "a\ud800b", "a\udcffb"):
        with pytest.raises(InvalidInput) as info:
            validation.text(bad, "name")
        assert info.value.message.startswith("name: contains a NUL character")
    with pytest.raises(InvalidInput) as info:
        validation.text("x" * 41, "status", max_length=40)
    assert info.value.message == "status: longer than 40 characters (41)"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-31T09:00:00Z", "2024-01-31T09:00:00.000000Z"),
        ("2024-01-31", "2024-01-31T00:00:00.000000Z"),
        ("2024-01-31T10:00:00+01:00", "2024-01-31T09:00:00.000000Z"),
        ("0005-01-01T00:00:00Z", "0005-01-01T00:00:00.000000Z"),  # fixed width, sorts as text
    ],
)
def test_timestamp_is_stored_in_fixed_width_utc(value: str, expected: str) -> None:
    assert validation.timestamp(value) == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("0001-01-01T00:00:00+05:00", "is out of range"),
        ("9999-12-31T23:00:00-05:00", "is out of range"),
        ("yesterday", "is not a time"),
        ("", "is not a time"),
        (20240131, "is not a time"),
    ],
)
def test_timestamp_refuses_times_it_cannot_store(value: object, problem: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validation.timestamp(value, "started_at")
    assert info.value.message.startswith("started_at: ")
    assert problem in info.value.message


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"a": float("nan")}, "payload.a"),
        ({"a": [1, {"b": float("inf")}]}, "payload.a[1].b"),
        ({"a": "x\x00"}, "payload.a"),
        ({"k\ud800": 1}, "payload"),
    ],
)
def test_json_value_names_the_path_of_what_cannot_be_stored(value: object, path: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validation.json_value(value, "payload")
    assert info.value.message.startswith(f"{path}: ")


def test_json_value_refuses_deep_nesting_without_recursing() -> None:
    deep: object = 1
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(InvalidInput) as info:
        validation.json_value(deep, "payload")
    assert f"nested deeper than {validation.MAX_JSON_DEPTH} levels" in info.value.message
    validation.json_value({"a": [[{"b": None, "c": 1.5, "d": True}]]}, "payload")  # fine


def test_show_keeps_error_messages_short_and_safe() -> None:
    assert validation.show("x" * 100).endswith("...")
    assert len(validation.show("x" * 100)) == 40
    assert validation.show([[[]]]) == "a list"
    assert validation.show({"a": 1}) == "an object"
    assert validation.show(2**200) == "a very large number"
