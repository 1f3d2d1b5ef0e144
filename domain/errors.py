"""Why a command is refused. Each error names the rule it enforces.

The classes say what kind of refusal it is (the request itself is wrong; the
registry's state forbids it; the thing asked for does not exist). The domain knows
nothing of HTTP: the API maps each class onto a status (:mod:`api.problems`) and the
CLI onto an exit code.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refused command. ``rule`` is a short stable code; ``detail`` explains it to a person:
    in Chinese (the registry's users read Chinese), with ``detail_en`` for clients that ask for
    English. An error raised with an English ``detail`` only keeps it for both."""

    def __init__(self, detail: str, *, rule: str, detail_en: str | None = None, **context: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.detail_en = detail_en if detail_en is not None else detail
        self.rule = rule
        self.context = context

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "detail": self.detail, **self.context}


class InvalidInput(DomainError):
    """The request itself is wrong (a field, a format, a missing value); ``errors`` lists the fields."""

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


class VersionConflict(DomainError):
    """The command was decided on another version of the household (``expected_version``)."""


class IdempotencyConflict(DomainError):
    """An idempotency key already answered a different request."""


class NotFound(DomainError):
    """The household, division or thing asked for does not exist."""


class Unauthenticated(DomainError):
    """No token, an unknown one, or one revoked or expired."""
