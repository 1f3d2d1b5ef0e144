"""Divisions, tokens, policies, the event feed, and the problem shape of every error class."""

from __future__ import annotations

from domain.policy_data import LOCAL_POLICIES
from tests.api.conftest import Api, assert_problem
from tests.support import proposal


def test_put_and_get_division(api: Api) -> None:
    body = {"name": "西关村", "rural_population": 700, "effective_date": "2014-01-01"}
    created = api.put("/v1/divisions/620422100203", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["code"] == "620422100203" and created.json()["level"] == "village"
    api.clock.advance(days=400)
    updated = api.put("/v1/divisions/620422100203", json={**body, "rural_population": 650,
                                                           "effective_date": "2015-01-01"})
    assert updated.status_code == 200 and updated.json()["rural_population"] == 650
    got = api.get("/v1/divisions/620422100203", as_="recorder").json()
    assert [v["rural_population"] for v in got["versions"]] == [700, 650]
    assert got["name"] == "西关村"


def test_division_errors(api: Api) -> None:
    body = {"name": "某村", "rural_population": 10}
    assert_problem(api.put("/v1/divisions/620422199301", json=body), 422, "unknown_parent_division")
    assert_problem(api.put("/v1/divisions/6204", json=body), 422, "invalid_parameters")
    assert_problem(api.put("/v1/divisions/620422100204", json={**body, "rural_population": -1}), 422,
                   "invalid_fields")
    assert_problem(api.put("/v1/divisions/620422100204", json={**body, "effective_date": "2099-01-01"}), 422,
                   "future_effective_date")
    assert_problem(api.get("/v1/divisions/620422100299"), 404, "unknown_division")


def test_tokens_issued_over_http_work(api: Api) -> None:
    response = api.post("/v1/tokens", as_="admin", json={"role": "recorder", "division": "620422100", "name": "村文书"})
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    assert response.json()["role"] == "recorder" and response.json()["division"] == "620422100"
    api.clock.set("2018-03-01T02:00:00+00:00")
    used = api.client.post("/v1/households", json={"household_id": "H-7", **proposal(seq=7)},
                           headers={"Authorization": f"Bearer {token}"})
    assert used.status_code == 201, used.text
    item = api.get("/v1/events").json()[-1]
    assert item["recorded_by"] == {"name": "村文书", "role": "recorder", "division": "620422100"}
    assert_problem(api.post("/v1/tokens", as_="admin", json={"role": "king"}), 422, "invalid_fields")


def test_policies(api: Api) -> None:
    example = LOCAL_POLICIES[next(iter(LOCAL_POLICIES))]
    recorded = api.post("/v1/policies", as_="admin", json=example.model_dump(mode="json"))
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["jurisdiction"] == example.jurisdiction and recorded.json()["recorded_at"]
    resolved = api.get("/v1/policies", as_="recorder", params={"division": "620422100201", "on": "2016-06-01"})
    assert resolved.status_code == 200, resolved.text
    policy = resolved.json()
    assert policy["poverty_line"] > 0 and policy["provenance"]["poverty_line"]["effective_date"]
    assert_problem(api.post("/v1/policies", as_="recorder", json=example.model_dump(mode="json")), 403, "wrong_role")
    assert_problem(api.post("/v1/policies", as_="admin", json={"effective_date": "2016-01-01"}), 422,
                   "invalid_fields")


def test_feed_in_recording_order_with_stable_positions(api: Api) -> None:
    api.clock.set("2018-03-01T02:00:00+00:00")
    hids = [f"H-{i}" for i in range(5)]
    for i, hid in enumerate(hids):
        assert api.post("/v1/households", json={"household_id": hid, **proposal(seq=10 + i * 3)}).status_code == 201
    feed = api.get("/v1/events", as_="subscriber").json()
    assert [item["household_id"] for item in feed] == hids
    positions = [item["position"] for item in feed]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    first = feed[0]
    assert set(first) >= {"position", "event_id", "household_id", "type", "effective_date", "recorded_at", "data"}
    assert first["type"] == "IdentificationProposed" and first["data"]["division_code"] == "620422100201"

    page = api.get("/v1/events", as_="subscriber", params={"after": positions[1], "limit": 2})
    assert [item["position"] for item in page.json()] == positions[2:4]
    assert page.headers["povreg-next-after"] == str(positions[3])
    assert api.get("/v1/events", params={"after": positions[-1]}).json() == []
    assert_problem(api.get("/v1/events", params={"limit": 0}), 422, "invalid_parameters")
    assert_problem(api.get("/v1/events", params={"after": "x"}), 422, "invalid_parameters")


def test_unknown_routes_and_methods_are_problems(api: Api) -> None:
    assert_problem(api.get("/v1/nowhere"), 404, "unknown_route")
    assert_problem(api.client.get("/"), 404, "unknown_route")
    assert_problem(api.request("DELETE", "/v1/households/H-1"), 405, "method_not_allowed")


def test_unexpected_errors_are_500_problems_without_internals(api: Api, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(api.registry, "feed", broken)
    response = api.get("/v1/events")
    body = assert_problem(response, 500, "internal_error")
    assert "secret" not in response.text and "Traceback" not in response.text
    assert body["title"] == "Internal server error"


def test_openapi_document(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    paths = doc["paths"]
    for path, methods in {
        "/v1/households": ["post"],
        "/v1/households/{household_id}/events": ["post"],
        "/v1/households/{household_id}": ["get"],
        "/v1/households/{household_id}/timeline": ["get"],
        "/v1/households/{household_id}/audit": ["get"],
        "/v1/rosters/{division_code}": ["get"],
        "/v1/adjustments/{division_code}": ["get"],
        "/v1/divisions/{division_code}/incidence": ["get"],
        "/v1/divisions/{code}": ["get", "put"],
        "/v1/events": ["get"],
    }.items():
        for method in methods:
            operation = paths[path][method]
            ok = next(s for s in operation["responses"] if s.startswith("2"))
            assert operation["responses"][ok]["content"]["application/json"]["schema"], (path, method)
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], (path, status)
            assert "401" in operation["responses"] and "403" in operation["responses"]
    mapping = paths["/v1/households/{household_id}/events"]["post"]["requestBody"]["content"]["application/json"][
        "schema"]["discriminator"]["mapping"]
    assert len(mapping) == 21
    assert api.client.get("/docs").status_code == 200
