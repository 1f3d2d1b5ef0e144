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

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from domain.divisions import VillageCode
from domain.errors import InvalidInput, field_summary_zh
from domain.idnumber import birth_date, id_number_problem
from domain.vocab import (
    GUARANTEE_KEYS,
    Attribute,
    Cause,
    EligibilityException,
    Finding,
    Health,
    Labour,
    MeasureCategory,
    Pathway,
    Relation,
)


def _valid_id_number(value: str) -> str:
    value = value.strip().upper()
    problem = id_number_problem(value)
    if problem:
        raise ValueError(problem)
    return value


IdNumber = Annotated[str, AfterValidator(_valid_id_number)]
Text = Annotated[str, Field(min_length=1, max_length=2000)]
Money = Annotated[float, Field(ge=0, le=100_000_000)]
Year = Annotated[int, Field(ge=1978, le=2100)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Member(Model):
    """A household member. Name, ID number and phone are personal information."""

    name: Annotated[str, Field(min_length=1, max_length=50)]
    id_number: IdNumber
    relation: Relation
    labour: Labour | None = Field(
        None, description="default from age on the event's date: under 16 none, 60 and over weak, else full"
    )
    health: Health = Health.HEALTHY
    in_school: bool = False
    phone: Annotated[str, Field(pattern=r"^[0-9+\- ]{5,20}$")] | None = None


class Guarantees(Model):
    """两不愁三保障 and safe drinking water: each secured (true) or not."""

    food: bool
    clothing: bool
    education: bool
    medical: bool
    housing: bool
    water: bool

    def missing(self) -> list[str]:
        return [key for key in GUARANTEE_KEYS if not getattr(self, key)]


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


def default_labour(id_number: str, on: date) -> Labour:
    """Labour capacity by age on ``on``, when none is given: under 16 none (a child), 60 and
    over weak (an elder), otherwise full."""
    born = birth_date(id_number)
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    if age < 16:
        return Labour.NONE
    if age >= 60:
        return Labour.WEAK
    return Labour.FULL


def _with_labour(members: list[Member], on: date) -> list[Member]:
    """``members`` with each unknown labour capacity derived from age on ``on``."""
    if all(m.labour is not None for m in members):
        return members
    return [
        m if m.labour is not None else m.model_copy(update={"labour": default_labour(m.id_number, on)})
        for m in members
    ]


def _check_household_members(members: list[Member]) -> None:
    heads = sum(1 for m in members if m.relation == Relation.HEAD)
    if heads != 1:
        raise ValueError(f"a household has exactly one head (found {heads})")
    ids = [m.id_number for m in members]
    if len(set(ids)) != len(ids):
        raise ValueError("the same ID number appears twice among the members")


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

    @model_validator(mode="after")
    def _members_form_a_household(self) -> IdentificationProposed:
        _check_household_members(self.members)
        object.__setattr__(self, "members", _with_labour(self.members, self.effective_date))
        return self


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
    phone: Annotated[str, Field(pattern=r"^[0-9+\- ]{5,20}$")] | None = None


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

    @model_validator(mode="after")
    def _changes_something(self) -> MembersChanged:
        if not self.joined and not self.left and self.new_head is None:
            raise ValueError("MembersChanged needs at least one of 'joined', 'left' and 'new_head'")
        both = {m.id_number for m in self.joined} & set(self.left)
        if both:
            raise ValueError("a member cannot both join and leave in one event")
        if self.new_head is not None and self.new_head in self.left:
            raise ValueError("the new head cannot be a member who leaves")
        object.__setattr__(self, "joined", _with_labour(self.joined, self.effective_date))
        return self


class MemberUpdated(EventBody):
    """成员信息变更: one member's labour capacity, health or schooling (what is left out stays)."""

    type: Literal["MemberUpdated"] = "MemberUpdated"
    id_number: IdNumber
    labour: Labour | None = None
    health: Health | None = None
    in_school: bool | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> MemberUpdated:
        if self.labour is None and self.health is None and self.in_school is None:
            raise ValueError("MemberUpdated needs at least one of 'labour', 'health' and 'in_school'")
        return self


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

    @model_validator(mode="after")
    def _acknowledged(self) -> ExitConfirmed:
        if not self.household_acknowledged:
            raise ValueError("household_acknowledged must be true: an exit needs the household's signature")
        return self


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

    @model_validator(mode="after")
    def _changes_are_fields(self) -> EventCorrected:
        if "type" in self.changes:
            raise ValueError("a correction cannot change an event's type")
        return self


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
