"""HTTP fixtures: the real app over the real store (SQLite and PostgreSQL), one token per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from api import create_app
from service.registry import Registry
from tests.support import Clock

ROLES = ("recorder", "approver", "investigator", "subscriber", "admin")


@dataclass
class Api:
    """A TestClient plus tokens: ``api.post(path, as_="recorder", json=…)``."""

    client: TestClient
    registry: Registry
    clock: Clock
    tokens: dict[str, str]

    def token(self, role: str, division: str = "") -> str:
        key = f"{role}@{division}"
        if key not in self.tokens:
            self.tokens[key] = self.registry.create_token(role, division, name=f"{role}-{division or 'all'}")
        return self.tokens[key]

    def headers(self, as_: str | None, division: str = "", **extra: str) -> dict[str, str]:
        headers = dict(extra)
        if as_ is not None:
            headers["Authorization"] = f"Bearer {self.token(as_, division)}"
        return headers

    def request(self, method: str, path: str, as_: str | None = "admin", division: str = "",
                headers: dict[str, str] | None = None, **kw: Any) -> httpx2.Response:
        return self.client.request(method, path, headers=self.headers(as_, division, **(headers or {})), **kw)

    def get(self, path: str, as_: str | None = "investigator", **kw: Any) -> httpx2.Response:
        return self.request("GET", path, as_=as_, **kw)

    def post(self, path: str, as_: str | None = "recorder", **kw: Any) -> httpx2.Response:
        return self.request("POST", path, as_=as_, **kw)

    def put(self, path: str, as_: str | None = "admin", **kw: Any) -> httpx2.Response:
        return self.request("PUT", path, as_=as_, **kw)

    def event(self, hid: str, as_: str = "recorder", **body: Any) -> httpx2.Response:
        return self.post(f"/v1/households/{hid}/events", as_=as_, json=body)


@pytest.fixture
def api(county: Registry, clock: Clock) -> Iterator[Api]:
    """The app over the ``county`` registry (one county, two townships, three villages)."""
    with TestClient(create_app(county), raise_server_exceptions=False) as client:
        api = Api(client, county, clock, {})
        for role in ROLES:
            api.token(role)
        yield api


def assert_problem(response: httpx2.Response, status: int, rule: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status and body["rule"] == rule, body
    assert body["type"] == f"urn:povreg:problem:{rule}"
    assert body["title"] and rule in body["detail"]
    return body


def answer_schema(api: Api, method: str, path: str) -> str:
    """The name of the schema the OpenAPI document gives the JSON of a path's 200 answer."""
    content = api.client.get("/openapi.json").json()["paths"][path][method]["responses"]["200"]["content"]
    return str(content["application/json"]["schema"]["$ref"]).removeprefix("#/components/schemas/")
