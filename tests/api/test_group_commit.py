"""Group commit: concurrent HTTP writes share transactions, each answered on its own, in recording order."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from itertools import pairwise
from typing import Any

import httpx2
import pytest

from api import create_app
from bootstrap.settings import Settings
from domain.commands import Command, Receipt
from domain.errors import DomainError
from domain.history import Actor
from service.groupcommit import GroupCommitter
from service.registry import Registry
from tests.servers import povreg_serve, serving
from tests.support import Clock, proposal

CLIENTS = 12
WRITES = 5
CLERK = Actor("clerk", "recorder", "620422")


def _prepare(database_url: str) -> dict[str, str]:
    """Divisions, tokens, three households on the register (H-1..H-3) and one only proposed (H-9)."""
    setup = Registry(Settings(database_url=database_url))
    try:
        for code, name in [("620422", "会宁县"), ("620422100", "会师镇"), ("620422100201", "南关村")]:
            setup.put_division(code, name, 1000, date(2014, 1, 1))
        approver = Actor("office", "approver", "620422")
        for n in (1, 2, 3, 9):
            setup.record(Command(proposal(seq=n * 10), CLERK, household_id=f"H-{n}"))
            if n != 9:
                setup.record(Command({"type": "IdentificationApproved", "effective_date": "2014-05-20"}, approver,
                                     household_id=f"H-{n}"))
        return {role: setup.create_token(role) for role in ("recorder", "subscriber")}
    finally:
        setup.close()


def _helper(n: int) -> dict[str, Any]:
    return {"type": "HelperAssigned", "effective_date": "2015-03-01", "helper_name": f"帮扶干部{n}", "unit": "县农业局"}


def _hammer(base: str, tokens: dict[str, str]) -> tuple[list[dict[str, Any]], list[httpx2.Response]]:
    """CLIENTS threads at once, WRITES each: most to H-1..H-3, every fifth to H-9 (refused: only proposed)."""
    barrier = threading.Barrier(CLIENTS)

    def client(c: int) -> list[tuple[bool, httpx2.Response]]:
        out = []
        with httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {tokens['recorder']}"},
                          timeout=60) as http:
            barrier.wait(timeout=30)
            for w in range(WRITES):
                n = c * WRITES + w
                refused = n % 5 == 4
                household = "H-9" if refused else f"H-{1 + n % 3}"
                out.append((refused, http.post(f"/v1/households/{household}/events", json=_helper(n))))
        return out

    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = [a for result in pool.map(client, range(CLIENTS)) for a in result]
    accepted, refused = [], []
    for should_refuse, response in answers:
        if should_refuse:
            assert response.status_code == 409, response.text
            assert response.json()["rule"] == "illegal_transition", response.text
            refused.append(response)
        else:
            assert response.status_code == 201, response.text
            accepted.append(response.json())
    return accepted, refused


def _assert_recorded_in_order(base: str, tokens: dict[str, str], accepted: list[dict[str, Any]]) -> None:
    with httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {tokens['subscriber']}"}) as http:
        feed = http.get("/v1/events", params={"limit": 1000}).json()
    helpers = [item for item in feed if item["type"] == "HelperAssigned"]
    # Every acknowledged write is there once; the refused ones recorded nothing.
    assert sorted(item["event_id"] for item in helpers) == sorted(r["event_id"] for r in accepted)
    assert not [item for item in feed if item["household_id"] == "H-9" and item["type"] != "IdentificationProposed"]
    # Recording moments strictly increase in notification order, across the groups.
    moments = [datetime.fromisoformat(item["recorded_at"]) for item in feed]
    positions = [item["position"] for item in feed]
    assert positions == sorted(positions)
    assert all(a < b for a, b in pairwise(moments)), moments
    # Versions per household without gap or repeat, as receipts said.
    for household in ("H-1", "H-2", "H-3"):
        versions = [item["version"] for item in feed if item["household_id"] == household]
        assert versions == list(range(1, len(versions) + 1))


@pytest.fixture
def live(database_url: str) -> Iterator[tuple[str, dict[str, str], Registry]]:
    tokens = _prepare(database_url)
    registry = Registry(Settings(database_url=database_url, group_commit=True, group_commit_wait_ms=2))
    try:
        with serving(create_app(registry)) as base:
            yield base, tokens, registry
    finally:
        registry.close()


def test_concurrent_http_writes_land_in_recording_order_and_refusals_record_nothing(
    live: tuple[str, dict[str, str], Registry],
) -> None:
    base, tokens, registry = live
    accepted, refused = _hammer(base, tokens)
    assert len(accepted) == CLIENTS * WRITES * 4 // 5 and len(refused) == CLIENTS * WRITES // 5
    _assert_recorded_in_order(base, tokens, accepted)
    committer = registry._committer
    assert committer is not None and committer.commands == CLIENTS * WRITES


def test_a_group_is_one_transaction_and_each_command_gets_its_own_answer(county: Registry, clock: Clock) -> None:
    """Deterministic: while the write gate is held, one command waits in the committer and five
    queue behind it; they are then recorded as two groups, the refused one changing nothing."""
    clock.set("2016-01-04T00:00:00+00:00")
    county.record(Command(proposal(seq=10), CLERK, household_id="H-1"))
    county.record(Command({"type": "IdentificationApproved", "effective_date": "2014-05-20"},
                          Actor("office", "approver", "620422"), household_id="H-1"))
    county.record(Command(proposal(seq=90), CLERK, household_id="H-9"))
    committer = GroupCommitter(county, wait=0)
    answers: dict[int, Receipt | DomainError] = {}

    def submit(n: int) -> None:
        household = "H-9" if n == 3 else "H-1"
        try:
            answers[n] = committer.record(Command(_helper(n), CLERK, household_id=household))
        except DomainError as exc:
            answers[n] = exc

    _submit_in_two_groups(county, committer, submit, 6)
    assert (committer.groups, committer.commands) == (2, 6)
    assert isinstance(answers[3], DomainError) and answers[3].rule == "illegal_transition"
    receipts = [answers[n] for n in (0, 1, 2, 4, 5)]
    assert all(isinstance(r, Receipt) for r in receipts)
    assert sorted(r.version for r in receipts) == [3, 4, 5, 6, 7]  # type: ignore[union-attr]
    assert len(county.history("H-9")) == 1  # the refused command recorded nothing
    assert len(county.history("H-1")) == 7


def _submit_in_two_groups(registry: Registry, committer: GroupCommitter, submit: Any, n: int) -> None:
    """``submit(0)`` … ``submit(n - 1)`` from n threads, the first alone in a group: the gate is held
    while the committer has taken it, until the others wait in its queue (then they form one group)."""
    threads = [threading.Thread(target=submit, args=(i,)) for i in range(n)]
    try:
        with registry.gate.open():
            threads[0].start()
            _wait_for(lambda: committer._queue.qsize() == 0 and committer._thread is not None)
            time.sleep(0.05)  # the committer has taken it and waits for the gate
            for t in threads[1:]:
                t.start()
            _wait_for(lambda: committer._queue.qsize() == n - 1)
        for t in threads:
            t.join(timeout=30)
    finally:
        committer.close()


def _wait_for(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_serve_with_two_workers_keeps_recording_order(database_url: str) -> None:
    """``povreg serve --workers 2``: two processes, one store; the write gate orders their writes."""
    tokens = _prepare(database_url)
    with povreg_serve(database_url, "--workers", "2", timeout=60) as base:
        time.sleep(1)  # the second worker
        accepted, _ = _hammer(base, tokens)
        _assert_recorded_in_order(base, tokens, accepted)


def test_a_failed_group_is_retried_command_by_command(county: Registry, clock: Clock,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A group whose transaction fails for another reason than a refusal (here: the database goes
    away for groups, and for one command alone) is retried one command per transaction, so the
    failure stays with the command it belongs to."""
    clock.set("2016-01-04T00:00:00+00:00")
    county.record(Command(proposal(seq=10), CLERK, household_id="H-1"))
    county.record(Command({"type": "IdentificationApproved", "effective_date": "2014-05-20"},
                          Actor("office", "approver", "620422"), household_id="H-1"))
    real = county.record_many

    def flaky(commands: Any) -> Any:
        if len(commands) > 1 or commands[0].payload["helper_name"] == "帮扶干部2":
            raise ConnectionError("the database went away")
        return real(commands)

    monkeypatch.setattr(county, "record_many", flaky)
    committer = GroupCommitter(county, wait=0)
    answers: dict[int, Any] = {}

    def submit(n: int) -> None:
        try:
            answers[n] = committer.record(Command(_helper(n), CLERK, household_id="H-1"))
        except Exception as exc:
            answers[n] = exc

    _submit_in_two_groups(county, committer, submit, 4)
    assert isinstance(answers[2], ConnectionError)
    assert all(isinstance(answers[n], Receipt) for n in (0, 1, 3))
    assert [e.body.helper_name for e in county.history("H-1")[2:]] == [  # type: ignore[attr-defined]
        "帮扶干部0", "帮扶干部1", "帮扶干部3"]
