"""The import format as input models: what one office, company or service may hold.

Non-table pydantic models with ``extra="forbid"`` and strict types; every field
is checked by the same ``domain.validation`` function the commands use, so a
customer number, an e-mail or a time means the same everywhere. The rules that
span fields (one main contact, one active collaboration per service, an ended
collaboration's outcome, a consistent new subscription) follow in
:func:`check_company`.

Errors name the item and the path of the field, e.g.
``line 3: company.users[1].email: 'x' is not an e-mail address``; the first
problem of an item is reported, and nothing of that item is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cached_property
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, ValidationError
from pydantic_core import PydanticCustomError

from collabctl.domain import validation
from collabctl.domain.catalogue import SUBSCRIPTION_STATES, Catalogue, Service, service_from_mapping
from collabctl.domain.errors import InvalidInput

#: column lengths the schema enforces (PostgreSQL refuses longer values): checked first
SERVICE_CODE_MAX = 40
RECORD_STATUS_MAX = 40
COLLABORATION_STATES = ("active", "ended")
#: valid values remembered per cached field
_CACHE_SIZE = 4096

# -- fields: a domain.validation function as a pydantic validator --------------------


def _report(exc: InvalidInput) -> PydanticCustomError:
    details = exc.details or {}
    return PydanticCustomError(
        "collabctl",
        "{text}",
        {
            "text": details.get("text", exc.message),
            "hint": exc.hint,
            "subpath": details.get("field", ""),
        },
    )


def _field(
    check: Callable[[Any, str], Any], *, optional: bool = False, cached: bool = False
) -> PlainValidator:
    """``check`` (a domain.validation function) as a field validator.

    ``cached``: remember the valid values seen, for fields that repeat across items
    (an office's org number, a start date).
    """
    seen: dict[Any, Any] = {}

    def run(value: Any) -> Any:
        if value is None and optional:
            return None
        if cached and value.__class__ is str:
            known = seen.get(value)
            if known is not None:
                return known
        try:
            checked = check(value, "")
        except InvalidInput as exc:
            raise _report(exc) from None
        if cached and value.__class__ is str:
            if len(seen) >= _CACHE_SIZE:
                seen.clear()
            seen[value] = checked
        return checked

    return PlainValidator(run)


def _payload(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PydanticCustomError(
            "collabctl",
            "{text}",
            {
                "text": f"expected an object, found {validation.show(value)}",
                "hint": 'a payload is a JSON object, e.g. {"amount_sek": 120}',
            },
        )
    try:
        validation.json_value(value, "")
    except InvalidInput as exc:
        raise _report(exc) from None
    return value


def _no_list_as_null(value: Any) -> Any:
    return [] if value is None else value


def _status(value: Any, field: str) -> str:
    return validation.text(value, field, max_length=RECORD_STATUS_MAX)


CustomerNumber = Annotated[str, _field(validation.customer_number)]
OrgNumber = Annotated[str, _field(validation.org_number, cached=True)]
Email = Annotated[str, _field(validation.email)]
OptionalEmail = Annotated[str | None, _field(validation.email, optional=True)]
Name = Annotated[str, _field(validation.name)]
OptionalName = Annotated[str | None, _field(validation.name, optional=True)]
OptionalText = Annotated[str | None, _field(validation.text, optional=True)]
Text = Annotated[str, _field(validation.text)]
Status = Annotated[str, _field(_status)]
Time = Annotated[str | None, _field(validation.timestamp, optional=True, cached=True)]
# Fixed words are pydantic's own (strict) literals: checked without a call into Python,
# reported with domain.validation's messages (see _first_problem).
Role = Literal["administrator", "user", "auditor"]
SubscriptionState = Literal["active", "read-only", "no-access", "deleted"]
CollaborationState = Literal["active", "ended"]
EndedBy = Literal["customer", "office"]
assert get_args(Role) == validation.ROLES
assert get_args(SubscriptionState) == SUBSCRIPTION_STATES
assert get_args(EndedBy) == validation.ENDED_BY
#: checked against the catalogue with the rules across fields (check_company)
ServiceCode = str
Payload = Annotated[dict[str, Any], PlainValidator(_payload)]


OptionalOutcome = Annotated[str | None, _field(validation.text, optional=True)]

# -- the models ---------------------------------------------------------------------

_STRICT = ConfigDict(extra="forbid", strict=True)


class OfficeIn(BaseModel):
    model_config = _STRICT

    org_number: OrgNumber
    name: Name
    #: where notifications to the office go; left as it is when not given
    email: OptionalEmail = None


class UserIn(BaseModel):
    model_config = _STRICT

    email: Email
    name: OptionalName = None
    role: Role | None = None
    main_contact: bool | None = None
    #: null means none; left out, the user's services stay as they are
    services: Annotated[list[ServiceCode] | None, BeforeValidator(_no_list_as_null)] = None

    @cached_property
    def key(self) -> str:
        return validation.email_key(self.email)


class SubscriptionIn(BaseModel):
    model_config = _STRICT

    service: ServiceCode
    state: SubscriptionState = "active"


class CollaborationIn(BaseModel):
    model_config = _STRICT

    service: ServiceCode
    office: OrgNumber
    state: CollaborationState = "active"
    started_at: Time = None
    ended_at: Time = None
    ended_by: EndedBy | None = None
    actor: OptionalText = None
    outcome: OptionalOutcome = None
    reason: OptionalText = None


class RecordIn(BaseModel):
    model_config = _STRICT

    id: Text
    service: ServiceCode
    kind: Text
    status: Status
    owner: OptionalEmail = None
    payload: Payload = {}


class CompanyIn(BaseModel):
    model_config = _STRICT

    customer_number: CustomerNumber
    org_number: OrgNumber
    name: Name
    users: Annotated[list[UserIn], BeforeValidator(_no_list_as_null)] = Field(default_factory=list)
    subscriptions: Annotated[list[SubscriptionIn], BeforeValidator(_no_list_as_null)] = Field(
        default_factory=list
    )
    collaborations: Annotated[list[CollaborationIn], BeforeValidator(_no_list_as_null)] = Field(
        default_factory=list
    )
    records: Annotated[list[RecordIn], BeforeValidator(_no_list_as_null)] = Field(
        default_factory=list
    )


class ServiceIn(BaseModel):
    model_config = _STRICT

    code: Annotated[str, _field(lambda v, f: validation.text(v, f, max_length=SERVICE_CODE_MAX))]
    name: Name
    outcomes: list[Any]
    checklist: Annotated[list[Any], BeforeValidator(_no_list_as_null)] = Field(default_factory=list)


_NESTED: dict[type[BaseModel], dict[str, type[BaseModel]]] = {
    CompanyIn: {
        "users": UserIn,
        "subscriptions": SubscriptionIn,
        "collaborations": CollaborationIn,
        "records": RecordIn,
    },
}

# -- validating an item -------------------------------------------------------------


def validate_office(data: Any, where: str) -> OfficeIn:
    return _validate(OfficeIn, data, where)


def validate_company(data: Any, where: str, catalogue: Catalogue) -> CompanyIn:
    company = _validate(CompanyIn, data, where)
    check_company(company, where, catalogue)
    return company


def validate_service(data: Any, where: str) -> Service:
    model = _validate(ServiceIn, data, where)
    # the catalogue's own rules for outcomes and checklist items, on the checked text
    return service_from_mapping(model.model_dump(), where)


def _validate(model: type[Any], data: Any, where: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _first_problem(model, exc, where) from None


def _first_problem(model: type[BaseModel], exc: ValidationError, where: str) -> InvalidInput:
    error = exc.errors(include_url=False)[0]
    loc = error["loc"]
    kind = error["type"]
    context = error.get("ctx") or {}
    hint: str | None = None
    suffix = ""
    if kind == "collabctl":
        text, hint, suffix = context["text"], context.get("hint"), context.get("subpath", "")
    elif kind == "missing":
        text = "required field is missing"
    elif kind == "extra_forbidden":
        text = "unknown field"
        hint = f"known fields: {', '.join(_model_at(model, loc[:-1]).model_fields)}"
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        text = "expected an object"
    elif kind == "list_type":
        text = "expected a list"
    elif kind == "string_type":
        text = "expected a string"
    elif kind == "bool_type":
        text = "expected true or false"
    elif kind == "literal_error":
        text, hint = _choice_problem(_model_at(model, loc[:-1]), str(loc[-1]), error["input"])
    else:
        text = str(error["msg"])
    path = where + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    if suffix:
        path += suffix if suffix.startswith("[") else f".{suffix}"
    return InvalidInput(f"{path}: {text}", hint)


def _choice_problem(model: type[BaseModel], name: str, value: Any) -> tuple[str, str | None]:
    """A fixed word that is not one of its choices, as domain.validation says it."""
    choices = _literal_values(model.model_fields[name].annotation)
    try:
        if name == "role":
            validation.role(value, "")
        validation.choice(value, choices, "")
    except InvalidInput as exc:
        return (exc.details or {}).get("text", exc.message), exc.hint
    return f"{validation.show(value)} is not allowed", None


def _literal_values(annotation: Any) -> tuple[str, ...]:
    """The words of ``Literal[...]``, also inside ``Literal[...] | None``."""
    args = get_args(annotation)
    if args and all(isinstance(arg, str) for arg in args):
        return args
    return tuple(word for arg in args for word in _literal_values(arg))


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel]:
    for part in loc:
        if isinstance(part, str):
            model = _NESTED.get(model, {}).get(part, model)
    return model


def readable_key(kind: str, data: Any) -> str | None:
    """The key of an item, whenever it can be read: also for an item that failed."""
    if not isinstance(data, dict):
        return None
    field = {"company": "customer_number", "office": "org_number", "service": "code"}.get(kind)
    value = data.get(field) if field else None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value) if value.bit_length() < 64 else None
    if not isinstance(value, str):
        return None
    try:
        if kind == "company":
            return validation.customer_number(value)
        if kind == "office":
            return validation.org_number(value)
    except InvalidInput:
        pass
    text = value.strip()
    return text if 0 < len(text) <= 64 and validation.readable_text(text) else None


# -- rules across fields ------------------------------------------------------------


def _problem(where: str, path: str, text: str, hint: str | None = None) -> InvalidInput:
    return InvalidInput(f"{where}.{path}: {text}", hint)


def check_company(company: CompanyIn, where: str, catalogue: Catalogue) -> None:
    """The rules of one company item that no single field can check."""
    _check_services(company, where, catalogue)
    _check_users(company, where)
    _check_subscriptions(company, where)
    _check_collaborations(company, where, catalogue)
    _check_records(company, where)


def _check_services(company: CompanyIn, where: str, catalogue: Catalogue) -> None:
    """Every service named is in the catalogue."""
    for index, user in enumerate(company.users):
        for position, code in enumerate(user.services or ()):
            if code not in catalogue:
                raise _unknown_service(
                    where, f"users[{index}].services[{position}]", code, catalogue
                )
    for part in ("subscriptions", "collaborations", "records"):
        for index, entry in enumerate(getattr(company, part)):
            if entry.service not in catalogue:
                raise _unknown_service(where, f"{part}[{index}].service", entry.service, catalogue)


def _unknown_service(where: str, path: str, code: str, catalogue: Catalogue) -> InvalidInput:
    return _problem(
        where,
        path,
        f"unknown service {validation.show(code)}",
        f"known services: {', '.join(catalogue.codes)}",
    )


def _check_users(company: CompanyIn, where: str) -> None:
    seen: set[str] = set()
    main_contacts = 0
    for index, user in enumerate(company.users):
        if user.key in seen:
            raise _problem(
                where,
                f"users[{index}].email",
                f"{user.email} appears twice",
                "e-mail addresses are case-insensitive",
            )
        seen.add(user.key)
        if user.main_contact:
            main_contacts += 1
            if user.role == "auditor":
                raise _problem(
                    where,
                    f"users[{index}].main_contact",
                    "an auditor cannot be the main contact",
                    "make an administrator or user the main contact",
                )
    if main_contacts > 1:
        raise _problem(where, "users", "more than one main contact", "a company has at most one")


def _check_subscriptions(company: CompanyIn, where: str) -> None:
    seen: set[str] = set()
    for index, sub in enumerate(company.subscriptions):
        if sub.service in seen:
            raise _problem(where, f"subscriptions[{index}].service", f"{sub.service} appears twice")
        seen.add(sub.service)


def _check_collaborations(company: CompanyIn, where: str, catalogue: Catalogue) -> None:
    active: set[str] = set()
    keys: set[tuple[str, str, str]] = set()
    for index, collab in enumerate(company.collaborations):
        at = f"collaborations[{index}]"
        code = collab.service
        if collab.started_at is None:
            raise _problem(
                where, f"{at}.started_at", "required field is missing", "e.g. 2024-01-31T09:00:00Z"
            )
        key = (code, collab.office, collab.started_at)
        if key in keys:
            raise _problem(
                where, at, f"the {code} collaboration with {collab.office} appears twice"
            )
        keys.add(key)
        if collab.state == "active":
            if code in active:
                raise _problem(
                    where,
                    at,
                    f"a second active collaboration for {code}",
                    "a company has at most one active collaboration per service",
                )
            active.add(code)
            for name in ("ended_at", "ended_by", "outcome"):
                if getattr(collab, name) is not None:
                    raise _problem(where, f"{at}.{name}", f"only an ended collaboration has {name}")
            continue
        for name in ("ended_at", "ended_by", "outcome"):
            if getattr(collab, name) is None:
                raise _problem(where, f"{at}.{name}", "required field is missing")
        allowed = catalogue.get(code).outcomes
        if collab.outcome not in allowed:
            raise _problem(
                where,
                f"{at}.outcome",
                f"{validation.show(collab.outcome)} is not allowed",
                f"use one of: {', '.join(allowed)}",
            )


def _check_records(company: CompanyIn, where: str) -> None:
    keys: set[tuple[str, str]] = set()
    for index, record in enumerate(company.records):
        key = (record.service, record.id)
        if key in keys:
            raise _problem(
                where, f"records[{index}].id", f"{record.id} appears twice for {record.service}"
            )
        keys.add(key)


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON: ``1``, ``1.0`` and ``true`` are equal in Python but not in JSON."""
    return a == b and json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
