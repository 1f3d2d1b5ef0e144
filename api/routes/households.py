"""Commands: ``POST /v1/households`` and ``POST /v1/households/{id}/events``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header, Response

from api.auth import WRITERS, ActorDep, RegistryDep
from api.deps import known_household_id
from api.routes.common import HouseholdPath, problem_responses
from api.schemas.commands import EventRequest, ProposalRequest, Receipt, command_fields
from domain.access import require_role
from domain.history import Actor
from service.registry import Command, Registry

router = APIRouter(prefix="/v1/households", tags=["commands"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="the same key with the same body returns the first answer and records nothing new; "
        "with another body → 409",
    ),
]

_COMMAND_RESPONSES = {
    201: {
        "description": "recorded (or, for a repeated Idempotency-Key, the first answer again)",
        "headers": {
            "Location": {"description": "the household", "schema": {"type": "string"}},
            "Idempotent-Replayed": {
                "description": "`true` when this is the first answer to an earlier request with the same key",
                "schema": {"type": "string", "enum": ["true"]},
            },
        },
    },
    **problem_responses(401, 403, 404, 409, 422),
}


def _answer(registry: Registry, command: Command, response: Response) -> Receipt:
    receipt = registry.record_shared(command)  # concurrent requests share transactions
    response.headers["Location"] = f"{router.prefix}/{receipt.household_id}"
    if receipt.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return Receipt.model_validate(receipt.as_dict())


def _command(actor: Actor, body: object, household_id: str | None, key: str | None) -> Command:
    require_role(actor, *WRITERS)
    payload, expected_version = command_fields(body)  # type: ignore[arg-type]
    return Command(
        payload=payload,
        actor=actor,
        household_id=household_id,
        expected_version=expected_version,
        idempotency_key=key,
    )


@router.post(
    "",
    status_code=201,
    response_model=Receipt,
    responses=_COMMAND_RESPONSES,
    summary="Propose a household for identification (IdentificationProposed)",
)
def propose(
    body: Annotated[ProposalRequest, Body()],
    actor: ActorDep,
    registry: RegistryDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> Receipt:
    """Records an `IdentificationProposed` (拟识别). Recorders and approvers, in their scope;
    the village must be registered; the server assigns `household_id` if absent."""
    return _answer(registry, _command(actor, body, body.household_id, idempotency_key), response)


@router.post(
    "/{household_id}/events",
    status_code=201,
    response_model=Receipt,
    responses=_COMMAND_RESPONSES,
    summary="Record any event of a household",
)
def record_event(
    household_id: HouseholdPath,
    body: Annotated[EventRequest, Body()],
    actor: ActorDep,
    registry: RegistryDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> Receipt:
    """Records one event (`type` names it; its fields are listed in docs/api.md). Approvals
    (`IdentificationApproved`, `IdentificationRejected`, `ExitConfirmed`) need the approver role.
    `409` for an illegal transition or an `expected_version` mismatch; a refused command records nothing."""
    command = _command(actor, body, household_id, idempotency_key)
    known_household_id(household_id)
    return _answer(registry, command, response)

