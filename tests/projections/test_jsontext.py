"""The fast JSON text is the standard library's, byte for byte (hashes depend on it)."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.jsontext import canonical, compact, loads

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1e-5, -9.9e-5, 1e-4, 1e16, 1e22, 5e-324, 0.1])
    | st.text()
    | st.sampled_from(["3f2a9c1e-0e-5", "0.00001", ":1e-5", "中文"])
)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4), max_leaves=12
)


def _stdlib(value: Any, sort_keys: bool = False) -> str:
    return json.dumps(value, sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":"))


@settings(max_examples=500)
@given(VALUES)
def test_text_equals_the_standard_library(value: Any) -> None:
    assert compact(value, finite=True) == _stdlib(value)
    assert canonical(value, finite=True) == _stdlib(value, sort_keys=True).encode()
    parsed, finite = loads(_stdlib(value).encode())
    assert parsed == json.loads(_stdlib(value))
    assert compact(parsed, finite=finite) == _stdlib(value)


def test_non_finite_floats_are_left_to_the_standard_library() -> None:
    value, finite = loads(b'{"a":NaN,"b":1e400,"c":-Infinity}')
    assert not finite
    assert math.isnan(value["a"]) and value["b"] == math.inf
    assert compact(value, finite=finite) == '{"a":NaN,"b":Infinity,"c":-Infinity}'
    assert canonical(value, finite=finite) == b'{"a":NaN,"b":Infinity,"c":-Infinity}'
