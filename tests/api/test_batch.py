"""``POST /v1/events:batch`` on both stores: one result per line, a refused line records
nothing while the rest go in, a rerun with keys records nothing, roles and bad bodies refused."""

from __future__ import annotations

import json
from typing import Any

from tests.api.conftest import Api, answer_schema, assert_problem
from tests.support import GUARANTEED, proposal


def jsonl(*lines: dict[str, Any] | str) -> bytes:
    return "\n".join(line if isinstance(line, str) else json.dumps(line, ensure_ascii=False) for line in lines).encode()


def post(api: Api, body: bytes, as_: str = "approver", **kw: Any) -> Any:
    return api.post("/v1/events:batch", as_=as_, content=body, headers={"Content-Type": "application/x-ndjson"}, **kw)


def lines() -> list[dict[str, Any] | str]:
    return [
        {"household_id": "H-1", **proposal(), "idempotency_key": "b-1"},
        {"household_id": "H-1", "type": "IdentificationApproved", "effective_date": "2014-05-05",
         "idempotency_key": "b-2"},  # before the notice period ends: refused
        "{not json",
        {"household_id": "H-1", "type": "IdentificationApproved", "effective_date": "2014-05-20",
         "idempotency_key": "b-3"},
        "",
        {"household_id": "H-2", **proposal(seq=40, village="620422101203"), "idempotency_key": "b-4"},
        {"household_id": "H-1", "type": "ExitProposed", "effective_date": "2014-06-01", "pathway": "industry",
         "guarantees": GUARANTEED, "expected_version": 1, "idempotency_key": "b-5"},  # stale version
    ]


def test_refused_lines_record_nothing_the_rest_go_in_and_a_rerun_records_nothing(api: Api) -> None:
    api.clock.set("2014-06-02T02:00:00+00:00")
    first = post(api, jsonl(*lines()))
    assert first.status_code == 200, first.text
    answer = first.json()
    by_line = {r["line"]: r for r in answer["results"]}
    assert sorted(by_line) == [1, 2, 3, 4, 6, 7]  # blank lines have no result
    assert (answer["recorded"], answer["refused"], answer["replayed"]) == (3, 3, 0)
    assert by_line[1]["outcome"] == "recorded" and by_line[1]["household_id"] == "H-1" and by_line[1]["version"] == 1
    assert by_line[2]["http_status"] == 409 and by_line[2]["rule"] == "identification_notice_period"
    assert by_line[3]["http_status"] == 422 and by_line[3]["rule"] == "invalid_json"
    assert by_line[4]["outcome"] == "recorded" and by_line[4]["version"] == 2 and by_line[4]["status"] == "poor"
    assert by_line[6]["http_status"] == 201 and by_line[6]["household_id"] == "H-2"
    assert by_line[7]["http_status"] == 409 and by_line[7]["rule"] == "expected_version_mismatch"
    history = [e.body.type for e in api.registry.history("H-1")]
    assert history == ["IdentificationProposed", "IdentificationApproved"]
    head = api.registry.recorder.max_notification_id()

    api.clock.set("2014-06-03T02:00:00+00:00")
    again = post(api, jsonl(*lines())).json()
    assert (again["recorded"], again["replayed"]) == (0, 3)
    assert {r["line"]: r["event_id"] for r in again["results"] if r["outcome"] == "replayed"} == {
        n: r["event_id"] for n, r in by_line.items() if r["outcome"] == "recorded"}
    assert api.registry.recorder.max_notification_id() == head
    # visible to queries at once (the embedded mode's read model)
    card = api.get("/v1/households/H-1", params={"as_of": "2014-06-01"}).json()
    assert card["status"] == "poor" and card["version"] == 2


def test_batch_refusals_of_the_whole_request(api: Api) -> None:
    assert_problem(post(api, jsonl({"household_id": "H-1", **proposal()}), as_="investigator"), 403, "wrong_role")
    assert_problem(post(api, jsonl({"household_id": "H-1", **proposal()}), as_=None), 401, "missing_token")
    assert_problem(post(api, b"\n  \n"), 422, "empty_batch")
    assert_problem(post(api, b"\xff\xfe{}"), 422, "invalid_body")
    assert api.registry.recorder.max_notification_id() is None or not api.registry.feed(0, 10)


def test_scope_and_roles_per_line(api: Api) -> None:
    api.clock.set("2014-06-02T02:00:00+00:00")
    body = jsonl({"household_id": "H-1", **proposal()},
                 {"household_id": "H-2", **proposal(seq=40, village="620422101203")},
                 {"household_id": "H-1", "type": "IdentificationApproved", "effective_date": "2014-05-20"},
                 {"household_id": "H-1", "expected_version": "1", "type": "IncomeAssessed",
                  "effective_date": "2014-05-21", "year": 2014, "income_per_capita": 2500})
    answer = post(api, body, as_="recorder", division="620422100").json()
    assert [r["http_status"] for r in answer["results"]] == [201, 403, 403, 422]
    assert [r["rule"] for r in answer["results"][1:]] == ["out_of_scope", "wrong_role", "invalid_fields"]


def test_a_line_refers_to_an_earlier_line_of_the_same_request(api: Api) -> None:
    api.clock.set("2014-08-02T02:00:00+00:00")
    body = jsonl(
        {"household_id": "H-1", **proposal()},
        {"household_id": "H-1", "type": "IdentificationApproved", "effective_date": "2014-05-20"},
        {"household_id": "H-1", "type": "AssistanceMeasureAssigned", "effective_date": "2014-06-01",
         "category": "industry", "amount": 3000},
        {"household_id": "H-1", "type": "AssistanceMeasureCompleted", "effective_date": "2014-07-01",
         "measure_id": "?", "refs": {"measure_id": 3}},
        {"household_id": "H-1", "type": "IncomeAssessed", "effective_date": "2014-07-02", "year": 1900,
         "income_per_capita": 1},  # refused: the year is out of range
        {"household_id": "H-1", "type": "EventRetracted", "effective_date": "2014-08-01", "target_event_id": "?",
         "reason": "录入错误", "refs": {"target_event_id": 5}},  # refers to a refused line
        {"household_id": "H-1", "type": "EventRetracted", "effective_date": "2014-08-01", "target_event_id": "?",
         "reason": "录入错误", "refs": {"target_event_id": 9}},  # not an earlier line
    )
    results = post(api, body, as_="approver").json()["results"]
    assert [r["outcome"] for r in results] == ["recorded"] * 4 + ["refused"] * 3
    assert [r.get("rule") for r in results[4:]] == ["invalid_fields", "ref_refused", "invalid_refs"]
    measure = api.get("/v1/households/H-1", params={"as_of": "2014-07-31"}).json()["measures"][0]
    assert measure["measure_id"] == results[2]["event_id"] and measure["completed_on"] == "2014-07-01"


def test_the_answer_is_the_documented_batch_answer(api: Api) -> None:
    assert answer_schema(api, "post", "/v1/events:batch") == "BatchAnswer"


def test_a_line_that_is_not_json_is_refused_with_its_column(api: Api) -> None:
    """NaN is not JSON: the batch refuses it as such (a single command refuses it by name)."""
    results = post(api, jsonl('{"household_id": "H-1", "income_per_capita": NaN}', "{x")).json()["results"]
    assert [(r["line"], r["rule"]) for r in results] == [(1, "invalid_json"), (2, "invalid_json")]
    assert results[0]["detail_en"].endswith("at column 46") and results[1]["detail_en"].endswith("at column 2")
