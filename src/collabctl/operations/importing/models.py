"""The import format as input models: what one office, company or service may hold.

Non-table pydantic models with ``extra="forbid"`` and strict types; every field
is checked by the same ``domain.validation`` function the commands use, so a
customer number, an e-mail or a time means the same everywhere. The rules that
span fields (one main contact, one active collaboration per service, an ended
collaboration's outcome, services from the catalogue) follow in
``rules.check_company``.

Errors name the item and the path of the field, e.g.
``line 3: company.users[1].email: 'x' is not an e-mail address``; the first
problem of an item is reported, and nothing of that item is written.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, ValidationError
from pydantic_core import PydanticCustomError

from collabctl.domain import validation
from collabctl.domain.catalogue import SUBSCRIPTION_STATES, Service, service_from_mapping
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
    (an office's org number, a start date). Each kind is its own function, so a field
    pays only for what it asks for (nine fields a company).
    """

    def run(value: Any) -> Any:
        try:
            return check(value, "")
        except InvalidInput as exc:
            raise _report(exc) from None

    def run_optional(value: Any) -> Any:
        if value is None:
            return None
        try:
            return check(value, "")
        except InvalidInput as exc:
            raise _report(exc) from None

    seen: dict[Any, Any] = {}

    def run_cached(value: Any) -> Any:
        if value is None and optional:
            return None
        known = seen.get(value) if value.__class__ is str else None
        if known is not None:
            return known
        try:
            checked = check(value, "")
        except InvalidInput as exc:
            raise _report(exc) from None
        if value.__class__ is str:
            if len(seen) >= _CACHE_SIZE:
                seen.clear()
            seen[value] = checked
        return checked

    if cached:
        return PlainValidator(run_cached)
    return PlainValidator(run_optional if optional else run)


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
    return validate_model(OfficeIn, data, where)


def validate_service(data: Any, where: str) -> Service:
    model = validate_model(ServiceIn, data, where)
    # the catalogue's own rules for outcomes and checklist items, on the checked text
    return service_from_mapping(model.model_dump(), where)


def validate_model(model: type[Any], data: Any, where: str) -> Any:
    """``data`` as an instance of ``model``, or the first field error, named by its path."""
    try:
        # the model's own validator, as model_validate calls it without options (the
        # classmethod's handling of its keyword options cost half a microsecond an item)
        return model.__pydantic_validator__.validate_python(data)
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
