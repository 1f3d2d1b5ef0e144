"""Ordinary changes of a registered household: a member's details, its guarantees outside
an exit, its attribute, and a new head when the head leaves."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from domain.errors import RuleViolation
from domain.events import AttributeChanged, GuaranteesAssessed, MembersChanged, MemberUpdated, parse_event
from domain.vocab import Attribute, Health, Labour, Relation, Status

from .builders import History, guarantees, member, person_id, proposed, registered_poor


def state(h: History):  # type: ignore[no-untyped-def]
    return h.last_steps[-1].state


def test_a_member_update_changes_only_what_it_names() -> None:
    h = registered_poor()
    spouse = person_id(2)
    h.record(MemberUpdated(effective_date=date(2015, 3, 1), id_number=spouse, health="serious_illness"))
    updated = next(m for m in state(h).members if m.id_number == spouse)
    assert (updated.health, updated.labour, updated.in_school) == (Health.SERIOUS_ILLNESS, Labour.FULL, False)
    h.record(MemberUpdated(effective_date=date(2015, 4, 1), id_number=spouse, labour="none", in_school=True))
    updated = next(m for m in state(h).members if m.id_number == spouse)
    assert (updated.health, updated.labour, updated.in_school) == (Health.SERIOUS_ILLNESS, Labour.NONE, True)


def test_a_member_update_needs_a_member_and_a_change() -> None:
    h = registered_poor()
    with pytest.raises(RuleViolation) as err:
        h.record(MemberUpdated(effective_date=date(2015, 3, 1), id_number=person_id(99), labour="weak"))
    assert err.value.rule == "unknown_member"
    with pytest.raises(ValidationError):
        MemberUpdated(effective_date=date(2015, 3, 1), id_number=person_id(2))


def test_guarantees_assessed_outside_an_exit() -> None:
    h = registered_poor()
    assert state(h).guarantees.missing() == ["medical", "housing"]
    h.record(GuaranteesAssessed(effective_date=date(2015, 6, 1), guarantees=guarantees(housing=False),
                                evidence=["核查-2015-06"]))
    assert state(h).guarantees.missing() == ["housing"]
    assert state(h).status == Status.POOR


def test_attribute_changed_by_civil_affairs() -> None:
    h = registered_poor()
    h.record(AttributeChanged(effective_date=date(2015, 6, 1), attribute="dibao", reason="纳入低保"))
    assert state(h).attribute == Attribute.DIBAO


def test_the_new_events_wait_for_the_approval() -> None:
    h = History()
    h.record(proposed("2014-05-02"))
    for body in (
        AttributeChanged(effective_date=date(2014, 5, 5), attribute="dibao"),
        GuaranteesAssessed(effective_date=date(2014, 5, 5), guarantees=guarantees()),
        MemberUpdated(effective_date=date(2014, 5, 5), id_number=person_id(1), labour="weak"),
    ):
        with pytest.raises(RuleViolation) as err:
            h.record(body)
        assert err.value.rule == "illegal_transition"


def test_when_the_head_dies_the_spouse_becomes_head() -> None:
    h = registered_poor()
    head, spouse = person_id(1), person_id(2)
    with pytest.raises(RuleViolation) as err:
        h.record(MembersChanged(effective_date=date(2016, 1, 5), left=[head], reason="户主去世"))
    assert err.value.rule == "one_head" and "new_head" in err.value.detail
    h.record(MembersChanged(effective_date=date(2016, 1, 5), left=[head], new_head=spouse, reason="户主去世"))
    assert [(m.id_number, m.relation) for m in state(h).members] == [(spouse, Relation.HEAD)]


def test_a_joining_member_can_become_head_and_the_old_head_must_go() -> None:
    h = registered_poor()
    newcomer = member(3, "other", "王六")
    with pytest.raises(RuleViolation) as err:  # two heads after
        h.record(MembersChanged(effective_date=date(2016, 1, 5), joined=[newcomer], new_head=newcomer.id_number))
    assert err.value.rule == "one_head"
    h.record(MembersChanged(effective_date=date(2016, 1, 5), joined=[newcomer], left=[person_id(1)],
                            new_head=newcomer.id_number))
    assert {m.relation for m in state(h).members if m.id_number == newcomer.id_number} == {Relation.HEAD}


def test_the_new_events_parse_from_json() -> None:
    body = parse_event({"type": "MemberUpdated", "effective_date": "2015-01-01", "id_number": person_id(2),
                        "labour": "weak"})
    assert isinstance(body, MemberUpdated)
    assert isinstance(parse_event({"type": "AttributeChanged", "effective_date": "2015-01-01",
                                   "attribute": "tekun"}), AttributeChanged)
