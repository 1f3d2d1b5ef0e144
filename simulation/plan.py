"""One household's history as planned events: identification, helpers, measures, incomes,
exits and returns, revisits, relocation, member changes, closure.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from domain.history import Actor
from simulation.constants import ALL_SECURE, COUNTY_CODE, LAST_DAY, poverty_line
from simulation.households import CountyState, _Ev, _Household
from simulation.people import _age, _income, _Person, _person
from simulation.tables import (
    FLOOD,
    GIVEN_FEMALE,
    GIVEN_MALE,
    HELPER_UNITS,
    MEASURE_BY_CAUSE,
    MEASURE_TEXT,
    OTHER_REGIONS,
    PATHWAY_BY_MEASURE,
    REMOVAL_REASONS,
    RETURN_REASONS,
    SURNAME_WEIGHTS,
    SURNAMES,
)


class _Plan:
    """One household's events while they are planned, and who records them."""

    def __init__(self, rng: random.Random, h: _Household) -> None:
        self.rng = rng
        self.h = h
        self.evs: list[_Ev] = []
        self.approver = Actor("会宁县扶贫开发领导小组办公室", "approver", COUNTY_CODE)
        self.recorder = (Actor("会宁县扶贫办", "recorder", COUNTY_CODE) if h.relocates
                         else Actor(f"{h.township}扶贫工作站", "recorder", h.township))
        #: The approval (set once the household is approved) and the day the plan stops (exclusive).
        self.approved = h.proposed_on
        self.end = min(h.terminal or LAST_DAY + timedelta(days=1), LAST_DAY + timedelta(days=1))

    def add(self, eff: date, payload: dict[str, Any], actor: Actor, structural: bool = False,
            deps: tuple[_Ev, ...] = (), refs: dict[str, _Ev] | None = None) -> _Ev:
        payload["effective_date"] = eff.isoformat()
        ev = _Ev(self.h, eff, len(self.evs), payload, actor, structural, deps, refs)
        self.evs.append(ev)
        return ev

    def open_day(self, d: date) -> bool:
        """Whether ``d`` is after the approval, before the plan stops and within the simulated years."""
        return self.approved < d < self.end and d <= LAST_DAY


@dataclass
class _Exits:
    """The status skeleton drawn by :meth:`HouseholdPlanner._exits`."""

    #: [confirmed, returned-or-end) of each exit.
    exited: list[tuple[date, date]] = field(default_factory=list)
    exit_years: list[int] = field(default_factory=list)
    poor_years: set[int] = field(default_factory=set)

    def exited_on(self, d: date) -> bool:
        return any(s <= d < e for s, e in self.exited)


class HouseholdPlanner(CountyState):
    """A household's planned events (a part of :class:`~simulation.county.Simulation`).

    The steps draw from one random generator in a fixed order: a county is the same for the same
    seed, so each step keeps its place (and its draws) in :meth:`_plan`."""

    def _plan(self, rng: random.Random, h: _Household, resettlement: dict[str, str],
              county_seat: str) -> list[_Ev]:
        """The household's events in valid-time order, with no recording moments yet."""
        plan = _Plan(rng, h)
        if not self._identify(plan):
            return plan.evs
        exits = self._exits(plan)
        self._incomes(plan, exits)
        self._revisits(plan, exits)
        self._helpers(plan)
        self._measures(plan, exits)
        if h.relocates:
            self._relocation(plan, resettlement, county_seat)
        self._member_changes(plan)
        self._guarantee_checks(plan)
        self._terminal(plan)
        self._double_entries(plan)
        plan.evs.sort(key=lambda e: (e.eff, e.gen))
        return plan.evs

    @staticmethod
    def _identify(plan: _Plan) -> bool:
        """The proposal, then its rejection (False: the plan ends there) or approval."""
        h, rng, proposed = plan.h, plan.rng, plan.h.proposed_on
        plan.add(proposed, {
            "type": "IdentificationProposed", "division_code": h.village, "attribute": h.attribute,
            "main_cause": h.main_cause, "secondary_causes": h.secondary_causes, "income_per_capita": h.income,
            "income_year": proposed.year - 1, "guarantees": h.guarantees,
            "members": [m.as_member(proposed) for m in h.members],
            "batch": f"{proposed.year}年{'建档立卡' if proposed.year == 2014 else '动态调整'}",
            "reason": "农户申请，村民主评议通过，村内公示",
            "evidence": [f"公示-{h.village}-{proposed.year}-{proposed.month:02d}"],
        }, plan.recorder, True)
        if h.rejected:
            plan.add(proposed + timedelta(days=rng.randint(8, 30)), {
                "type": "IdentificationRejected",
                "reason": rng.choice(["公示期间群众举报，经核实家庭收入超标", "乡镇审核未通过：家庭有稳定务工收入"]),
            }, plan.approver, True)
            return False
        approved = plan.approved = proposed + timedelta(days=rng.randint(7, 30))
        plan.add(approved, {"type": "IdentificationApproved", "approving_office": "会宁县扶贫开发领导小组办公室",
                            "evidence": [f"县公告-{approved.year}-{approved.month:02d}"]}, plan.approver, True)
        return True

    def _exits(self, plan: _Plan) -> _Exits:
        """Exits (each after a qualifying income), withdrawals and returns: the status skeleton."""
        h, rng, recorder, add, end = plan.h, plan.rng, plan.recorder, plan.add, plan.end
        exits = _Exits()
        cursor = plan.approved
        entry_year = cursor.year
        exit_year = h.exit_year
        returns = h.returns
        while exit_year is not None and exit_year <= LAST_DAY.year:
            exit_year = max(exit_year, entry_year + 1)
            prop = date(exit_year, 10, 8) + timedelta(days=rng.randint(0, 43))
            prop = max(prop, cursor + timedelta(days=40))
            conf = prop + timedelta(days=rng.randint(7, 25))
            if conf >= end or conf.year != exit_year:
                break
            q = prop - timedelta(days=rng.randint(5, 40))
            q = max(q, cursor + timedelta(days=1))
            line = poverty_line(prop.year)
            qualifying = add(q, _income(rng, exit_year, line * rng.uniform(1.08, 1.7)), recorder)
            pathway = PATHWAY_BY_MEASURE[rng.choice(MEASURE_BY_CAUSE[h.main_cause])]
            if h.attribute != "general" and rng.random() < 0.6:
                pathway = "social_assistance"
            add(prop, {"type": "ExitProposed", "pathway": pathway, "guarantees": ALL_SECURE,
                       "reason": "收入稳定超过国家扶贫标准，两不愁三保障全部落实，村民主评议通过"},
                recorder, True, deps=(qualifying,))
            if rng.random() < self.shares.withdrawn_exits:
                wd = prop + timedelta(days=rng.randint(3, 6))
                add(wd, {"type": "ExitWithdrawn", "reason": "公示期间群众提出异议，经核实收入不稳定"}, recorder, True)
                exits.poor_years.add(exit_year)
                cursor = wd
                exit_year += 1
                continue
            add(conf, {"type": "ExitConfirmed", "household_acknowledged": True,
                       "evidence": [f"退出公告-{conf.year}-{h.township}"]}, plan.approver, True)
            exits.exit_years.append(exit_year)
            if returns:
                if returns == "disaster" and conf < FLOOD:
                    rd = FLOOD + timedelta(days=rng.randint(3, 40))
                else:
                    rd = conf + timedelta(days=rng.randint(200, 1000))
                if rd < end and rd <= LAST_DAY:
                    exits.exited.append((conf, rd))
                    if returns == "wrongly_exited":
                        add(rd, {"type": "Revisited", "finding": "wrongly_exited",
                                 "notes": "回头看：收入未达标，属错退"}, recorder, True)
                    else:
                        add(rd, {"type": "ReturnedToPoverty", "cause": returns, "reason": RETURN_REASONS[returns]},
                            recorder, True)
                    exits.poor_years.add(rd.year)
                    returns = None
                    cursor = rd
                    entry_year = rd.year
                    exit_year = rd.year + rng.choice((1, 1, 2))
                    continue
            exits.exited.append((conf, end))
            break
        return exits

    @staticmethod
    def _incomes(plan: _Plan, exits: _Exits) -> None:
        """A yearly income assessment: above the line while exited, mostly below it while poor."""
        rng, approved = plan.rng, plan.approved
        traj = plan.h.income
        for year in range(approved.year, LAST_DAY.year + 1):
            traj *= rng.uniform(1.06, 1.25)
            if year in exits.exit_years:
                continue  # the exit's own assessment stands for the year
            d = date(year, 11, 25) + timedelta(days=rng.randint(0, 30))
            if d <= approved or d >= plan.end:
                continue
            line = poverty_line(year)
            if exits.exited_on(d):
                value = max(traj, line * rng.uniform(1.1, 1.8))
            elif rng.random() < 0.85 or year in exits.poor_years:
                value = min(traj, line * rng.uniform(0.7, 0.98))
            else:
                value = traj
            plan.add(d, _income(rng, year, value), plan.recorder)

    @staticmethod
    def _revisits(plan: _Plan, exits: _Exits) -> None:
        """回头看 of exited households, most years."""
        rng = plan.rng
        for s, e in exits.exited:
            for year in range(s.year + 1, LAST_DAY.year + 1):
                d = date(year, 3, 1) + timedelta(days=rng.randint(0, 120))
                if not (s < d < e - timedelta(days=1)) or rng.random() > 0.45:
                    continue
                finding = "at_risk" if rng.random() < (0.12 if year == 2020 else 0.07) else "stable"
                plan.add(d, {"type": "Revisited", "finding": finding,
                             "notes": "入户核查收入和两不愁三保障" if finding == "stable" else "收入不稳定，纳入监测"},
                         plan.recorder)

    def _helpers(self, plan: _Plan) -> None:
        """A helper soon after the approval; for some households another in a later rotation."""
        rng, approved = plan.rng, plan.approved
        helper_day = approved + timedelta(days=rng.randint(3, 40))
        if helper_day < plan.end:
            self._assign_helper(plan, helper_day)
        if rng.random() < self.shares.helper_rotation:
            d = date(2017, 3, 1) + timedelta(days=rng.randint(0, 600))
            if approved < d < plan.end:
                self._assign_helper(plan, d)

    def _measures(self, plan: _Plan, exits: _Exits) -> None:
        """Measures for the causes and the guarantees not secured, most of them completed."""
        h, rng, end = plan.h, plan.rng, plan.end
        last_exit = exits.exited[-1][0] if exits.exited else end
        span_end = min(end, last_exit + timedelta(days=365), LAST_DAY)
        categories = list(MEASURE_BY_CAUSE[h.main_cause])
        for c in h.secondary_causes:
            categories.append(MEASURE_BY_CAUSE[c][0])
        for key, category in (("housing", "housing"), ("medical", "health"), ("education", "education"),
                              ("water", "ecological")):
            if not h.guarantees[key]:
                categories.insert(0, category)
        count = rng.choice((1, 2, 2, 3, 3, 4)) + (1 if h.attribute == "general" else 0)
        for category in categories[:count]:
            first = plan.approved + timedelta(days=10)
            if span_end <= first:
                break
            d = first + timedelta(days=rng.randint(0, (span_end - first).days))
            assigned = self._measure(plan, d, "industry" if category == "relocation" else category)
            done = d + timedelta(days=rng.randint(60, 300))
            if rng.random() < 0.78 and done < end and done <= LAST_DAY:
                self._complete(plan, done, assigned, "已落实到户，农户签字确认")

    @staticmethod
    def _complete(plan: _Plan, d: date, assigned: _Ev, outcome: str) -> None:
        plan.add(d, {"type": "AssistanceMeasureCompleted", "measure_id": f"@{assigned.serial}", "outcome": outcome},
                 plan.recorder, deps=(assigned,), refs={"measure_id": assigned})

    def _relocation(self, plan: _Plan, resettlement: dict[str, str], county_seat: str) -> None:
        """易地扶贫搬迁: the measure, the transfer to a resettlement site, and the measure done."""
        h, rng = plan.h, plan.rng
        d = date(2016, 3, 1) + timedelta(days=rng.randint(0, 900))
        if not (plan.approved + timedelta(days=20) < d and d + timedelta(days=400) < plan.end):
            return
        assigned = self._measure(plan, d, "relocation")
        moved = d + timedelta(days=rng.randint(90, 360))
        target = resettlement.get(h.township, county_seat)
        if target == h.village or rng.random() < 0.4:
            target = county_seat
        if target == h.village:
            return
        plan.add(moved, {"type": "HouseholdTransferred", "division_code": target, "reason": "易地扶贫搬迁，集中安置",
                         "evidence": [f"搬迁协议-{moved.year}"]}, plan.approver, True)
        done = moved + timedelta(days=rng.randint(1, 30))
        if done < plan.end:
            self._complete(plan, done, assigned, "已搬迁入住安置点")

    def _member_changes(self, plan: _Plan) -> None:
        """Births, deaths, marriages and illness; an illness may bring 低保 (纳入低保) with it."""
        rng, recorder = plan.rng, plan.recorder
        members_now = list(plan.h.members)
        attribute = plan.h.attribute
        for year in range(plan.approved.year, LAST_DAY.year + 1):
            if rng.random() >= self.shares.member_change_per_year:
                continue
            d = date(year, 1, 1) + timedelta(days=rng.randint(0, 364))
            if not plan.open_day(d):
                continue
            change = self._member_change(rng, members_now, d)
            if change is None:
                continue
            plan.add(d, change, recorder, True)
            # 纳入低保: civil affairs takes in a household that lost its labour to illness.
            if change["type"] == "MemberUpdated" and attribute == "general" and rng.random() < 0.5:
                later = d + timedelta(days=rng.randint(15, 60))
                if later < plan.end and later <= LAST_DAY:
                    attribute = "dibao"
                    plan.add(later, {"type": "AttributeChanged", "attribute": "dibao",
                                     "reason": "民政部门认定，纳入农村低保", "evidence": [f"低保审批-{later.year}"]},
                             recorder, True)

    @staticmethod
    def _guarantee_checks(plan: _Plan) -> None:
        """两不愁三保障 checks between exits (核查), a share of households each year."""
        h, rng = plan.h, plan.rng
        for year in range(plan.approved.year + 1, LAST_DAY.year + 1):
            if rng.random() >= 0.03:
                continue
            d = date(year, 4, 1) + timedelta(days=rng.randint(0, 150))
            if not plan.open_day(d):
                continue
            secured = {**h.guarantees, **{k: True for k in h.guarantees if rng.random() < 0.5}}
            plan.add(d, {"type": "GuaranteesAssessed", "guarantees": secured, "reason": "两不愁三保障入户核查",
                         "evidence": [f"核查表-{h.village}-{year}"]}, plan.recorder)

    @staticmethod
    def _terminal(plan: _Plan) -> None:
        """The removal or closure that ends the household, if it comes within the simulated years."""
        h, rng = plan.h, plan.rng
        if h.removed_on and h.removed_on == h.terminal and h.removed_on <= LAST_DAY:
            plan.add(h.removed_on, {"type": "RemovedAsIneligible", "reason": rng.choice(REMOVAL_REASONS),
                                    "evidence": [f"核查-{h.removed_on.year}"]}, plan.recorder, True)
        elif h.closed_on and h.closed_on == h.terminal and h.closed_on <= LAST_DAY:
            plan.add(h.closed_on, {"type": "HouseholdClosed", "reason": "户主去世，家庭无其他成员（销户）"},
                     plan.recorder, True)

    def _double_entries(self, plan: _Plan) -> None:
        """Helpers and measures entered twice by mistake (marked ``dup``: retracted later)."""
        for ev in list(plan.evs):
            if ev.kind in ("HelperAssigned", "AssistanceMeasureAssigned") and \
                    plan.rng.random() < self.shares.duplicated:
                dup = plan.add(ev.eff, dict(ev.payload), ev.actor or plan.recorder, deps=(ev,))
                dup.key = "dup"

    @staticmethod
    def _assign_helper(plan: _Plan, d: date) -> None:
        rng = plan.rng
        male = rng.random() < 0.7
        name = rng.choices(SURNAMES, SURNAME_WEIGHTS)[0] + rng.choice(GIVEN_MALE if male else GIVEN_FEMALE)
        plan.add(d, {"type": "HelperAssigned", "helper_name": name, "unit": rng.choice(HELPER_UNITS),
                     "phone": f"1{rng.choice('358')}{rng.randint(0, 999_999_999):09d}",
                     "reason": "结对帮扶，定责任人"}, plan.recorder)

    @staticmethod
    def _measure(plan: _Plan, d: date, category: str) -> _Ev:
        text, lo, hi, source = MEASURE_TEXT[category]
        amount = round(plan.rng.uniform(lo, hi), -2) if hi else None
        return plan.add(d, {"type": "AssistanceMeasureAssigned", "category": category, "amount": amount,
                            "funding_source": source, "description": text.format(n=plan.rng.randint(3, 10))},
                        plan.recorder)

    def _member_change(self, rng: random.Random, members: list[_Person], d: date) -> dict[str, Any] | None:
        """Change ``members`` in place and return the MembersChanged payload (or None)."""
        options = []
        mothers = [m for m in members if not m.male and 20 <= _age(m.born, d) <= 40]
        if mothers:
            options.append("birth")
        elderly = [m for m in members
                   if m.relation != "head" and (_age(m.born, d) >= 65 or m.health == "serious_illness")]
        if elderly:
            options.append("death")
        grown = [m for m in members if m.relation == "child" and 20 <= _age(m.born, d) <= 35]
        if grown:
            options.append("marriage")
        falls_ill = [m for m in members if m.health == "healthy" and 30 <= _age(m.born, d) < 70]
        if falls_ill:
            options.append("illness")
        head = next(m for m in members if m.relation == "head")
        heirs = [m for m in members if m.relation == "spouse" or (m.relation == "child" and _age(m.born, d) >= 18)]
        if heirs and _age(head.born, d) >= 65:
            options.append("head_death")
        if not options:
            return None
        kind = rng.choice(options)
        if kind == "illness":
            ill = rng.choice(falls_ill)
            ill.health = rng.choice(("chronic_illness", "serious_illness"))
            return {"type": "MemberUpdated", "id_number": ill.id_number, "health": ill.health,
                    "labour": ill.labour_on(d), "reason": "患病，劳动能力下降", "evidence": [f"诊断证明-{d.year}"]}
        if kind == "head_death":
            heir = heirs[0]
            members.remove(head)
            heir.relation = "head"
            return {"type": "MembersChanged", "left": [head.id_number], "new_head": heir.id_number,
                    "reason": "户主去世，变更户主"}
        if kind == "birth":
            head = next(m for m in members if m.relation == "head")
            relation = "child" if _age(head.born, d) < 45 else "grandchild"
            baby = _person(rng, self._ids, d, relation, rng.random() < 0.52, members[0].name[0])
            baby.health = "healthy"
            members.append(baby)
            return {"type": "MembersChanged", "joined": [baby.as_member(d)], "reason": "新生儿出生，户口登记"}
        if kind == "death":
            gone = rng.choice(elderly)
            members.remove(gone)
            return {"type": "MembersChanged", "left": [gone.id_number], "reason": "家庭成员去世"}
        child = rng.choice(grown)
        if child.male:
            spouse = _person(rng, self._ids, d - timedelta(days=365 * rng.randint(20, 30)), "other", False,
                             rng.choices(SURNAMES, SURNAME_WEIGHTS)[0], region=rng.choice(OTHER_REGIONS))
            members.append(spouse)
            return {"type": "MembersChanged", "joined": [spouse.as_member(d)], "reason": "娶妻，户口迁入"}
        members.remove(child)
        return {"type": "MembersChanged", "left": [child.id_number], "reason": "出嫁，户口迁出"}
