"""Reading JSON Lines, as ``povreg import`` (Python's json) and the batch endpoint (orjson) do."""

from __future__ import annotations

import orjson

from service.importing import iter_jsonl

LINES = ['{"a": 1}', "", "  ", "[1, 2]", '{"a": NaN}', "{x"]


def test_each_non_blank_line_is_an_object_or_says_why_not_by_its_column() -> None:
    read = list(iter_jsonl(LINES))
    assert [number for number, _, _ in read] == [1, 4, 5, 6]
    assert read[0] == (1, {"a": 1}, None)
    assert read[1] == (4, None, "each line must be a JSON object")
    assert read[3] == (6, None, "not JSON: Expecting property name enclosed in double quotes at column 2")


def test_python_json_takes_nan_for_the_event_to_refuse_and_orjson_refuses_it() -> None:
    number, obj, error = list(iter_jsonl(LINES))[2]
    assert number == 5 and obj is not None and obj["a"] != obj["a"] and error is None
    assert list(iter_jsonl(LINES, orjson.loads))[2] == (
        5, None, "not JSON: unexpected character, expected a JSON value at column 7")
