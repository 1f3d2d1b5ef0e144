"""JSON text for the read models, fast and byte for byte what :mod:`json` writes.

The projections parse every stored event and write several JSON columns per
event (cards, bodies, the audit's data and canonical form); with the standard
library that was the largest single cost of a rebuild. ``orjson`` does the same
work in C several times faster, but its text differs from ``json.dumps`` in two
cases: a non-zero float below 1e-4 (``1e-05`` vs ``0.00001``), and ``NaN`` or
an infinity (``NaN`` vs ``null``). Hashes and stored text must not depend on
which library wrote them, so :func:`compact` and :func:`canonical` look for the
first case in orjson's output, and take the second from the caller: a value
that may hold a non-finite float (``finite=False``; see :func:`loads`)
goes to the standard library, as does anything orjson refuses (integers beyond
64 bits, non-string keys, dates).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_NUMBER_CHARS = frozenset(b"0123456789.-")
_BEFORE_VALUE = frozenset(b":,[")


def _starts_value(out: bytes, i: int) -> bool:
    """Whether the number-like run ending just before ``i`` is a JSON number: it begins
    the text or follows ``:``, ``,`` or ``[`` (not inside a string such as a UUID)."""
    while i > 0 and out[i - 1] in _NUMBER_CHARS:
        i -= 1
    return i == 0 or out[i - 1] in _BEFORE_VALUE


def _differs(out: bytes) -> bool:
    """Whether orjson wrote a float that ``json`` writes otherwise: fixed notation below
    1e-4 (``0.0000…``) or a negative exponent (``…e-…``). A lookalike inside a string
    only costs the slow path; substring searches keep the common case cheap."""
    for needle, skip in ((b"e-", 0), (b"0.0000", 6)):
        i = out.find(needle)
        while i >= 0:
            if _starts_value(out, i + skip):
                return True
            i = out.find(needle, i + 1)
    return False


#: Types ``json`` refuses are left to it, so that it raises as before.
_PASSTHROUGH = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


#: Digits to "0": a run of 19 digits is then one substring test (a regular
#: expression costs twenty times more on a stored event).
_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19


def loads(text: bytes | str) -> tuple[Any, bool]:
    """``json.loads(text)``, and whether the value is surely finite.

    orjson refuses what strict JSON does not allow (``NaN``, ``Infinity``, a number
    beyond a double's range): the standard library then parses it, and the value
    may hold a non-finite float. orjson also reads an integer beyond 64 bits as a
    float: text with 19 digits in a row (a digit run inside a string only costs
    the slow path) goes to the standard library too.
    """
    data = text.encode() if isinstance(text, str) else text
    if _LONG_NUMBER not in data.translate(_DIGITS):
        try:
            return orjson.loads(data), True
        except orjson.JSONDecodeError:
            pass
    return json.loads(data), False


def _fast(value: Any, option: int) -> bytes | None:
    try:
        out = orjson.dumps(value, option=option | _PASSTHROUGH)
    except TypeError:
        return None
    return None if _differs(out) else out


def compact(value: Any, *, finite: bool) -> str:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``; ``finite``: the
    value holds no ``NaN`` or infinity."""
    out = _fast(value, 0) if finite else None
    if out is None:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return out.decode()


def canonical(value: Any, *, finite: bool) -> bytes:
    """Keys sorted, no spaces, UTF-8: ``json.dumps(value, sort_keys=True, …).encode()``."""
    out = _fast(value, orjson.OPT_SORT_KEYS) if finite else None
    if out is None:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return out
