"""Tokens have an id and an expiry, can be listed (never their secrets) and revoked,
through the API and the CLI; a revoked or expired token gets 401 with its rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from cli import app
from domain.errors import InvalidInput
from tests.api.conftest import Api, assert_problem


def test_issue_list_revoke_through_the_api(api: Api) -> None:
    response = api.post("/v1/tokens", as_="admin", json={"role": "recorder", "division": "620422",
                                                         "name": "村文书甲"})
    assert response.status_code == 201, response.text
    issued = response.json()
    assert set(issued) == {"id", "token", "role", "division", "expires_at"}
    left = datetime.fromisoformat(issued["expires_at"]) - datetime.now(UTC)
    assert timedelta(days=89, hours=23) < left <= timedelta(days=90), left
    secret = issued["token"]
    ok = api.client.get("/v1/rosters/620422", headers={"Authorization": f"Bearer {secret}"})
    assert ok.status_code == 200, ok.text

    listed = api.get("/v1/tokens", as_="admin")
    assert listed.status_code == 200, listed.text
    assert secret not in listed.text
    mine = [t for t in listed.json()["tokens"] if t["id"] == issued["id"]]
    assert mine and mine[0]["state"] == "active" and mine[0]["division"] == "620422"

    assert api.request("DELETE", f"/v1/tokens/{issued['id']}", as_="admin").status_code == 204
    refused = api.client.get("/v1/rosters/620422", headers={"Authorization": f"Bearer {secret}"})
    assert_problem(refused, 401, "token_revoked")
    again = api.request("DELETE", f"/v1/tokens/{issued['id']}", as_="admin")
    assert again.status_code == 204
    states = {t["id"]: t["state"] for t in api.get("/v1/tokens", as_="admin").json()["tokens"]}
    assert states[issued["id"]] == "revoked"


def test_expiry_is_enforced_and_bounded(api: Api) -> None:
    response = api.post("/v1/tokens", as_="admin", json={"role": "investigator", "expires_in_days": 2})
    assert response.status_code == 201, response.text
    secret = response.json()["token"]
    assert api.client.get("/v1/rosters/620422", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    api.registry.token_clock = lambda: datetime.now(UTC) + timedelta(days=2, seconds=1)
    assert_problem(api.client.get("/v1/rosters/620422", headers={"Authorization": f"Bearer {secret}"}),
                   401, "token_expired")
    for days in (0, 366):
        bad = api.post("/v1/tokens", as_="admin", json={"role": "investigator", "expires_in_days": days})
        assert bad.status_code == 422, bad.text
    with pytest.raises(InvalidInput):
        api.registry.create_token("recorder", expires_in_days=400)


def test_list_and_revoke_are_admin_only_and_scoped(api: Api) -> None:
    outside = api.registry.issue_token("recorder", "620422101")
    inside = api.registry.issue_token("recorder", "620422100")
    assert_problem(api.get("/v1/tokens", as_="recorder"), 403, "wrong_role")
    assert_problem(api.request("DELETE", f"/v1/tokens/{inside.id}", as_="recorder"), 403, "wrong_role")
    scoped = api.get("/v1/tokens", as_="admin", division="620422100")
    ids = {t["id"] for t in scoped.json()["tokens"]}
    assert inside.id in ids and outside.id not in ids
    response = api.request("DELETE", f"/v1/tokens/{outside.id}", as_="admin", division="620422100")
    assert_problem(response, 404, "unknown_token")
    assert api.registry.authenticate(outside.token).role == "recorder"
    assert_problem(api.request("DELETE", "/v1/tokens/tok_nosuch", as_="admin"), 404, "unknown_token")


def test_cli_create_list_revoke(database_url: str) -> None:
    runner = CliRunner()
    env = {"POVREG_DATABASE_URL": database_url}
    created = runner.invoke(app, ["token", "create", "--role", "approver", "--division", "6204",
                                  "--expires-in-days", "30"], env=env)
    assert created.exit_code == 0, created.output
    lines = created.output.strip().splitlines()
    assert lines[0].startswith("id: tok_")
    token_id, secret = lines[0].removeprefix("id: "), lines[-1]
    assert secret.startswith("pvr_") and " " not in secret
    listed = runner.invoke(app, ["token", "list"], env=env)
    assert listed.exit_code == 0 and token_id in listed.output and secret not in listed.output
    revoked = runner.invoke(app, ["token", "revoke", token_id], env=env)
    assert revoked.exit_code == 0, revoked.output
    from bootstrap.settings import Settings
    from service.registry import Registry

    registry = Registry(Settings(database_url=database_url))
    try:
        with pytest.raises(Exception) as refused:
            registry.authenticate(secret)
        assert getattr(refused.value, "rule", None) == "token_revoked"
    finally:
        registry.close()
    unknown = runner.invoke(app, ["token", "revoke", "tok_nosuch"], env=env)
    assert unknown.exit_code != 0
