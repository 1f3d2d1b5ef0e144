"""``POST /v1/events:batch``: many commands in one request, for integrations.

The body is JSON Lines, each line an event as ``povreg import`` reads it: the event's
fields plus ``household_id`` (optional for a proposal), and optionally
``expected_version``, ``idempotency_key`` and ``refs``: ``{"field": N}`` puts the event id
of line N of the same request (an earlier line) into that field — a measure's completion,
a correction or a retraction of an event recorded a few lines before, whose id the client
cannot know yet. The lines go through the registry's bulk writer in chunks (one
transaction each; on PostgreSQL the check of a chunk overlaps the save of the previous
one), in order, each seeing the lines accepted before it; a chunk ends before a line that
refers to a line of its own. The answer has one result per line: the receipt, or the
refusal — a refused line records nothing, the rest go in; with keys, a rerun records
nothing again and answers with the first receipts. The answer is sent once every chunk
has committed.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.auth import WRITERS, ActorDep, RegistryDep
from api.problems import status_of
from api.routes.common import problem_responses
from api.schemas.commands import BatchAnswer
from domain.access import require_role
from domain.errors import DomainError, InvalidInput
from domain.history import Actor
from service.importing import iter_jsonl
from service.registry import Command, Registry

router = APIRouter(prefix="/v1/events", tags=["commands"])

#: Lines per transaction: at most the in-process bulk load's batch size, and a request is cut in
#: about four so that the saves of its first chunks overlap the checks of the next.
CHUNK = 1000
MIN_CHUNK = 100
MAX_LINES = 100_000
MEDIA_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines", "text/plain")


def _refs(obj: dict[str, Any], number: int) -> dict[str, int]:
    refs = obj.pop("refs", None)
    if refs is None:
        return {}
    if not isinstance(refs, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and 1 <= v < number
        for k, v in refs.items()
    ):
        raise InvalidInput("refs 须为 {字段: 本请求中更早的行号}", detail_en="refs must map fields to earlier line "
                           "numbers of this request", rule="invalid_refs",
                           errors=[{"loc": ["refs"], "msg": "field → an earlier line number"}])
    return refs


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
    return {"line": number, "outcome": "refused", "http_status": status_of(error)[0], **error.as_dict(),
            "detail_en": error.detail_en}


@contextmanager
def _rare_collections() -> Iterator[None]:
    """No cyclic collection while a request's lines are checked and saved, and what they leave alive
    (the households now in the registry's cache) frozen out of the collector's sight afterwards:
    each full collection would otherwise walk the whole cache again — a third of a bulk write's
    time. The bulk load does the same (simulation.loader.load); reference counting still frees
    nearly everything a batch allocates."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _resolve(number: int, command: Command, refs: dict[str, int],
             results: dict[int, dict[str, Any]]) -> Command | DomainError:
    """``command`` with the event ids of the lines it refers to, or why it cannot have them."""
    if not refs:
        return command
    payload = dict(command.payload)
    for name, line in refs.items():
        target = results.get(line)
        if target is None or target["outcome"] == "refused":
            return InvalidInput(f"第 {number} 行引用的第 {line} 行未被记录", rule="ref_refused",
                                detail_en=f"line {number} refers to line {line}, which was not recorded",
                                errors=[{"loc": ["refs", name], "msg": f"line {line} was not recorded"}])
        payload[name] = target["event_id"]
    return replace(command, payload=payload)


def record_lines(registry: Registry, actor: Actor, lines: list[str]) -> bytes:
    """The answer, as JSON: one result per non-blank line, in order.

    It is validated against :class:`~api.schemas.commands.BatchAnswer` here, in the request's worker
    thread, and written with orjson, the same bytes FastAPI would write from the model: its own
    serialisation runs in the event loop, and validating and serialising the model cost 5–7 % of
    recording the lines (an answer has up to 100,000), the validation alone 2–4 %, orjson 0.2 %."""
    with _rare_collections():
        answer = _record_lines(registry, actor, lines)
        BatchAnswer.model_validate(answer)
        return orjson.dumps(answer)


def _record_lines(registry: Registry, actor: Actor, lines: list[str]) -> dict[str, Any]:
    results: dict[int, dict[str, Any]] = {}
    pending: list[tuple[int, Command, dict[str, int]]] = []
    for number, obj, error in iter_jsonl(lines, orjson.loads):  # orjson: 3–4× json's speed
        if error is not None or obj is None:
            results[number] = _refusal(number, InvalidInput(f"第 {number} 行不是 JSON 对象：{error}",
                                                            detail_en=f"line {number}: {error}", rule="invalid_json"))
            continue
        try:
            refs = _refs(obj, number)
            pending.append((number, _command(obj, actor), refs))
        except DomainError as exc:
            results[number] = _refusal(number, exc)
    size = max(MIN_CHUNK, min(CHUNK, -(-len(pending) // 4)))
    with registry.bulk_writer() as writer:
        at = 0
        while at < len(pending):
            chunk: list[tuple[int, Command]] = []
            lines_in_chunk: set[int] = set()
            while at < len(pending) and len(chunk) < size:
                number, command, refs = pending[at]
                if lines_in_chunk.intersection(refs.values()):
                    break  # it needs an id this chunk will give
                at += 1
                resolved = _resolve(number, command, refs, results)
                if isinstance(resolved, DomainError):
                    results[number] = _refusal(number, resolved)
                    continue
                chunk.append((number, resolved))
                lines_in_chunk.add(number)
            if not chunk:
                continue
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
    ":batch",
    response_model=BatchAnswer,
    responses={
        200: {"description": "one result per line: `outcome` `recorded` or `replayed` with the receipt, or "
              "`refused` with the `http_status`, `rule` and `detail` a single command would get"},
        **problem_responses(401, 403, 413, 422),
    },
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/x-ndjson": {"schema": {"type": "string", "description": "one event per line (JSON Lines)"}}}}},
    summary="Record many events: JSON Lines in, one result per line out",
)
async def batch(request: Request, actor: ActorDep, registry: RegistryDep) -> Response:
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
    answer = await run_in_threadpool(record_lines, registry, actor, lines)
    return Response(answer, media_type="application/json")  # a BatchAnswer, validated (record_lines)
