"""The commands' bodies: each event type's request, the proposal, and the receipt.

Request bodies reuse the domain's event models (one definition per event): each event type
gets a ``<Event>Request`` model that adds ``expected_version`` (and, for ``POST
/v1/households``, ``household_id``), and ``EventRequest`` is their union, discriminated on
``type``.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from api.schemas.common import EventType, Moment, Open
from domain.events import EVENT_TYPES, EventBody, IdentificationProposed, require_finite
from domain.vocab import Status

ExpectedVersion = Annotated[
    int | None,
    Field(
        ge=0,
        le=2**31,
        description="the household's version (number of recorded events) this command was decided on; "
        "a mismatch is refused with 409 (0 = the household must not exist yet)",
    ),
]
HouseholdId = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9._-]{1,64}$", description="the registry number (户编号)", examples=["H-620422100201-0001"]
    ),
]


def _request_model(cls: type[EventBody]) -> type[BaseModel]:
    name = cls.model_fields["type"].default
    fields: dict[str, Any] = {
        "type": (Literal[name], Field(description="the event type")),
        "expected_version": (ExpectedVersion, None),
    }
    model: type[BaseModel] = create_model(
        f"{name}Request", __base__=cls, __doc__=cls.__doc__ or f"A {name} event.", **fields
    )
    return model


EVENT_REQUESTS: dict[str, type[BaseModel]] = {name: _request_model(cls) for name, cls in EVENT_TYPES.items()}


if TYPE_CHECKING:
    EventRequest = BaseModel
else:
    #: Any event request, discriminated on ``type`` (one schema per event type in the document).
    EventRequest = Annotated[Union[tuple(EVENT_REQUESTS.values())], Field(discriminator="type")]  # noqa: UP007


class ProposalRequest(IdentificationProposed):
    """``POST /v1/households``: the fields of IdentificationProposed (``type`` may be left out)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "division_code": "620422100201",
                    "effective_date": "2014-05-02",
                    "attribute": "general",
                    "main_cause": "illness",
                    "secondary_causes": ["lack_of_skills"],
                    "income_per_capita": 2100,
                    "income_year": 2013,
                    "guarantees": {"food": True, "clothing": True, "education": True, "medical": False,
                                   "housing": False, "water": True},
                    "members": [{"name": "张三", "id_number": "620422198501010015", "relation": "head",
                                 "labour": "full", "health": "chronic_illness", "in_school": False}],
                    "reason": "农户申请，村民主评议通过",
                    "evidence": ["notice-2014-017"],
                }
            ]
        }
    )

    household_id: HouseholdId | None = Field(
        None, description="the registry number to use; the server assigns one if absent"
    )
    expected_version: ExpectedVersion = None


def command_fields(body: BaseModel) -> tuple[dict[str, Any], int | None]:
    """The event payload of a request body (as the registry takes it) and its expected_version.

    Non-finite numbers are refused first: the JSON dump would turn a NaN in a free-form
    field (a correction's ``changes``) into ``null`` without a word."""
    require_finite(body.model_dump(exclude={"household_id", "expected_version"}))
    payload = body.model_dump(mode="json", exclude={"household_id", "expected_version"})
    return payload, getattr(body, "expected_version", None)


class Receipt(Open):
    """The answer to an accepted command."""

    household_id: str
    event_id: str
    type: EventType  # type: ignore[valid-type]
    version: int = Field(description="the household's recorded events, this one included")
    effective_date: date
    recorded_at: Moment
    status: Status | None = Field(description="the household's status today, with this event")


class LineResult(Open):
    """One line's result in ``POST /v1/events:batch``."""

    line: int = Field(description="the line's number in the request body (blank lines are counted, not answered)")
    outcome: str
    http_status: int = Field(description="the status the line would have had as a single command")


class RecordedLine(Receipt, LineResult):
    """A line recorded, or replayed (its `idempotency_key` was used before): the receipt."""

    outcome: Literal["recorded", "replayed"]
    http_status: Literal[201]


class RefusedLine(LineResult):
    """A line refused, recording nothing: the rule and detail a single command would get, with
    the refusal's own fields and `detail_en`."""

    outcome: Literal["refused"]
    rule: str
    detail: str


class BatchAnswer(Open):
    """``POST /v1/events:batch``: how many lines had a result, how many of each outcome, and the results."""

    lines: int = Field(description="the non-blank lines")
    recorded: int
    replayed: int
    refused: int
    results: list[Annotated[RecordedLine | RefusedLine, Field(discriminator="outcome")]] = Field(
        description="one per non-blank line, in order")
