"""Policy rules checked when an event is recorded (the "rules" of each event type).

Each rule reads the household's state just before the event (in valid time) and the
policy book as known when the event is decided; the policy in force for the household's
division on the event's effective date applies, and an income is measured against the
line in force for its own income year. Rules that need other households (ID numbers,
county quotas) are checked by the application service, which can see them; they are in
:mod:`domain.registry`.
"""

from __future__ import annotations

from datetime import date, timedelta

from domain.errors import InvalidInput, RuleViolation
from domain.events import EventBody, ExitConfirmed, ExitProposed, IdentificationApproved, IdentificationProposed
from domain.policy import PolicyBook, ResolvedPolicy, poverty_line_for
from domain.state import HouseholdState
from domain.values import Member
from domain.vocab import EligibilityException, Labour, label_zh

#: Events whose rules read the policy (every other event passes untouched).
JUDGED = frozenset({"IdentificationProposed", "IdentificationApproved", "ExitProposed", "ExitConfirmed"})


def has_labour_capacity(members: tuple[Member, ...] | list[Member]) -> bool:
    """有劳动能力的家庭: at least one member who can work, fully or weakly. A household
    without one is a 兜底 household, held to the general line."""
    return any(m.labour in (Labour.FULL, Labour.WEAK) for m in members)


def resolve(policies: PolicyBook, division_code: str, on: date) -> ResolvedPolicy:
    try:
        return policies.resolve(division_code, on)
    except LookupError as exc:
        raise InvalidInput(
            f"{on} 时 {division_code} 没有生效的政策: {exc}",
            rule="no_policy_in_force",
            detail_en=f"no policy is in force for {division_code} on {on}: {exc}",
        ) from None


def line_for(policies: PolicyBook, division_code: str, year: int, members: tuple[Member, ...] | list[Member]) -> float:
    """The poverty line an income of ``year`` is measured against, or refuse if none."""
    try:
        line, _ = poverty_line_for(policies, division_code, year, has_labour_capacity(members))
    except LookupError:
        line = None
    if line is None:
        raise InvalidInput(
            f"{year} 年没有生效的扶贫标准({division_code}),无法判断收入",
            rule="no_policy_in_force",
            detail_en=f"no poverty line is in force for {division_code} for the income year {year}: "
            "the income cannot be judged",
        )
    return line


def check_rules(before: HouseholdState | None, body: EventBody, policies: PolicyBook) -> None:
    """Raise RuleViolation if ``body`` breaks a policy rule in force on its date."""
    if body.type not in JUDGED:
        return
    on = body.effective_date
    match body:
        case IdentificationProposed():
            _check_eligibility(body, policies)
        case IdentificationApproved():
            assert before is not None
            policy = resolve(policies, before.division_code, on)
            _check_notice(on, before.proposed_on, policy.identification_notice_days, "identification_notice_period",
                          "识别审定日期", "identification approval")
        case ExitProposed():
            assert before is not None
            _check_exit_income(before, body, policies)
            missing = body.guarantees.missing()
            if missing:
                raise RuleViolation(
                    "退出须两不愁三保障及饮水安全全部达标;未达标: "
                    + "、".join(label_zh("guarantee", k) or k for k in missing),
                    rule="exit_guarantees",
                    detail_en="exit needs 两不愁三保障 and safe water all secured; not secured: "
                    + ", ".join(missing),
                    missing=missing,
                )
        case ExitConfirmed():
            # household_acknowledged is checked as input (ExitConfirmed's validator).
            assert before is not None and before.exit_proposed_on is not None
            policy = resolve(policies, before.division_code, on)
            _check_notice(on, before.exit_proposed_on, policy.exit_notice_days, "exit_notice_period",
                          "退出确认日期", "exit confirmation")
            if policy.no_exit_in_year_of_entry:
                entries = [d for d in (before.approved_on, before.returned_on) if d]
                if entries and max(entries).year == on.year:
                    raise RuleViolation(
                        f"{on.year} 年新识别或返贫的贫困户原则上当年不能退出",
                        rule="no_exit_in_year_of_entry",
                        detail_en=f"a household identified or returned to poverty in {on.year} does not "
                        f"exit in the same year (当年新识别或返贫原则上不能退出)",
                    )


def _check_notice(on: date, since: date, days: int, rule: str, decision_zh: str, decision_en: str) -> None:
    """A decision on ``on`` comes after the public notice of ``days`` days from ``since`` (公示期)."""
    ends = since + timedelta(days=days)
    if on < ends:
        raise RuleViolation(
            f"{decision_zh} {on} 早于公示期满: 自 {since} 起公示 {days} 天,最早 {ends}",
            rule=rule,
            detail_en=f"{decision_en} on {on} comes before the public notice of {days} days from {since} "
            f"has elapsed (earliest {ends})",
            earliest=ends.isoformat(),
        )


def _check_eligibility(body: IdentificationProposed, policies: PolicyBook) -> None:
    """Identification: income below the line of its income year, or an admitted exception."""
    exception = body.eligibility_exception
    if exception is not None:
        policy = resolve(policies, body.division_code, body.effective_date)
        if exception not in policy.eligibility_exceptions:
            allowed = [e.value for e in policy.eligibility_exceptions]
            raise RuleViolation(
                f"识别例外“{label_zh('eligibility_exception', exception)}”不在 {body.effective_date} "
                f"生效政策允许的例外之列",
                rule="eligibility_exception_not_allowed",
                detail_en=f"the eligibility exception {exception.value!r} is not among those the policy "
                f"in force on {body.effective_date} admits ({', '.join(allowed) or 'none'})",
                allowed=allowed,
            )
        if exception == EligibilityException.GUARANTEES_NOT_SECURED and not body.guarantees.missing():
            raise RuleViolation(
                "以“两不愁三保障未达标”为识别例外,但所填两不愁三保障全部达标",
                rule="eligibility_exception_unfounded",
                detail_en="the exception guarantees_not_secured is given, yet every guarantee is secured",
            )
        return
    line = line_for(policies, body.division_code, body.income_year, body.members)
    if body.income_per_capita >= line:
        raise RuleViolation(
            f"识别须人均纯收入低于 {body.income_year} 年的扶贫标准({line:g} 元);申报收入为 "
            f"{body.income_per_capita:g} 元。如属突发困难等例外,请填写 eligibility_exception",
            rule="income_above_line",
            detail_en=f"identification needs a per-capita income below the poverty line of its income year "
            f"{body.income_year} ({line:g} yuan); the income given is {body.income_per_capita:g} yuan "
            f"(give an eligibility_exception for sudden hardship)",
            poverty_line=line,
            income_per_capita=body.income_per_capita,
            income_year=body.income_year,
        )


def _check_exit_income(before: HouseholdState, body: ExitProposed, policies: PolicyBook) -> None:
    """Exit: a recent income assessment, at or above the line of its income year."""
    on = body.effective_date
    income = before.income
    policy = resolve(policies, before.division_code, on)
    max_age = policy.exit_income_max_age_days
    oldest = on - timedelta(days=max_age)
    if income.assessed_on < oldest:
        raise RuleViolation(
            f"退出须有提出前 {max_age} 天内的收入核算;最近一次核算在 {income.assessed_on}"
            f"({income.year} 年收入)",
            rule="exit_income_outdated",
            detail_en=f"exit needs an income assessment made within {max_age} days before {on} "
            f"(on or after {oldest}); the latest is of {income.assessed_on} ({income.year} income)",
            assessed_on=income.assessed_on.isoformat(),
            max_age_days=max_age,
        )
    line = line_for(policies, before.division_code, income.year, before.members)
    if income.per_capita < line:
        raise RuleViolation(
            f"退出须人均纯收入达到 {income.year} 年的扶贫标准({line:g} 元);最近核算收入为 "
            f"{income.per_capita:g} 元",
            rule="exit_income_below_line",
            detail_en=f"exit needs income at or above the poverty line of its income year {income.year} "
            f"({line:g} yuan); the latest assessed income is {income.per_capita:g} yuan",
            poverty_line=line,
            income_per_capita=income.per_capita,
        )
