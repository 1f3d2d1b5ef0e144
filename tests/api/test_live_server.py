"""A live uvicorn server on a real port, with real concurrent writers on one household."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import httpx2
import pytest

from api import create_app
from bootstrap.settings import Settings
from domain.commands import Command
from domain.history import Actor
from service.registry import Registry
from tests.servers import POVREG, povreg_serve, serving
from tests.support import proposal

WRITERS = 8
ROUNDS = 4


@pytest.fixture
def live(database_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """The API served by uvicorn from its own registry; the store prepared by another one."""
    settings = Settings(database_url=database_url)
    setup = Registry(settings)
    for code, name in [("620422", "会宁县"), ("620422100", "会师镇"), ("620422100201", "南关村")]:
        setup.put_division(code, name, 1000, date(2014, 1, 1))
    tokens = {role: setup.create_token(role) for role in ("recorder", "approver", "subscriber")}
    setup.record(Command(proposal(), Actor("clerk", "recorder"), household_id="H-1"))
    setup.close()
    with serving(create_app(settings)) as base:
        yield base, tokens


def test_concurrent_writers_on_one_household_lose_nothing_and_duplicate_nothing(
    live: tuple[str, dict[str, str]],
) -> None:
    base, tokens = live
    headers = {"Authorization": f"Bearer {tokens['recorder']}"}
    with httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {tokens['approver']}"}) as client:
        approved = client.post("/v1/households/H-1/events", json={"type": "IdentificationApproved",
                                                                   "effective_date": "2014-05-20"})
        assert approved.status_code == 201, approved.text
    barrier = threading.Barrier(WRITERS)

    def writer(n: int) -> dict[str, Any]:
        """Records ROUNDS incomes with expected_version, retrying on 409 with the current version."""
        accepted: list[dict[str, Any]] = []
        conflicts: list[dict[str, Any]] = []
        version = 2
        with httpx2.Client(base_url=base, headers=headers, timeout=60) as client:
            for r in range(ROUNDS):
                body = {"type": "IncomeAssessed", "effective_date": "2015-01-01", "year": 2014,
                        "income_per_capita": 3000 + n * 100 + r, "expected_version": version}
                if r == 0:
                    barrier.wait(timeout=30)  # every writer sends its first command at once
                while True:
                    response = client.post("/v1/households/H-1/events", json=body)
                    if response.status_code == 201:
                        accepted.append(response.json())
                        version = response.json()["version"]
                        break
                    assert response.status_code == 409, response.text
                    assert response.headers["content-type"].startswith("application/problem+json")
                    problem = response.json()
                    assert problem["rule"] == "expected_version_mismatch", problem
                    assert problem["expected_version"] == body["expected_version"]
                    conflicts.append(problem)
                    version = body["expected_version"] = problem["current_version"]
        return {"accepted": accepted, "conflicts": conflicts}

    with ThreadPoolExecutor(WRITERS) as pool:
        results = list(pool.map(writer, range(WRITERS)))

    accepted = [receipt for result in results for receipt in result["accepted"]]
    conflicts = [problem for result in results for problem in result["conflicts"]]
    assert len(accepted) == WRITERS * ROUNDS
    assert len(conflicts) >= WRITERS - 1  # the first round: one winner, every other writer refused
    versions = sorted(receipt["version"] for receipt in accepted)
    assert versions == list(range(3, 3 + WRITERS * ROUNDS))  # no gap, no version twice

    with httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {tokens['subscriber']}"}) as client:
        feed = client.get("/v1/events", params={"limit": 1000}).json()
    incomes = [item for item in feed if item["type"] == "IncomeAssessed"]
    assert sorted(i["data"]["income_per_capita"] for i in incomes) == sorted(
        3000 + n * 100 + r for n in range(WRITERS) for r in range(ROUNDS)
    )
    assert len({i["event_id"] for i in incomes}) == len(incomes) == WRITERS * ROUNDS
    assert {i["event_id"] for i in incomes} == {receipt["event_id"] for receipt in accepted}
    assert [i["version"] for i in feed if i["household_id"] == "H-1"] == list(range(1, 3 + WRITERS * ROUNDS))


def test_concurrent_retries_with_one_idempotency_key_record_once(live: tuple[str, dict[str, str]]) -> None:
    base, tokens = live
    body = {"household_id": "H-2", **proposal(seq=30)}
    barrier = threading.Barrier(WRITERS)

    def send(_: int) -> httpx2.Response:
        with httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {tokens['recorder']}",
                                                  "Idempotency-Key": "retry-42"}, timeout=60) as client:
            barrier.wait(timeout=30)
            return client.post("/v1/households", json=body)

    with ThreadPoolExecutor(WRITERS) as pool:
        responses = list(pool.map(send, range(WRITERS)))
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.json()["event_id"] for r in responses}) == 1
    with httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {tokens['subscriber']}"}) as client:
        feed = client.get("/v1/events").json()
    assert [item["household_id"] for item in feed].count("H-2") == 1


def test_povreg_demo_load_and_serve_entry_points(database_url: str, tmp_path) -> None:
    """The README's run command, as a user runs it: `povreg demo load --if-empty`, then `povreg serve`."""
    env = {**os.environ, "POVREG_DATABASE_URL": database_url}
    loaded = subprocess.run([POVREG, "demo", "load", "--if-empty"], env=env, capture_output=True, text=True,
                            timeout=300)
    assert loaded.returncode == 0, loaded.stderr
    tokens = dict(line.split("=", 1) for line in loaded.stdout.splitlines() if "_TOKEN=pvr_" in line)
    assert set(tokens) == {f"{role.upper()}_TOKEN" for role in ("admin", "investigator", "approver", "recorder",
                                                                 "subscriber")}
    again = subprocess.run([POVREG, "demo", "load", "--if-empty"], env=env, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0 and "not loaded" in again.stdout

    with povreg_serve(database_url, ready="/openapi.json") as base:
        assert httpx2.get(base + "/docs").status_code == 200
        feed = httpx2.get(base + "/v1/events", params={"limit": 500},
                         headers={"Authorization": f"Bearer {tokens['SUBSCRIBER_TOKEN']}"})
        assert feed.status_code == 200
        types = {item["type"] for item in feed.json()}
        assert {"IdentificationProposed", "ExitConfirmed", "EventCorrected", "EventRetracted",
                "ReturnedToPoverty", "HouseholdTransferred"} <= types
        assert all("*" in item["data"]["members"][0]["id_number"] for item in feed.json()
                   if item["type"] == "IdentificationProposed")
