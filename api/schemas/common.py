"""What the API's response bodies share: the open base (answers may gain fields), moments and
amounts as the registry writes them, the problem details of a refusal, an actor, the event types."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from domain.events import EVENT_TYPES

EventType = StrEnum("EventType", {name: name for name in EVENT_TYPES})  # type: ignore[misc]


def _moment(value: Any) -> str:
    if isinstance(value, datetime):
        value = value.isoformat(timespec="microseconds")
    if not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is None:
        raise ValueError("a moment is an ISO 8601 date-time with an offset")
    return value


#: A moment with its offset, as the registry wrote it (``2018-01-15T04:00:00.000000+00:00``).
Moment = Annotated[str, BeforeValidator(_moment), WithJsonSchema({"type": "string", "format": "date-time"})]
#: An amount or ratio: an integer stays an integer in the answer.
Number = Annotated[int | float, WithJsonSchema({"type": "number"})]


class Open(BaseModel):
    """Responses may gain fields (docs/api.md: changes are additive)."""

    model_config = ConfigDict(extra="allow")


class FieldError(Open):
    loc: list[str | int] = Field(description="where: body/query/path/header, then the field path")
    msg: str
    type: str | None = None


class Problem(Open):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str = Field(description="urn:povreg:problem:<rule>", examples=["urn:povreg:problem:illegal_transition"])
    title: str
    status: int
    detail: str = Field(description="what was refused and why; names the rule")
    rule: str = Field(description="the short, stable code of the rule that refused the request")
    instance: str | None = None
    errors: list[FieldError] | None = Field(None, description="field errors (422)")


class ActorOut(Open):
    name: str
    role: str
    division: str
