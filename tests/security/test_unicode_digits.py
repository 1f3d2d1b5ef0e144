"""Codes and numbers take ASCII digits only: other scripts' digits are refused (422), never
a 500, and nothing is recorded."""

from __future__ import annotations

from datetime import date

import pytest

from domain.divisions import is_prefix, is_registrable, is_scope
from domain.errors import InvalidInput
from service.registry import Registry
from tests.api.conftest import Api, assert_problem
from tests.support import member, proposal

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def wide(text: str) -> str:
    return text.translate(FULL_WIDTH)


def head(api: Api) -> int:
    return api.registry.recorder.max_notification_id() or 0


def test_the_one_home_of_division_codes_refuses_other_digits() -> None:
    for code in ("62", "6204", "620422", "620422100", "620422100201"):
        assert is_prefix(code) and is_scope(code)
        assert not is_prefix(wide(code)) and not is_scope(wide(code))
        assert not is_prefix(code.translate(ARABIC_INDIC))
    assert is_scope("") and not is_prefix("")
    assert is_registrable("620422") and not is_registrable("62") and not is_registrable(wide("620422"))


def test_a_full_width_division_is_refused_and_not_recorded(api: Api) -> None:
    before = head(api)
    response = api.put(f"/v1/divisions/{wide('620423')}", json={"name": "某县", "rural_population": 10,
                                                                   "effective_date": "2014-01-01"})
    assert_problem(response, 422, "invalid_parameters")
    with pytest.raises(InvalidInput):
        api.registry.put_division(wide("620423"), "某县", 10, date(2014, 1, 1))
    assert head(api) == before


def test_full_width_scopes_and_jurisdictions_are_refused(api: Api) -> None:
    before = head(api)
    response = api.post("/v1/tokens", as_="admin", json={"role": "recorder", "division": wide("6204")})
    assert response.status_code == 422, response.text
    with pytest.raises(InvalidInput):
        api.registry.create_token("recorder", wide("6204"))
    response = api.post("/v1/policies", as_="admin", json={"jurisdiction": wide("620422"),
                                                           "effective_date": "2014-01-01",
                                                           "source": "某文件", "poverty_line": 2800})
    assert response.status_code == 422, response.text
    assert head(api) == before


def test_full_width_codes_in_reads_are_refused(api: Api) -> None:
    for path in (f"/v1/rosters/{wide('620422')}", f"/v1/divisions/{wide('620422')}",
                 f"/v1/divisions/{wide('620422')}/incidence", f"/v1/adjustments/{wide('620422')}"
                 "?start=2014-01-01&end=2014-12-31"):
        response = api.get(path, as_="admin")
        assert response.status_code == 422, (path, response.text)


def test_full_width_village_and_id_numbers_in_a_proposal_are_refused(api: Api) -> None:
    api.clock.set("2015-01-01T00:00:00+00:00")
    before = head(api)
    response = api.post("/v1/households", json=proposal(village=wide("620422100201")))
    assert response.status_code == 422, response.text
    person = member(7)
    person["id_number"] = wide(person["id_number"])
    response = api.post("/v1/households", json=proposal(members=[person]))
    assert response.status_code == 422, response.text
    assert head(api) == before


def test_registry_refuses_full_width_codes_directly(county: Registry) -> None:
    with pytest.raises(InvalidInput) as refused:
        county.put_division(wide("620422100203"), "某村", 10, date(2014, 1, 1))
    assert refused.value.rule == "division_code_format"
