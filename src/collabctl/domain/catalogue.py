"""The service catalogue: which services exist, how each may end, what must be done first.

Outcomes and checklist items are a fixed vocabulary with fixed meaning; a
service is any combination of them. New services therefore come from data
(a catalogue file named in the configuration, or an import), never from code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from collabctl.domain.errors import InvalidInput

SUBSCRIPTION_STATES = ("active", "read-only", "no-access", "deleted")


class Outcome(NamedTuple):
    code: str
    summary: str
    subscription_state: str


OUTCOMES: dict[str, Outcome] = {
    o.code: o
    for o in (
        Outcome(
            "continue",
            "the company keeps working in the service on its own; the office loses access",
            "active",
        ),
        Outcome(
            "deactivate",
            "the service is ended: existing information can be read, nothing can be changed",
            "read-only",
        ),
        Outcome(
            "delete",
            "the service and ALL its data are deleted (irreversible; a backup is written first)",
            "deleted",
        ),
        Outcome(
            "handover",
            "the company loses access; it continues from the handed-over backup or a new collaboration",
            "no-access",
        ),
    )
}


class ChecklistItem(NamedTuple):
    code: str
    summary: str
    how_to_meet: str
    #: True when only a person can say it is done (``--confirm`` meets it);
    #: False when it is computed from the data and ``--confirm`` cannot replace it.
    attestable: bool


CHECKLIST_ITEMS: dict[str, ChecklistItem] = {
    i.code: i
    for i in (
        ChecklistItem(
            "customer-user-added",
            "a user of the company (not an auditor) has access to the service",
            "collabctl add-user {customer} --email EMAIL --service {service}",
            attestable=False,
        ),
        ChecklistItem(
            "data-synchronised",
            "the data is synchronised in the service",
            "synchronise, then pass --confirm data-synchronised",
            attestable=True,
        ),
        ChecklistItem(
            "backup-handed-over",
            "a backup was exported after the last change and handed over",
            "collabctl export {customer} --service {service} (or --confirm backup-handed-over)",
            attestable=True,
        ),
        ChecklistItem(
            "reports-submitted",
            "no expense report is still a draft",
            "have the users submit their draft expense reports",
            attestable=False,
        ),
        ChecklistItem(
            "outlays-submitted",
            "no outlay is still a draft",
            "have the users submit their draft outlays",
            attestable=False,
        ),
    )
}


class Service(NamedTuple):
    code: str
    name: str
    outcomes: tuple[str, ...]
    checklist: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "outcomes": list(self.outcomes),
            "checklist": list(self.checklist),
        }


DEFAULT_SERVICES: tuple[Service, ...] = (
    Service("eekonomi", "Visma eEkonomi", ("continue", "deactivate")),
    Service("fakturering", "Visma eEkonomi Fakturering", ("continue", "deactivate")),
    Service(
        "lon",
        "Visma Lön",
        ("handover",),
        ("customer-user-added", "data-synchronised", "backup-handed-over"),
    ),
    Service(
        "utlagg", "Visma Utlägg", ("continue", "delete"), ("reports-submitted", "outlays-submitted")
    ),
)


def service_from_mapping(data: Mapping[str, Any], where: str = "service") -> Service:
    """Build a service from a catalogue entry (TOML file or import), validating every field."""
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{where}: expected an object with code, name, outcomes")
    code = data.get("code")
    if not isinstance(code, str) or not code.strip() or not code.replace("-", "").isalnum():
        raise InvalidInput(
            f"{where}.code: {code!r} is not a service code", "use letters, digits and dashes"
        )
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"{where}.name: a display name is required")
    outcomes = data.get("outcomes")
    if not isinstance(outcomes, list) or not outcomes:
        raise InvalidInput(
            f"{where}.outcomes: a non-empty list is required", f"choose from {', '.join(OUTCOMES)}"
        )
    for index, outcome in enumerate(outcomes):
        if outcome not in OUTCOMES:
            raise InvalidInput(
                f"{where}.outcomes[{index}]: unknown outcome {outcome!r}",
                f"choose from {', '.join(OUTCOMES)}",
            )
    checklist = data.get("checklist", [])
    if not isinstance(checklist, list):
        raise InvalidInput(f"{where}.checklist: expected a list")
    for index, item in enumerate(checklist):
        if item not in CHECKLIST_ITEMS:
            raise InvalidInput(
                f"{where}.checklist[{index}]: unknown checklist item {item!r}",
                f"choose from {', '.join(CHECKLIST_ITEMS)}",
            )
    return Service(code.strip(), name.strip(), tuple(outcomes), tuple(checklist))


class Catalogue:
    """The services known to this installation: the defaults, then any extensions."""

    def __init__(self, services: Iterable[Service] = DEFAULT_SERVICES) -> None:
        self._services: dict[str, Service] = {}
        for service in services:
            self._services[service.code] = service

    def extended(self, services: Iterable[Service]) -> Catalogue:
        """A new catalogue where the given services are added or replace same-coded ones."""
        return Catalogue([*self._services.values(), *services])

    def __contains__(self, code: object) -> bool:
        return code in self._services

    def __iter__(self) -> Any:
        return iter(self._services.values())

    @property
    def codes(self) -> list[str]:
        return list(self._services)

    def get(self, code: object, field: str = "service") -> Service:
        service = self._services.get(code) if isinstance(code, str) else None
        if service is None:
            from collabctl.domain.suggest import did_you_mean

            raise InvalidInput(
                f"{field}: unknown service {code!r}",
                did_you_mean(code, self._services) + f"known services: {', '.join(self._services)}",
            )
        return service
