"""Why a command is refused. Each error names the rule it enforces.

The classes say what kind of refusal it is (the request itself is wrong; the
registry's state forbids it; the thing asked for does not exist). The domain knows
nothing of HTTP: the API maps each class onto a status (:mod:`api.problems`) and the
CLI onto an exit code.
"""

from __future__ import annotations

from collections.abc import Sequence
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


#: Chinese for pydantic's error types (the English ``msg`` stays in ``errors``).
FIELD_ERRORS_ZH: dict[str, str] = {
    "missing": "缺少必填字段",
    "extra_forbidden": "不允许的字段",
    "string_pattern_mismatch": "格式不符",
    "string_too_short": "内容过短",
    "string_too_long": "内容过长",
    "too_short": "条目过少",
    "too_long": "条目过多",
    "greater_than": "数值过小",
    "greater_than_equal": "数值过小",
    "less_than": "数值过大",
    "less_than_equal": "数值过大",
    "literal_error": "取值不在允许范围内",
    "enum": "取值不在允许范围内",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD",
    "date_parsing": "日期格式应为 YYYY-MM-DD",
    "datetime_parsing": "时间格式无效",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "bool_parsing": "应为 true 或 false",
    "bool_type": "应为 true 或 false",
    "string_type": "应为字符串",
    "list_type": "应为列表",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "json_invalid": "JSON 格式错误",
    "finite_number": "数值须为有限数(JSON 不允许 NaN 或 Infinity)",
    "union_tag_invalid": "未知的事件类型",
    "union_tag_not_found": "缺少事件类型",
}


def field_summary_zh(errors: Sequence[dict[str, Any]]) -> str:
    """The first field errors in Chinese: ``location: 说明``."""
    parts = []
    for e in errors[:5]:
        where = ".".join(str(p) for p in e.get("loc", ())) or "请求"
        parts.append(f"{where}: {FIELD_ERRORS_ZH.get(str(e.get('type')), e.get('msg', ''))}")
    return "; ".join(parts)
