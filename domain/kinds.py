"""Decisions, facts and changes of record: how each kind of event may change history.

* A **decision** is an act of an office under the rules in force (approve, exit,
  remove …). A new decision, however late, is judged by the rules of its date against
  the history as known now, and refused if it breaks one.
* A **fact** is an observation about the household (its income, its members, their
  details, its guarantees). A well-formed fact — new, late or a correction of an
  earlier fact — is always accepted: facts never move the status, and where one shows
  that an earlier decision broke a rule, that decision carries a finding
  (:mod:`domain.findings`) instead of the fact being refused.
* A **change of record** (``EventCorrected``, ``EventRetracted``) takes the kind of the
  event it targets: correcting or retracting a decision is itself a decision (the role
  that may record the target's type, the state machine must still hold); correcting a
  fact is a fact.

One table classifies every event type; a type not in it is a decision (the strict kind),
so a new event type is judged by the rules until it is listed here as a fact.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    DECISION = "decision"
    FACT = "fact"
    CHANGE = "change"


KINDS: dict[str, Kind] = {
    # decisions of an office
    "IdentificationProposed": Kind.DECISION,
    "IdentificationApproved": Kind.DECISION,
    "IdentificationRejected": Kind.DECISION,
    "AssistanceMeasureAssigned": Kind.DECISION,
    "AssistanceMeasureCompleted": Kind.DECISION,
    "HelperAssigned": Kind.DECISION,
    "ExitProposed": Kind.DECISION,
    "ExitConfirmed": Kind.DECISION,
    "ExitWithdrawn": Kind.DECISION,
    "ReturnedToPoverty": Kind.DECISION,
    "Revisited": Kind.DECISION,
    "RemovedAsIneligible": Kind.DECISION,
    "HouseholdTransferred": Kind.DECISION,
    "HouseholdClosed": Kind.DECISION,
    "AttributeChanged": Kind.DECISION,
    # facts about the household
    "IncomeAssessed": Kind.FACT,
    "MembersChanged": Kind.FACT,
    "MemberUpdated": Kind.FACT,
    "GuaranteesAssessed": Kind.FACT,
    # changes of record: the kind of their target
    "EventCorrected": Kind.CHANGE,
    "EventRetracted": Kind.CHANGE,
}


def kind_of(event_type: str) -> Kind:
    """The kind of an event type (a type not listed is a decision)."""
    return KINDS.get(event_type, Kind.DECISION)


def is_fact(event_type: str) -> bool:
    return KINDS.get(event_type) is Kind.FACT


def is_decision(event_type: str) -> bool:
    return kind_of(event_type) is Kind.DECISION
