"""Policy rules checked when an event is recorded (docs/domain.md, "Events").

Each rule reads the household's state just before the event (in valid time) and
the policy in force for the household's division on the event's effective date.
Rules that need other households (ID numbers, county quotas) are checked by the
application service, which can see them; they are in :mod:`domain.registry`.
"""

from __future__ import annotations

from datetime import timedelta

from domain.errors import InvalidInput, RuleViolation
from domain.events import EventBody, ExitConfirmed, ExitProposed, IdentificationApproved
from domain.policy import ResolvedPolicy
from domain.state import HouseholdState


def check_rules(before: HouseholdState, body: EventBody, policy: ResolvedPolicy) -> None:
    """Raise RuleViolation if ``body`` breaks a policy rule in force on its date."""
    on = body.effective_date
    match body:
        case IdentificationApproved():
            ends = before.proposed_on + timedelta(days=policy.identification_notice_days)
            if on < ends:
                raise RuleViolation(
                    f"identification approval on {on} comes before the public notice of "
                    f"{policy.identification_notice_days} days from {before.proposed_on} "
                    f"has elapsed (earliest {ends})",
                    rule="identification_notice_period",
                    earliest=ends.isoformat(),
                )
        case ExitProposed():
            line = policy.poverty_line
            if line is None:
                raise InvalidInput(
                    f"no poverty line is in force for {before.division_code} on {on}: exit cannot be judged",
                    rule="no_policy_in_force",
                )
            income = before.income
            if income.per_capita < line:
                raise RuleViolation(
                    f"exit needs income at or above the poverty line in force on {on} "
                    f"({line:g} yuan); the latest assessed income is {income.per_capita:g} "
                    f"yuan ({income.year})",
                    rule="exit_income_below_line",
                    poverty_line=line,
                    income_per_capita=income.per_capita,
                )
            missing = body.guarantees.missing()
            if missing:
                raise RuleViolation(
                    "exit needs 两不愁三保障 and safe water all secured; not secured: "
                    + ", ".join(missing),
                    rule="exit_guarantees",
                    missing=missing,
                )
        case ExitConfirmed():
            # household_acknowledged is checked as input (ExitConfirmed's validator).
            assert before.exit_proposed_on is not None
            ends = before.exit_proposed_on + timedelta(days=policy.exit_notice_days)
            if on < ends:
                raise RuleViolation(
                    f"exit confirmation on {on} comes before the public notice of "
                    f"{policy.exit_notice_days} days from {before.exit_proposed_on} has "
                    f"elapsed (earliest {ends})",
                    rule="exit_notice_period",
                    earliest=ends.isoformat(),
                )
            if policy.no_exit_in_year_of_entry:
                entries = [d for d in (before.approved_on, before.returned_on) if d]
                if entries and max(entries).year == on.year:
                    raise RuleViolation(
                        f"a household identified or returned to poverty in {on.year} does not "
                        f"exit in the same year (当年新识别或返贫原则上不能退出)",
                        rule="no_exit_in_year_of_entry",
                    )
