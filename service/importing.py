"""Reading command files: one JSON object a line (JSON Lines)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


def iter_jsonl(lines: Iterable[str]) -> Iterable[tuple[int, dict[str, Any] | None, str | None]]:
    """(line number, object or None, error or None) for each non-blank line."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, None, f"not JSON: {exc.msg} at column {exc.colno}"
            continue
        if not isinstance(obj, dict):
            yield number, None, "each line must be a JSON object"
            continue
        yield number, obj, None
