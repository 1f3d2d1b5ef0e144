"""``GET /v1/divisions/{code}/progress``, ``…/revisits-due`` and ``…/without-helper``."""

from __future__ import annotations

from tests.api.conftest import Api, assert_problem
from tests.api.test_commands import late, propose  # noqa: F401 (the fixture)


def test_work_lists_and_progress_over_http(late: Api) -> None:  # noqa: F811
    propose(late)
    approved = late.event("H-1", as_="approver", type="IdentificationApproved", effective_date="2014-05-20")
    assert approved.status_code == 201
    no_helper = late.get("/v1/divisions/620422/without-helper?as_of=2015-01-01")
    assert no_helper.status_code == 200, no_helper.text
    assert [(r["household_id"], r["status_label"]) for r in no_helper.json()["rows"]] == [("H-1", "在档未脱贫")]
    due = late.get("/v1/divisions/620422100201/revisits-due?as_of=2017-01-01")
    assert due.status_code == 200 and due.json()["total"] == 0
    progress = late.get("/v1/divisions/620422/progress?as_of=2017-01-01")
    assert progress.status_code == 200 and progress.json()["years"] == []
    assert_problem(late.get("/v1/divisions/3212/progress", as_="recorder", division="620422"), 403, "out_of_scope")
