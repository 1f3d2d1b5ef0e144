"""RFC 9457 problem details: every error the API answers is ``application/problem+json``.

A problem always has ``type``, ``title``, ``status``, ``detail`` and ``rule`` (the
short, stable code of the rule that refused the request; ``type`` is
``urn:povreg:problem:<rule>`` and ``detail`` ends by naming it), plus ``errors``
for field errors and whatever context the refusing rule gave (e.g. ``state``,
``expected_version``, ``current_version``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.access import Forbidden
from domain.errors import (
    DomainError,
    IdempotencyConflict,
    InvalidInput,
    NotFound,
    RuleViolation,
    Unauthenticated,
    VersionConflict,
    field_summary_zh,
)
from domain.events import EVENT_TYPES

log = logging.getLogger("povreg.api")

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:povreg:problem:"


class Unauthorized(Unauthenticated):
    """No token, or a token the registry does not know (or has revoked)."""


class ServiceUnavailable(DomainError):
    """What the request needs (the read models, the store) cannot answer now."""


#: The HTTP status and title of each kind of refusal (the domain's errors know nothing of HTTP).
#: A subclass takes its nearest listed ancestor's; an unlisted kind is a 400.
STATUSES: dict[type[DomainError], tuple[int, str]] = {
    InvalidInput: (422, "Invalid input"),
    Unauthenticated: (401, "Unauthorized"),
    Forbidden: (403, "Forbidden"),
    NotFound: (404, "Not found"),
    RuleViolation: (409, "Rule violated"),
    VersionConflict: (409, "Version conflict"),
    IdempotencyConflict: (409, "Idempotency key reused with another request"),
    ServiceUnavailable: (503, "Service unavailable"),
}


def status_of(error: DomainError) -> tuple[int, str]:
    """The HTTP status and title that answer ``error``."""
    for cls in type(error).__mro__:
        if cls in STATUSES:
            return STATUSES[cls]
    return 400, "Refused"


def problem(
    status: int,
    title: str,
    detail: str,
    rule: str,
    *,
    errors: Sequence[dict[str, Any]] | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + rule,
        "title": title,
        "status": status,
        "detail": detail if f"rule {rule}" in detail else f"{detail} (rule {rule})",
        "rule": rule,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = list(errors)
    reserved = set(body) | {"errors"}
    body.update({k: _jsonable(v) for k, v in context.items() if k not in reserved})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return str(value)


def field_errors(raw: Sequence[Any]) -> list[dict[str, Any]]:
    """FastAPI/pydantic validation errors as ``{"loc", "msg", "type"}``, without noise.

    ``loc`` starts with where the value was (``body``, ``query``, ``path``,
    ``header``); the discriminator's tag and validator-function steps are dropped,
    as the domain's own field errors do (:func:`domain.events.invalid_from`).
    """
    out = []
    for err in raw:
        loc = [str(p) for p in err.get("loc", ()) if not str(p).startswith("function-")]
        if len(loc) > 1 and loc[0] == "body" and loc[1] in EVENT_TYPES:
            loc = [loc[0], *loc[2:]]
        out.append({"loc": loc, "msg": str(err.get("msg", "")).removeprefix("Value error, "), "type": err.get("type")})
    return out


def _validation_rule(errors: list[dict[str, Any]]) -> str:
    kinds = {e["type"] for e in errors}
    if "json_invalid" in kinds:
        return "malformed_json"
    if kinds & {"union_tag_invalid", "union_tag_not_found"}:
        return "unknown_event_type"
    if all(e["loc"][:1] == ["body"] for e in errors):
        return "invalid_fields"
    return "invalid_parameters"


def wants_english(request: Request) -> bool:
    """Whether the client prefers English to Chinese (``Accept-Language``, RFC 9110 §12.5.4).

    People read Chinese: it is the default, and wins a tie; English only when an ``en``
    range is preferred (a higher weight) to every ``zh`` one and to ``*``."""
    header = request.headers.get("accept-language")
    if not header:
        return False
    best_en = best_zh = 0.0
    for part in header.split(","):
        lang, _, params = part.strip().partition(";")
        lang = lang.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if lang == "en" or lang.startswith("en-"):
            best_en = max(best_en, q)
        elif lang == "zh" or lang.startswith("zh-") or lang == "*":
            best_zh = max(best_zh, q)
    return best_en > best_zh


async def _on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    status, title = status_of(exc)
    headers = {"WWW-Authenticate": 'Bearer realm="povreg"'} if status == 401 else None
    return problem(
        status,
        title,
        exc.detail_en if wants_english(request) else exc.detail,
        exc.rule,
        errors=getattr(exc, "errors", None),
        instance=request.url.path,
        headers=headers,
        **exc.context,
    )


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = field_errors(exc.errors())
    rule = _validation_rule(errors)
    if wants_english(request):
        if rule == "unknown_event_type":
            summary = f"unknown or missing event type; known types: {', '.join(sorted(EVENT_TYPES))}"
        else:
            summary = "; ".join(f"{'.'.join(e['loc']) or 'request'}: {e['msg']}" for e in errors[:5])
        detail = f"invalid request: {summary}"
    elif rule == "unknown_event_type":
        detail = f"请求无效: 未知或缺少事件类型;可用类型: {', '.join(sorted(EVENT_TYPES))}"
    else:
        detail = f"请求无效: {field_summary_zh(errors)}"
    return problem(422, "Invalid input", detail, rule, errors=errors, instance=request.url.path)


_HTTP_RULES = {
    401: "unauthorized",
    403: "forbidden",
    404: "unknown_route",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    english = wants_english(request)
    if status == 400:  # FastAPI could not decode the body (not UTF-8, not the declared form)
        return problem(
            422, "Invalid input",
            f"the request body could not be read: {exc.detail}" if english else f"无法读取请求体: {exc.detail}",
            "malformed_json", instance=request.url.path,
        )
    rule = _HTTP_RULES.get(status, f"http_{status}")
    if status == 404:
        detail = (f"no such resource: {request.method} {request.url.path}" if english
                  else f"没有此资源: {request.method} {request.url.path}")
    elif status == 405:
        detail = (f"{request.method} is not allowed on {request.url.path}" if english
                  else f"{request.url.path} 不支持 {request.method} 方法")
    else:
        detail = str(exc.detail)
    title = {404: "Not found", 405: "Method not allowed"}.get(status, str(exc.detail))
    return problem(status, title, detail, rule, instance=request.url.path, headers=dict(exc.headers or {}))


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem(
        500,
        "Internal server error",
        "the registry could not answer this request; the error is logged on the server"
        if wants_english(request) else "登记系统无法答复此请求;错误已记入服务器日志",
        "internal_error",
        instance=request.url.path,
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
