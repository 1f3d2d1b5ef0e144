"""A person already in an active household outside the caller's scope: 409, and the
refusal names neither that household nor its division (no enumeration of ID numbers)."""

from __future__ import annotations

from tests.api.conftest import Api, assert_problem
from tests.support import member, proposal


def test_conflict_outside_scope_names_nothing(api: Api) -> None:
    api.clock.set("2015-01-01T00:00:00+00:00")
    person = member(11)
    theirs = api.post("/v1/households", as_="recorder", division="620422101",
                      json={"household_id": "H-OTHER-1", **proposal(village="620422101203", members=[person])})
    assert theirs.status_code == 201, theirs.text
    approve = api.event("H-OTHER-1", as_="approver", type="IdentificationApproved", effective_date="2014-05-20")
    assert approve.status_code == 201, approve.text
    api.token("recorder", "620422100")
    before = api.registry.recorder.max_notification_id()

    response = api.post("/v1/households", as_="recorder", division="620422100",
                        json={"household_id": "H-MINE-1", **proposal(village="620422100201",
                                                                       members=[person, member(12, "spouse")])})
    body = assert_problem(response, 409, "person_in_another_household")
    assert "H-OTHER-1" not in response.text and "620422101" not in response.text, body
    assert person["id_number"] not in response.text
    assert api.registry.recorder.max_notification_id() == before


def test_conflict_inside_scope_still_says_which_household(api: Api) -> None:
    api.clock.set("2015-01-01T00:00:00+00:00")
    person = member(21)
    first = api.post("/v1/households", json={"household_id": "H-A", **proposal(members=[person])})
    assert first.status_code == 201, first.text
    response = api.post("/v1/households", json={"household_id": "H-B", **proposal(members=[person])})
    body = assert_problem(response, 409, "person_in_another_household")
    assert body.get("other_household_id") == "H-A", body
