"""Idempotency records belong to the token that used the key (by its id, not its name),
and are looked up only once the request is authorised."""

from __future__ import annotations

from tests.api.conftest import Api, assert_problem
from tests.support import proposal


def test_a_namesake_out_of_scope_gets_no_receipt(api: Api) -> None:
    api.clock.set("2015-01-01T00:00:00+00:00")
    mine = api.registry.create_token("recorder", "620422100", name="alice")
    theirs = api.registry.create_token("recorder", "620422101", name="alice")
    body = {"household_id": "H-ALICE", **proposal(village="620422100201")}
    first = api.client.post("/v1/households", json=body,
                            headers={"Authorization": f"Bearer {mine}", "Idempotency-Key": "k-1"})
    assert first.status_code == 201, first.text

    replay = api.client.post("/v1/households", json=body,
                             headers={"Authorization": f"Bearer {theirs}", "Idempotency-Key": "k-1"})
    assert_problem(replay, 403, "out_of_scope")
    assert "Idempotent-Replayed" not in replay.headers


def test_a_namesake_in_scope_does_not_share_keys(api: Api) -> None:
    api.clock.set("2015-01-01T00:00:00+00:00")
    one = api.registry.create_token("recorder", "620422", name="bob")
    two = api.registry.create_token("recorder", "620422", name="bob")
    first = api.client.post("/v1/households", json={"household_id": "H-BOB-1", **proposal(seq=31)},
                            headers={"Authorization": f"Bearer {one}", "Idempotency-Key": "same"})
    assert first.status_code == 201, first.text
    other = api.client.post("/v1/households", json={"household_id": "H-BOB-2", **proposal(seq=41)},
                            headers={"Authorization": f"Bearer {two}", "Idempotency-Key": "same"})
    assert other.status_code == 201, other.text
    assert other.json()["household_id"] == "H-BOB-2"
    again = api.client.post("/v1/households", json={"household_id": "H-BOB-1", **proposal(seq=31)},
                            headers={"Authorization": f"Bearer {one}", "Idempotency-Key": "same"})
    assert again.status_code in (200, 201) and again.headers.get("Idempotent-Replayed") == "true", again.text
