"""``GET /health``, and what every route shares: answers checked against their models,
scopes read from the read models."""

from __future__ import annotations

from service.registry import Command, Registry
from tests.api.conftest import Api, assert_problem
from tests.support import RECORDER, proposal


def test_health_needs_no_token_and_reports_the_store_and_the_lag(api: Api) -> None:
    response = api.client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["store"] == api.registry.settings.backend
    head = api.registry.recorder.max_notification_id()
    assert body["projections"] == {"position": head, "head": head, "lag": 0}

    # Another process records two events: the log moves on, the read models have not seen them yet.
    api.clock.set("2018-03-01T02:00:00+00:00")
    other = Registry(api.registry.settings, clock=api.clock)
    try:
        for i in range(2):
            other.record(Command(payload=proposal(seq=20 + i), actor=RECORDER, household_id=f"H-{i}"))
    finally:
        other.close()
    lagging = api.client.get("/health").json()["projections"]
    new_head = api.registry.recorder.max_notification_id()
    assert new_head > head
    assert lagging == {"position": head, "head": new_head, "lag": new_head - head}

    # The next query catches the read models up; the probe itself never does.
    assert api.get("/v1/rosters/620422").json()["total"]["households"] == 2
    assert api.client.get("/health").json()["projections"]["lag"] == 0


def test_an_answer_that_does_not_fit_its_model_is_a_500_not_a_wrong_body(api: Api, monkeypatch) -> None:
    read_model = api.client.app.state.read_model  # type: ignore[attr-defined]
    monkeypatch.setattr(read_model, "incidence", lambda *args: {"division_code": "620422"})
    response = api.get("/v1/divisions/620422/incidence")
    assert_problem(response, 500, "internal_error")


def test_scopes_are_read_from_the_read_models_not_the_event_stream(api: Api, monkeypatch) -> None:
    api.clock.set("2018-03-01T02:00:00+00:00")
    assert api.post("/v1/households", json={"household_id": "H-1", **proposal()}).status_code == 201

    def no_replay(*args: object, **kwargs: object) -> None:
        raise AssertionError("a query replayed the household's events")

    monkeypatch.setattr(api.registry, "history", no_replay)
    for path in ("/v1/households/H-1", "/v1/households/H-1/timeline", "/v1/households/H-1/audit"):
        assert api.request("GET", path, as_="investigator", division="620422100").status_code == 200, path
        assert_problem(api.request("GET", path, as_="investigator", division="620422101"), 403, "out_of_scope")
    assert_problem(api.request("GET", "/v1/households/H-9", as_="investigator", division="620422100"),
                   404, "unknown_household")
    scoped = api.request("GET", "/v1/events", as_="subscriber", division="620422100")
    assert [item["household_id"] for item in scoped.json()] == ["H-1"]


def test_answers_are_the_read_models_with_moments_as_written(api: Api) -> None:
    api.clock.set("2018-03-01T02:00:00+00:00")
    receipt = api.post("/v1/households", json={"household_id": "H-1", **proposal()}).json()
    assert receipt["recorded_at"] == "2018-03-01T02:00:00.000000+00:00"
    card = api.get("/v1/households/H-1", params={"known_at": "2018-03-02T00:00:00+08:00"}).json()
    assert card["known_at"] == "2018-03-01T16:00:00.000000+00:00"
    # The body is the read model's answer as it is: the model checks it, adds and rounds nothing.
    read_model = api.client.app.state.read_model  # type: ignore[attr-defined]
    assert api.get("/v1/households/H-1").json() == read_model.card("H-1", api.registry.today(), None)
