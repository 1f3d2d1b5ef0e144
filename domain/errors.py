"""Why a command is refused. Each error names the rule it enforces.

The entry points map these onto HTTP statuses and CLI exit codes: ``InvalidInput``
is a 422 (the request itself is wrong), ``RuleViolation`` and ``VersionConflict``
are 409 (the request is well formed but the registry's state forbids it), and
``NotFound`` is a 404.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refused command. ``rule`` is a short stable code; ``detail`` explains it to a person:
    in Chinese (the registry's users read Chinese), with ``detail_en`` for clients that ask for
    English. An error raised with an English ``detail`` only keeps it for both."""

    status = 400
    title = "Refused"

    def __init__(self, detail: str, *, rule: str, detail_en: str | None = None, **context: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.detail_en = detail_en if detail_en is not None else detail
        self.rule = rule
        self.context = context

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "detail": self.detail, **self.context}


class InvalidInput(DomainError):
    status = 422
    title = "Invalid input"

    def __init__(
        self,
        detail: str,
        *,
        rule: str = "invalid_input",
        errors: list[dict[str, Any]] | None = None,
        **context: Any,
    ) -> None:
        super().__init__(detail, rule=rule, **context)
        self.errors = errors or []


class RuleViolation(DomainError):
    """An illegal transition or a policy rule that the command would break."""

    status = 409
    title = "Rule violated"


class VersionConflict(DomainError):
    status = 409
    title = "Version conflict"


class IdempotencyConflict(DomainError):
    status = 409
    title = "Idempotency key reused with another request"


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Unauthenticated(DomainError):
    """No token, an unknown one, or one revoked or expired."""

    status = 401
    title = "Unauthorized"
