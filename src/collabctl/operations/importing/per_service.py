"""A company item's parts per service: its subscriptions, collaborations and records.

Import never does what only the commands may do. The state of a stored
subscription changes only through ``start``, ``end`` and ``restore``; an ended
collaboration's history never changes, and an active one is ended only by
``end``; an active collaboration needs an active subscription; records of a
stored subscription change only while it is active. Each refusal is a
``conflict`` (``read-only`` for records) naming the command to use. A
subscription the item itself creates must agree with the rest of the item
(``invalid-input``), and may bring history in as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from collabctl.domain.catalogue import OUTCOMES
from collabctl.domain.errors import (
    CollabError,
    Conflict,
    Duplicate,
    InvalidInput,
    NotFound,
    ReadOnly,
)
from collabctl.operations.importing.models import CollaborationIn, CompanyIn
from collabctl.operations.importing.results import Changes
from collabctl.operations.importing.rules import same_json
from collabctl.store.import_rows import StoredCollaboration, StoredCompany, Writes

#: how to bring back a deleted service; one place, so the wording follows the commands
RESTORE_HINT = (
    "a deleted service comes back with its records through `collabctl restore BACKUP_FILE`"
    " (the backup `end --outcome delete` wrote), or empty through a new collaboration:"
    " collabctl start {number} --service {service} --office ORG_NUMBER"
)
START_HINT = (
    "start a new collaboration, which makes the subscription active again:"
    " collabctl start {number} --service {service} --office ORG_NUMBER"
)
#: the outcome that leaves a subscription in a state
_OUTCOME_FOR_STATE = {
    o.subscription_state: o.code for o in OUTCOMES.values() if o.code != "continue"
}


@dataclass(slots=True)
class _Subscription:
    state: str
    #: the row this item inserts, None for a stored subscription
    new_row: dict[str, Any] | None = None


# -- subscriptions ------------------------------------------------------------------------


def plan_subscriptions(
    company: CompanyIn, stored: StoredCompany, where: str, writes: Writes, changes: Changes
) -> dict[str, _Subscription]:
    number = company.customer_number
    subscriptions = {s: _Subscription(state) for s, state in stored.subscriptions.items()}
    for index, entry in enumerate(company.subscriptions):
        current = stored.subscriptions.get(entry.service)
        if current is None:
            subscriptions[entry.service] = _new_subscription(
                number, entry.service, entry.state, writes, changes
            )
        elif current != entry.state:
            raise state_conflict(
                f"{where}.subscriptions[{index}].state", number, entry.service, current, entry.state
            )
    return subscriptions


def _new_subscription(
    number: str, service: str, state: str, writes: Writes, changes: Changes
) -> _Subscription:
    row = {"number": number, "service": service, "state": state, "records_changed_at": None}
    writes.subscriptions_new.append(row)
    changes.append(f"created subscription {service}")
    return _Subscription(state, row)


def state_conflict(path: str, number: str, service: str, current: str, wanted: str) -> Conflict:
    """Import never moves an existing subscription from one state to another."""
    if wanted == "active" and current == "deleted":
        hint = RESTORE_HINT.format(number=number, service=service)
    elif wanted == "active":
        hint = START_HINT.format(number=number, service=service)
    elif current == "active" and wanted in _OUTCOME_FOR_STATE:
        hint = (
            "end the collaboration with the outcome that leaves it so: collabctl end "
            f"{number} --service {service} --outcome {_OUTCOME_FOR_STATE[wanted]}"
        )
    else:
        hint = (
            "a subscription's state changes when a collaboration starts (collabctl start) "
            "or ends (collabctl end)"
        )
    return Conflict(
        f"{path}: {service} of customer {number} is {current}; "
        f"import does not change a subscription's state ({wanted!r} given)",
        hint,
    )


# -- collaborations -----------------------------------------------------------------------

_HISTORY = ("ended_at", "ended_by", "outcome", "actor", "reason")


def plan_collaborations(
    company: CompanyIn,
    stored: StoredCompany,
    subscriptions: dict[str, _Subscription],
    office_exists: Callable[[str], bool],
    where: str,
    writes: Writes,
    changes: Changes,
) -> None:
    number = company.customer_number
    active = {c.service: c.office for c in stored.collaborations if c.state == "active"}
    for index, entry in enumerate(company.collaborations):
        service, office = entry.service, entry.office
        if not office_exists(office):
            raise InvalidInput(
                f"{where}.collaborations[{index}].office: office {office} does not exist",
                'list the office under "offices" (before the company) or import it first',
            )
        match = (
            next(
                (
                    c
                    for c in stored.collaborations
                    if c.service == service
                    and c.office == office
                    and c.started_at == entry.started_at
                ),
                None,
            )
            if stored.collaborations
            else None
        )
        if match is not None:
            at = f"{where}.collaborations[{index}]"
            _compare_collaboration(number, match, entry, at, writes, changes)
        else:
            if entry.state == "active":
                other = active.get(service)
                if other is not None:
                    raise Duplicate(
                        f"{where}.collaborations[{index}]: customer {number} already has an "
                        f"active {service} collaboration with office {other}",
                        f"end it first: collabctl end {number} --service {service}",
                    )
                subscription = subscriptions.get(service)
                if subscription is not None and subscription.state != "active":
                    raise _inactive(
                        f"{where}.collaborations[{index}]",
                        number,
                        service,
                        subscription,
                        "an active collaboration",
                    )
                active[service] = office
            writes.collaborations_new.append(
                {
                    "number": number,
                    "service": service,
                    "office": office,
                    "state": entry.state,
                    "started_at": entry.started_at,
                    "ended_at": entry.ended_at,
                    "ended_by": entry.ended_by,
                    "actor": entry.actor,
                    "outcome": entry.outcome,
                    "reason": entry.reason,
                }
            )
            changes.append(f"created collaboration {service}/{office}")
        if service not in subscriptions:
            subscriptions[service] = _new_subscription(number, service, "active", writes, changes)


def _compare_collaboration(
    number: str,
    stored: StoredCollaboration,
    entry: CollaborationIn,
    at: str,
    writes: Writes,
    changes: Changes,
) -> None:
    service, office = stored.service, stored.office
    label = f"the {service} collaboration of customer {number} with {office}"
    if stored.state == "ended":
        if entry.state == "active":
            raise Conflict(
                f"{at}.state: {label} ended at {stored.ended_at}; import does not reopen it",
                START_HINT.format(number=number, service=service).replace("ORG_NUMBER", office),
            )
        for name in _HISTORY:
            given, current = getattr(entry, name), getattr(stored, name)
            if given is not None and given != current:  # actor and reason may be left out
                raise Conflict(
                    f"{at}.{name}: {label} ended with {name} {current!r}, not {given!r}; "
                    "an ended collaboration's history does not change",
                    "import it as it was exported, or leave the collaboration out",
                )
        return
    if entry.state == "ended":
        raise Conflict(
            f"{at}.state: {label} is active; import does not end a collaboration",
            f"end it with its checks: collabctl end {number} --service {service}"
            + (f" --outcome {entry.outcome}" if entry.outcome else "")
            + (f" --by {entry.ended_by}" if entry.ended_by else ""),
        )
    current = {"actor": stored.actor, "reason": stored.reason}
    wanted = {k: getattr(entry, k) for k in current if getattr(entry, k) is not None}
    if changes.update(f"collaboration {service}/{office}", current, wanted):
        writes.collaborations_changed.append({**current, **wanted, "id": stored.id})


# -- records ------------------------------------------------------------------------------


def plan_records(
    company: CompanyIn,
    stored: StoredCompany,
    subscriptions: dict[str, _Subscription],
    at: str,
    where: str,
    writes: Writes,
    changes: Changes,
) -> None:
    if not company.records:
        return
    number = company.customer_number
    touched: set[str] = set()
    for index, entry in enumerate(company.records):
        service = entry.service
        values = {
            "kind": entry.kind,
            "status": entry.status,
            "owner": entry.owner,
            "payload": entry.payload,
        }
        current = stored.records.get((service, entry.id))
        if current is not None and _same_record(current.values, values):
            continue
        subscription = subscriptions.get(service)
        if subscription is None:
            raise NotFound(
                f"{where}.records[{index}].service: customer {number} has no subscription for {service}",
                'add it to the company\'s "subscriptions" first',
            )
        # a subscription this item creates may hold records in any state but deleted (history
        # comes in as it was); a stored one only while it is active
        if subscription.state == "deleted" or (
            subscription.new_row is None and subscription.state != "active"
        ):
            raise _inactive(f"{where}.records[{index}]", number, service, subscription, "a record")
        label = f"record {service}/{entry.id}"
        if current is None:
            writes.records_new.append(
                {"number": number, "service": service, "record_id": entry.id, **values}
            )
            changes.append(f"created {label}")
        else:
            changes.update(label, current.values, values)
            writes.records_changed.append({**values, "id": current.id})
        touched.add(service)
    for service in sorted(touched):
        row = subscriptions[service].new_row
        if row is not None:
            row["records_changed_at"] = at
        else:
            writes.subscriptions_touched.append({"number": number, "service": service, "at": at})


def _inactive(
    path: str, number: str, service: str, subscription: _Subscription, what: str
) -> CollabError:
    """Why ``what`` cannot be added to a subscription that is not active.

    A subscription the item itself creates makes the item contradict itself (invalid
    input); a stored one is changed only by the commands (its records are read-only).
    """
    state = subscription.state
    if subscription.new_row is not None:
        if what == "a record":
            return InvalidInput(
                f"{path}: a deleted subscription holds no records ({service} is deleted)",
                "leave the records out, or give the subscription another state",
            )
        return InvalidInput(
            f"{path}: {what} needs an active subscription ({service} is {state})",
            'make the subscription "active", or the collaboration "ended"',
        )
    hint = (RESTORE_HINT if state == "deleted" else START_HINT).format(
        number=number, service=service
    )
    if what == "a record":
        return ReadOnly(
            f"{path}: {service} of customer {number} is {state}: its records cannot change", hint
        )
    return Conflict(
        f"{path}: {service} of customer {number} is {state}; {what} needs an active subscription",
        hint,
    )


def _same_record(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(current[k] == wanted[k] for k in ("kind", "status", "owner")) and same_json(
        current["payload"], wanted["payload"]
    )
