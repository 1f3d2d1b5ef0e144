"""The household events: one pydantic model per event type.

These models are the single definition of each event's payload. The domain folds
them, the API accepts them (a discriminated union on ``type``), the store keeps
their JSON and Kafka carries the same JSON. The envelope (event id, household,
version, recording moment, actor) is in :mod:`domain.history`.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, ValidationError, model_validator

from domain.divisions import VillageCode
from domain.errors import InvalidInput, field_summary_zh
from domain.values import (
    Guarantees,
    IdNumber,
    Member,
    Model,
    Money,
    Phone,
    Text,
    Year,
    check_household_members,
    with_labour,
)
from domain.vocab import Attribute, Cause, EligibilityException, Finding, Health, Labour, MeasureCategory, Pathway


class EventBody(Model):
    """Fields every household event has. ``type`` discriminates the subclasses."""

    type: str
    effective_date: date = Field(ge=date(1978, 1, 1), description="valid time: when it took effect (YYYY-MM-DD)")
    reason: Annotated[str, Field(max_length=2000)] | None = None
    evidence: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=50
    )

    #: Fields of this event that a correction may not change.
    uncorrectable: ClassVar[frozenset[str]] = frozenset({"type"})
    #: Fields that take any number, NaN and infinities included, when read back from
    #: the store (every other number has bounds that refuse them).
    free_numbers: ClassVar[tuple[str, ...]] = ()

    def check(self) -> None:
        """What an event of this type must hold beyond each field's own type: raise ValueError
        (pydantic reports it as the model's error). Runs once the fields are valid."""

    @model_validator(mode="after")
    def _checked(self) -> EventBody:
        self.check()
        return self


def _require_any(event: EventBody, *names: str) -> None:
    """Refuse an event that gives none of ``names`` (an empty list gives nothing)."""
    if all(getattr(event, name) in (None, []) for name in names):
        listed = ", ".join(f"'{name}'" for name in names[:-1]) + f" and '{names[-1]}'"
        raise ValueError(f"{event.type} needs at least one of {listed}")


class IdentificationProposed(EventBody):
    type: Literal["IdentificationProposed"] = "IdentificationProposed"
    division_code: VillageCode
    attribute: Attribute
    main_cause: Cause
    secondary_causes: list[Cause] = Field(default_factory=list, max_length=11)
    income_per_capita: Money
    income_year: Year
    guarantees: Guarantees
    members: list[Member] = Field(min_length=1, max_length=40)
    batch: Annotated[str, Field(max_length=50)] | None = None
    eligibility_exception: EligibilityException | None = Field(
        None,
        description="why a household whose income is not below the line is identified all the same "
        "(one of the policy's eligibility_exceptions)",
    )

    def check(self) -> None:
        check_household_members(self.members)
        object.__setattr__(self, "members", with_labour(self.members, self.effective_date))


class IdentificationApproved(EventBody):
    type: Literal["IdentificationApproved"] = "IdentificationApproved"
    approving_office: Annotated[str, Field(max_length=200)] | None = None


class IdentificationRejected(EventBody):
    type: Literal["IdentificationRejected"] = "IdentificationRejected"
    reason: Text


class AssistanceMeasureAssigned(EventBody):
    type: Literal["AssistanceMeasureAssigned"] = "AssistanceMeasureAssigned"
    category: MeasureCategory
    amount: Money | None = None
    funding_source: Annotated[str, Field(max_length=200)] | None = None
    helper: Annotated[str, Field(max_length=100)] | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None


class AssistanceMeasureCompleted(EventBody):
    type: Literal["AssistanceMeasureCompleted"] = "AssistanceMeasureCompleted"
    measure_id: Annotated[str, Field(min_length=1, max_length=64)]
    outcome: Annotated[str, Field(max_length=2000)] | None = None


class HelperAssigned(EventBody):
    type: Literal["HelperAssigned"] = "HelperAssigned"
    helper_name: Annotated[str, Field(min_length=1, max_length=100)]
    unit: Annotated[str, Field(max_length=200)] | None = None
    phone: Phone | None = None


class IncomeAssessed(EventBody):
    type: Literal["IncomeAssessed"] = "IncomeAssessed"
    year: Year
    income_per_capita: Money
    components: dict[Annotated[str, Field(max_length=50)], float] | None = None

    free_numbers: ClassVar[tuple[str, ...]] = ("components",)


class MembersChanged(EventBody):
    type: Literal["MembersChanged"] = "MembersChanged"
    joined: list[Member] = Field(default_factory=list, max_length=40)
    left: list[IdNumber] = Field(default_factory=list, max_length=40)
    new_head: IdNumber | None = Field(
        None, description="the member (staying or joining) who becomes head, when the head leaves"
    )

    def check(self) -> None:
        _require_any(self, "joined", "left", "new_head")
        both = {m.id_number for m in self.joined} & set(self.left)
        if both:
            raise ValueError("a member cannot both join and leave in one event")
        if self.new_head is not None and self.new_head in self.left:
            raise ValueError("the new head cannot be a member who leaves")
        object.__setattr__(self, "joined", with_labour(self.joined, self.effective_date))


class MemberUpdated(EventBody):
    """成员信息变更: one member's labour capacity, health or schooling (what is left out stays)."""

    type: Literal["MemberUpdated"] = "MemberUpdated"
    id_number: IdNumber
    labour: Labour | None = None
    health: Health | None = None
    in_school: bool | None = None

    def check(self) -> None:
        _require_any(self, "labour", "health", "in_school")


class GuaranteesAssessed(EventBody):
    """两不愁三保障核查 outside an exit: the six guarantees as verified, with evidence."""

    type: Literal["GuaranteesAssessed"] = "GuaranteesAssessed"
    guarantees: Guarantees


class AttributeChanged(EventBody):
    """属性变更: e.g. 纳入低保 by civil affairs (general → dibao), or 特困供养."""

    type: Literal["AttributeChanged"] = "AttributeChanged"
    attribute: Attribute


class ExitProposed(EventBody):
    type: Literal["ExitProposed"] = "ExitProposed"
    pathway: Pathway
    guarantees: Guarantees


class ExitConfirmed(EventBody):
    type: Literal["ExitConfirmed"] = "ExitConfirmed"
    household_acknowledged: bool = Field(
        description="the household signed the exit (农户签字确认, 泰发〔2016〕5号 三(八)): must be true"
    )

    def check(self) -> None:
        if not self.household_acknowledged:
            raise ValueError("household_acknowledged must be true: an exit needs the household's signature")


class ExitWithdrawn(EventBody):
    type: Literal["ExitWithdrawn"] = "ExitWithdrawn"
    reason: Text


class ReturnedToPoverty(EventBody):
    type: Literal["ReturnedToPoverty"] = "ReturnedToPoverty"
    cause: Cause


class Revisited(EventBody):
    type: Literal["Revisited"] = "Revisited"
    finding: Finding
    notes: Annotated[str, Field(max_length=2000)] | None = None


class RemovedAsIneligible(EventBody):
    type: Literal["RemovedAsIneligible"] = "RemovedAsIneligible"
    reason: Text


class HouseholdTransferred(EventBody):
    type: Literal["HouseholdTransferred"] = "HouseholdTransferred"
    division_code: VillageCode


class HouseholdClosed(EventBody):
    type: Literal["HouseholdClosed"] = "HouseholdClosed"
    reason: Text


class EventCorrected(EventBody):
    """Replaces fields of an earlier event, from this event's recording moment on."""

    type: Literal["EventCorrected"] = "EventCorrected"
    target_event_id: Annotated[str, Field(min_length=1, max_length=64)]
    changes: dict[str, Any] = Field(min_length=1)
    reason: Text

    free_numbers: ClassVar[tuple[str, ...]] = ("changes",)

    def check(self) -> None:
        if "type" in self.changes:
            raise ValueError("a correction cannot change an event's type")


class EventRetracted(EventBody):
    """Cancels an earlier event, from this event's recording moment on."""

    type: Literal["EventRetracted"] = "EventRetracted"
    target_event_id: Annotated[str, Field(min_length=1, max_length=64)]
    reason: Text


EVENT_TYPES: dict[str, type[EventBody]] = {
    cls.model_fields["type"].default: cls
    for cls in EventBody.__subclasses__()
}
#: Events that act on another event rather than on the household.
META_EVENTS = frozenset({"EventCorrected", "EventRetracted"})
#: Events that only an approver may submit (docs/api.md, "Who may do what").
APPROVAL_EVENTS = frozenset({"IdentificationApproved", "IdentificationRejected", "ExitConfirmed"})


def parse_event(data: dict[str, Any]) -> EventBody:
    """Validate a JSON-like payload into its event model, or raise InvalidInput."""
    kind = data.get("type") if isinstance(data, dict) else None
    if kind not in EVENT_TYPES:
        raise InvalidInput(
            f"未知的事件类型 {kind!r};可用类型: {', '.join(sorted(EVENT_TYPES))}",
            detail_en=f"unknown event type {kind!r}; known types: {', '.join(sorted(EVENT_TYPES))}",
            rule="unknown_event_type",
            errors=[{"loc": ["type"], "msg": "unknown event type"}],
        )
    try:
        # The model of the type named (the discriminated union's own dispatch, less
        # its overhead: the error locations are the same once the tag is dropped).
        body: EventBody = EVENT_TYPES[kind].__pydantic_validator__.validate_python(data)
    except ValidationError as exc:
        raise invalid_from(exc, f"invalid {kind}") from None
    return body


def parse_new_event(data: dict[str, Any]) -> EventBody:
    """A new event's payload: :func:`parse_event`, refusing NaN and infinities anywhere in it
    (:func:`require_finite`). Events already stored are read as they are (:func:`parse_event`).

    Only the fields that take any number are searched once the payload is valid (every
    other number is bounded, and a bound refuses NaN and infinities): this runs for every
    command, and walking the whole payload cost as much as validating it."""
    try:
        body = parse_event(data)
    except InvalidInput:
        require_finite(data)  # a NaN or an infinity is the reason to give, if there is one
        raise
    for name in body.free_numbers:
        require_finite(getattr(body, name), (name,))
    return body


def require_finite(data: Any, path: tuple[str, ...] = ()) -> None:
    """Refuse a payload holding NaN or an infinity anywhere. JSON has no such numbers;
    Python's ``json`` reads and writes them as ``NaN`` and ``Infinity`` tokens, which
    other systems' parsers refuse, so an event holding one would be unreadable to the
    feed's subscribers."""
    where = _non_finite(data, path)
    if where is not None:
        raise InvalidInput(
            f"{'.'.join(where)}: 数值须为有限数(JSON 不允许 NaN 或 Infinity)",
            detail_en=f"{'.'.join(where)}: numbers must be finite (JSON has no NaN or Infinity)",
            rule="non_finite_number",
            errors=[{"loc": where, "msg": "numbers must be finite", "type": "finite_number"}],
        )


def _non_finite(value: Any, path: tuple[str, ...] = ()) -> list[str] | None:
    """The location of the first NaN or infinity in a JSON-like value, or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else list(path)
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _non_finite(item, (*path, str(key)))
        if found is not None:
            return found
    return None


def invalid_from(exc: ValidationError, prefix: str) -> InvalidInput:
    """Turn pydantic's errors into an InvalidInput that lists each field."""
    errors = [
        {
            "loc": [str(p) for p in err["loc"] if not str(p).startswith("function-")],
            "msg": err["msg"].removeprefix("Value error, "),
            "type": err["type"],
        }
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
    # The discriminator's own tag adds noise to locations: drop it.
    for err in errors:
        if err["loc"] and err["loc"][0] in EVENT_TYPES:
            err["loc"] = err["loc"][1:]
    summary = "; ".join(f"{'.'.join(e['loc']) or 'body'}: {e['msg']}" for e in errors[:5])
    return InvalidInput(
        f"字段无效({prefix}): {field_summary_zh(errors)}",
        rule="invalid_fields",
        errors=errors,
        detail_en=f"{prefix}: {summary}",
    )


def event_json(body: EventBody) -> dict[str, Any]:
    """The payload as stored and published (JSON types only, no defaults dropped)."""
    # ``body.model_dump(mode="json")`` without its Python wrapper (half its cost).
    data: dict[str, Any] = type(body).__pydantic_serializer__.to_python(body, mode="json")
    return data
