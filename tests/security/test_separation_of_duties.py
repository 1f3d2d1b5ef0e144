"""Separation of duties: a recorder cannot undo an approver's decision by retracting or
correcting it (403, rule correction_needs_role), and nothing is recorded."""

from __future__ import annotations

from tests.api.conftest import Api, assert_problem
from tests.support import proposal


def test_a_recorder_cannot_retract_or_correct_an_approval(api: Api) -> None:
    api.clock.set("2015-01-01T00:00:00+00:00")
    assert api.post("/v1/households", json={"household_id": "H-SOD", **proposal()}).status_code == 201
    approval = api.event("H-SOD", as_="approver", type="IdentificationApproved", effective_date="2014-05-20")
    assert approval.status_code == 201, approval.text
    before = api.registry.recorder.max_notification_id()
    retract = api.event("H-SOD", as_="recorder", type="EventRetracted", effective_date="2014-12-01",
                        target_event_id=approval.json()["event_id"], reason="撤销批准")
    assert_problem(retract, 403, "correction_needs_role")
    correct = api.event("H-SOD", as_="recorder", type="EventCorrected", effective_date="2014-12-01",
                        target_event_id=approval.json()["event_id"], reason="改日期",
                        changes={"effective_date": "2014-06-01"})
    assert_problem(correct, 403, "correction_needs_role")
    assert api.registry.recorder.max_notification_id() == before
    card = api.get("/v1/households/H-SOD?as_of=2014-12-31")
    assert card.json()["status"] == "poor", card.text
