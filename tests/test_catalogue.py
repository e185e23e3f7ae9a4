"""The service catalogue: the defaults of SPEC §2, and services added as data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from collabctl.domain.catalogue import (
    CHECKLIST_ITEMS,
    DEFAULT_SERVICES,
    OUTCOMES,
    Catalogue,
    Service,
    service_from_mapping,
)
from collabctl.domain.errors import InvalidInput
from conftest import CLI
from helpers import sqlite_only

OFFICE = "556677-8899"

# -- the defaults -----------------------------------------------------------------------


def test_defaults_are_the_four_services_of_the_spec() -> None:
    catalogue = Catalogue()
    assert catalogue.codes == ["eekonomi", "fakturering", "lon", "utlagg"]
    expected = {
        "eekonomi": ("Visma eEkonomi", ("continue", "deactivate"), ()),
        "fakturering": ("Visma eEkonomi Fakturering", ("continue", "deactivate"), ()),
        "lon": (
            "Visma Lön",
            ("handover",),
            ("customer-user-added", "data-synchronised", "backup-handed-over"),
        ),
        "utlagg": (
            "Visma Utlägg",
            ("continue", "delete"),
            ("reports-submitted", "outlays-submitted"),
        ),
    }
    for code, (name, outcomes, checklist) in expected.items():
        service = catalogue.get(code)
        assert (service.name, service.outcomes, service.checklist) == (name, outcomes, checklist)
    assert len(DEFAULT_SERVICES) == 4


def test_each_outcome_leaves_the_subscription_in_the_state_of_the_spec() -> None:
    states = {code: outcome.subscription_state for code, outcome in OUTCOMES.items()}
    assert states == {
        "continue": "active",
        "deactivate": "read-only",
        "delete": "deleted",
        "handover": "no-access",
    }


def test_checklist_vocabulary_and_which_items_a_person_can_attest() -> None:
    attestable = {code for code, item in CHECKLIST_ITEMS.items() if item.attestable}
    assert set(CHECKLIST_ITEMS) == {
        "customer-user-added",
        "data-synchronised",
        "backup-handed-over",
        "reports-submitted",
        "outlays-submitted",
    }
    assert attestable == {"data-synchronised", "backup-handed-over"}
    for item in CHECKLIST_ITEMS.values():
        assert item.how_to_meet, item.code


def test_unknown_service_is_invalid_input_listing_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as info:
        Catalogue().get("tid", "--service")
    assert info.value.message == "--service: unknown service 'tid'"
    assert info.value.hint == "known services: eekonomi, fakturering, lon, utlagg"
    assert "tid" not in Catalogue()
    with pytest.raises(InvalidInput):
        Catalogue().get(None)


# -- extending from data ----------------------------------------------------------------


def test_service_from_mapping_builds_any_combination_of_the_vocabulary() -> None:
    service = service_from_mapping(
        {
            "code": "tid-rapport",
            "name": " Tidrapportering ",
            "outcomes": ["continue", "delete", "handover"],
            "checklist": ["data-synchronised", "reports-submitted"],
        }
    )
    assert service == Service(
        "tid-rapport",
        "Tidrapportering",
        ("continue", "delete", "handover"),
        ("data-synchronised", "reports-submitted"),
    )
    assert service.to_dict() == {
        "code": "tid-rapport",
        "name": "Tidrapportering",
        "outcomes": ["continue", "delete", "handover"],
        "checklist": ["data-synchronised", "reports-submitted"],
    }


def test_checklist_is_optional() -> None:
    service = service_from_mapping({"code": "tid", "name": "Tid", "outcomes": ["continue"]})
    assert service.checklist == ()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"code": "tid", "name": "Tid", "outcomes": ["continue", "archive"]},
            "services[2].outcomes[1]: unknown outcome 'archive'",
        ),
        (
            {"code": "tid", "name": "Tid", "outcomes": ["continue"], "checklist": ["coffee"]},
            "services[2].checklist[0]: unknown checklist item 'coffee'",
        ),
        (
            {"code": "tid", "name": "Tid", "outcomes": []},
            "services[2].outcomes: a non-empty list is required",
        ),
        (
            {"code": "tid", "name": "Tid", "outcomes": "continue"},
            "services[2].outcomes: a non-empty list is required",
        ),
        (
            {"code": "tid", "name": "Tid", "outcomes": ["continue"], "checklist": "x"},
            "services[2].checklist: expected a list",
        ),
        (
            {"code": "t i d", "name": "Tid", "outcomes": ["continue"]},
            "services[2].code: 't i d' is not a service code",
        ),
        ({"name": "Tid", "outcomes": ["continue"]}, "services[2].code: None is not a service code"),
        ({"code": "tid", "outcomes": ["continue"]}, "services[2].name: a display name is required"),
        (["tid"], "services[2]: expected an object with code, name, outcomes"),
    ],
)
def test_bad_catalogue_entries_are_rejected_naming_the_field(data: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        service_from_mapping(data, "services[2]")
    assert info.value.message == message


def test_unknown_outcome_hint_lists_the_vocabulary() -> None:
    with pytest.raises(InvalidInput) as info:
        service_from_mapping({"code": "tid", "name": "Tid", "outcomes": ["archive"]})
    assert info.value.hint == "choose from continue, deactivate, delete, handover"


def test_extended_adds_new_services_and_replaces_same_coded_ones() -> None:
    base = Catalogue()
    tid = Service("tid", "Tidrapportering", ("continue",))
    lon = Service("lon", "Visma Lön Plus", ("handover", "deactivate"))
    extended = base.extended([tid, lon])
    assert extended.codes == ["eekonomi", "fakturering", "lon", "utlagg", "tid"]
    assert extended.get("tid") is tid
    assert extended.get("lon").outcomes == ("handover", "deactivate")
    # the original is untouched
    assert "tid" not in base
    assert base.get("lon").outcomes == ("handover",)


# -- a catalogue file named in config.toml ------------------------------------------------


def _write_catalogue(home: Path, body: str, name: str = "services.toml") -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(f'catalogue = "{name}"\n', encoding="utf-8")
    target = home / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")


TID_TOML = """\
[[services]]
code = "tid"
name = "Tidrapportering"
outcomes = ["continue", "deactivate"]
checklist = ["data-synchronised"]
"""


def test_catalogue_file_in_config_makes_a_new_service_usable(demo: CLI, home: Path) -> None:
    _write_catalogue(home, TID_TOML)

    started = demo("start", "1001", "--service", "tid", "--office", OFFICE, "--format", "json")
    assert started.exit_code == 0, started.stderr
    assert started.json()["service"] == "tid"
    assert started.json()["state"] == "active"

    not_allowed = demo(
        "end", "1001", "--service", "tid", "--outcome", "delete", "--by", "customer", "--yes"
    )
    assert not_allowed.exit_code == 1
    assert "error[outcome-not-allowed]" in not_allowed.stderr
    assert "continue, deactivate" in not_allowed.stderr

    unchecked = demo(
        "end", "1001", "--service", "tid", "--outcome", "deactivate", "--by", "customer", "--yes"
    )
    assert unchecked.exit_code == 1
    assert "error[checklist-incomplete]" in unchecked.stderr
    assert "data-synchronised" in unchecked.stderr

    ended = demo(
        "end", "1001", "--service", "tid", "--outcome", "deactivate", "--by", "customer",
        "--confirm", "data-synchronised", "--yes", "--format", "json",
    )  # fmt: skip
    assert ended.exit_code == 0, ended.stderr
    assert ended.json()["state"] == "ended"
    assert ended.json()["outcome"] == "deactivate"
    show = demo("show", "1001", "--format", "json").json()
    assert {"service": "tid", "state": "read-only", "records": 0} in show["subscriptions"]


@sqlite_only  # the catalogue file is read before the database
def test_catalogue_file_path_is_relative_to_the_config_directory(
    demo: CLI, home: Path, tmp_path: Path
) -> None:
    _write_catalogue(home, TID_TOML, name="catalogues/extra.toml")
    # the working directory (tmp_path) has no such file: it must be found beside config.toml
    assert not (tmp_path / "catalogues").exists()
    result = demo("start", "1001", "--service", "tid", "--office", OFFICE)
    assert result.exit_code == 0, result.stderr


def test_without_the_catalogue_file_the_service_is_unknown(demo: CLI) -> None:
    result = demo("start", "1001", "--service", "tid", "--office", OFFICE)
    assert result.exit_code == 2
    assert "error[invalid-input]" in result.stderr
    assert "unknown service 'tid'" in result.stderr


@sqlite_only  # the catalogue file is read before the database
def test_missing_catalogue_file_is_reported(demo: CLI, home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text('catalogue = "nowhere.toml"\n', encoding="utf-8")
    result = demo("list")
    assert result.exit_code == 3
    assert "error[config-invalid]" in result.stderr
    assert "nowhere.toml" in result.stderr
    assert "hint:" in result.stderr


@sqlite_only  # the catalogue file is read before the database
def test_bad_entry_in_catalogue_file_names_file_and_field(demo: CLI, home: Path) -> None:
    _write_catalogue(
        home, '[[services]]\ncode = "tid"\nname = "Tid"\noutcomes = ["continue", "archive"]\n'
    )
    result = demo("list")
    assert result.exit_code == 3
    assert "error[config-invalid]" in result.stderr
    assert "services.toml: services[0].outcomes[1]: unknown outcome 'archive'" in result.stderr


# -- a service added by import -----------------------------------------------------------


def test_imported_service_is_usable_by_start_and_end(demo: CLI) -> None:
    line = (
        '{"service": {"code": "tid", "name": "Tidrapportering", "outcomes": ["continue"],'
        ' "checklist": []}}\n'
    )
    imported = demo("import", "-", input=line)
    assert imported.exit_code == 0, imported.stderr

    started = demo("start", "1002", "--service", "tid", "--office", OFFICE, "--format", "json")
    assert started.exit_code == 0, started.stderr
    # 1002 has no main contact: the new service follows the same rules as the defaults
    refused = demo(
        "end", "1002", "--service", "tid", "--outcome", "continue", "--by", "office", "--yes"
    )
    assert refused.exit_code == 1
    assert "error[main-contact-missing]" in refused.stderr

    demo("start", "1001", "--service", "tid", "--office", OFFICE)
    ended = demo(
        "end", "1001", "--service", "tid", "--outcome", "continue", "--by", "office", "--yes",
        "--format", "json",
    )  # fmt: skip
    assert ended.exit_code == 0, ended.stderr
    assert (ended.json()["service"], ended.json()["outcome"]) == ("tid", "continue")

    again = demo("import", "-", input=line)
    assert again.exit_code == 0
    assert "0 changed, 1 unchanged" in again.stderr


def test_imported_service_can_be_used_later_in_the_same_document(cli: CLI) -> None:
    document = {
        "services": [{"code": "tid", "name": "Tid", "outcomes": ["continue", "delete"]}],
        "offices": [{"org_number": OFFICE, "name": "Byrån"}],
        "companies": [
            {
                "customer_number": "3001",
                "org_number": "556036-0793",
                "name": "Tid AB",
                "subscriptions": [{"service": "tid"}],
                "collaborations": [
                    {"service": "tid", "office": OFFICE, "started_at": "2024-01-01T00:00:00Z"}
                ],
            }
        ],
    }
    import json

    result = cli("import", "-", input=json.dumps(document))
    assert result.exit_code == 0, result.stderr
    rows = cli("list", "--service", "tid", "--format", "json").json()
    assert [(r["customer_number"], r["service"]) for r in rows] == [("3001", "tid")]


@sqlite_only  # refused before the database is read
def test_import_rejects_a_service_with_an_unknown_outcome(cli: CLI) -> None:
    result = cli(
        "import", "-", input='{"service": {"code": "tid", "name": "Tid", "outcomes": ["archive"]}}'
    )
    assert result.exit_code == 2
    assert "error[invalid-input]" in result.stderr
    assert "line 1: service.outcomes[0]: unknown outcome 'archive'" in result.stderr
    assert cli("start", "1001", "--service", "tid", "--office", OFFICE).exit_code == 2
