"""``POST /v1/events:batch``: many commands in one request, for integrations.

The body is JSON Lines, each line an event as ``povreg import`` reads it: the event's
fields plus ``household_id`` (optional for a proposal), and optionally
``expected_version`` and ``idempotency_key``. The lines go through the registry's bulk
writer in chunks (one transaction each, the check of a chunk overlapping the save of the
previous one on PostgreSQL), in order, each seeing the lines accepted before it. The answer
has one result per line: the receipt, or the refusal — a refused line records nothing, the
rest go in; with keys, a rerun records nothing again and answers with the first receipts.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.auth import WRITERS, ActorDep, RegistryDep
from api.routes.common import problem_responses
from domain.access import require_role
from domain.errors import DomainError, InvalidInput
from domain.history import Actor
from service.registry import Command, Registry, iter_jsonl

router = APIRouter(tags=["commands"])

#: Lines per transaction: the in-process bulk load's batch size.
CHUNK = 1000
MAX_LINES = 100_000
MEDIA_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines", "text/plain")


def _command(obj: dict[str, Any], actor: Actor) -> Command:
    payload = dict(obj)
    household_id = payload.pop("household_id", None)
    expected_version = payload.pop("expected_version", None)
    key = payload.pop("idempotency_key", None)
    if household_id is not None and not isinstance(household_id, str):
        raise InvalidInput("household_id 必须是字符串", detail_en="household_id must be a string",
                           rule="invalid_fields", errors=[{"loc": ["household_id"], "msg": "must be a string"}])
    if expected_version is not None and (isinstance(expected_version, bool) or not isinstance(expected_version, int)):
        raise InvalidInput("expected_version 必须是整数", detail_en="expected_version must be an integer",
                           rule="invalid_fields", errors=[{"loc": ["expected_version"], "msg": "must be an integer"}])
    if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 200):
        raise InvalidInput("idempotency_key 必须是 1–200 个字符的字符串",
                           detail_en="idempotency_key must be a string of 1–200 characters",
                           rule="invalid_fields", errors=[{"loc": ["idempotency_key"], "msg": "1–200 characters"}])
    return Command(payload=payload, actor=actor, household_id=household_id, expected_version=expected_version,
                   idempotency_key=key)


def _refusal(number: int, error: DomainError) -> dict[str, Any]:
    return {"line": number, "outcome": "refused", "http_status": error.status, **error.as_dict(),
            "detail_en": error.detail_en}


def record_lines(registry: Registry, actor: Actor, lines: list[str]) -> dict[str, Any]:
    """One result per non-blank line, in order."""
    results: dict[int, dict[str, Any]] = {}
    pending: list[tuple[int, Command]] = []
    for number, obj, error in iter_jsonl(lines):
        if error is not None or obj is None:
            results[number] = _refusal(number, InvalidInput(f"第 {number} 行不是 JSON 对象：{error}",
                                                            detail_en=f"line {number}: {error}", rule="invalid_json"))
            continue
        try:
            pending.append((number, _command(obj, actor)))
        except DomainError as exc:
            results[number] = _refusal(number, exc)
    with registry.bulk_writer() as writer:
        for at in range(0, len(pending), CHUNK):
            chunk = pending[at:at + CHUNK]
            for (number, _), outcome in zip(chunk, writer.record_many([c for _, c in chunk]), strict=True):
                if isinstance(outcome, DomainError):
                    results[number] = _refusal(number, outcome)
                else:
                    results[number] = {"line": number, "outcome": "replayed" if outcome.replayed else "recorded",
                                       "http_status": 201, **outcome.as_dict()}
    ordered = [results[n] for n in sorted(results)]
    counts = {kind: sum(1 for r in ordered if r["outcome"] == kind) for kind in ("recorded", "replayed", "refused")}
    return {"lines": len(ordered), **counts, "results": ordered}


@router.post(
    "/v1/events:batch",
    responses={
        200: {"description": "one result per line: `outcome` `recorded` or `replayed` with the receipt, or "
              "`refused` with the `http_status`, `rule` and `detail` a single command would get",
              "content": {"application/json": {}}},
        **problem_responses(401, 403, 422),
    },
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/x-ndjson": {"schema": {"type": "string", "description": "one event per line (JSON Lines)"}}}}},
    summary="Record many events: JSON Lines in, one result per line out",
)
async def batch(request: Request, actor: ActorDep, registry: RegistryDep) -> JSONResponse:
    """Each line is an event with `household_id` (optional for `IdentificationProposed`) and optionally
    `expected_version` and `idempotency_key`. Lines are recorded in order through the bulk writer; a
    refused line records nothing and the rest go in. Recorders and approvers, in their scope."""
    require_role(actor, *WRITERS)
    raw = await request.body()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("请求体不是 UTF-8 文本", detail_en="the body is not UTF-8 text",
                           rule="invalid_body") from None
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise InvalidInput("请求体为空：每行一个事件（JSON Lines）",
                           detail_en="empty body: one event per line (JSON Lines)", rule="empty_batch")
    if len(lines) > MAX_LINES:
        raise InvalidInput(f"一次最多 {MAX_LINES} 行", detail_en=f"at most {MAX_LINES} lines per request",
                           rule="batch_too_large")
    return JSONResponse(await run_in_threadpool(record_lines, registry, actor, lines))
