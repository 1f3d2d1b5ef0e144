"""Reading command files and batches: one JSON object a line (JSON Lines)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any


def iter_jsonl(
    lines: Iterable[str], loads: Callable[[str], Any] = json.loads
) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(line number, object or None, error or None) for each non-blank line.

    ``loads`` reads a line. Python's ``json`` (the default, ``povreg import``) takes ``NaN`` and
    ``Infinity``, which the event's own check then refuses, naming the field; ``orjson.loads``
    (``POST /v1/events:batch``) reads 3–4× faster and refuses them as not JSON. Either raises a
    ``json.JSONDecodeError``, whose column is the line's own (the line number is given apart)."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = loads(line)
        except json.JSONDecodeError as exc:
            yield number, None, f"not JSON: {exc.msg} at column {exc.colno}"
            continue
        if not isinstance(obj, dict):
            yield number, None, "each line must be a JSON object"
            continue
        yield number, obj, None
