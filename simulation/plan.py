"""One household's history as planned events: identification, helpers, measures, incomes,
exits and returns, revisits, relocation, member changes, closure.
"""

from __future__ import annotations

import random
from collections.abc import Callable
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


class HouseholdPlanner(CountyState):
    """A household's planned events (a part of :class:`~simulation.county.Simulation`)."""

    # ------------------------------------------------------------- the plan

    def _plan(self, rng: random.Random, h: _Household, resettlement: dict[str, str],
              county_seat: str) -> list[_Ev]:
        """The household's events in valid-time order, with no recording moments yet."""
        evs: list[_Ev] = []
        shares = self.shares
        township_actor = Actor(f"{h.township}扶贫工作站", "recorder", h.township)
        county_recorder = Actor("会宁县扶贫办", "recorder", COUNTY_CODE)
        approver = Actor("会宁县扶贫开发领导小组办公室", "approver", COUNTY_CODE)
        recorder = county_recorder if h.relocates else township_actor

        def add(eff: date, payload: dict[str, Any], actor: Actor, structural: bool = False,
                deps: tuple[_Ev, ...] = (), refs: dict[str, _Ev] | None = None) -> _Ev:
            payload["effective_date"] = eff.isoformat()
            ev = _Ev(h, eff, len(evs), payload, actor, structural, deps, refs)
            evs.append(ev)
            return ev

        P = h.proposed_on
        members_now = list(h.members)
        attribute = h.attribute
        add(P, {
            "type": "IdentificationProposed",
            "division_code": h.village,
            "attribute": h.attribute,
            "main_cause": h.main_cause,
            "secondary_causes": h.secondary_causes,
            "income_per_capita": h.income,
            "income_year": P.year - 1,
            "guarantees": h.guarantees,
            "members": [m.as_member(P) for m in members_now],
            "batch": f"{P.year}年{'建档立卡' if P.year == 2014 else '动态调整'}",
            "reason": "农户申请，村民主评议通过，村内公示",
            "evidence": [f"公示-{h.village}-{P.year}-{P.month:02d}"],
        }, recorder, True)
        if h.rejected:
            add(P + timedelta(days=rng.randint(8, 30)), {
                "type": "IdentificationRejected",
                "reason": rng.choice(["公示期间群众举报，经核实家庭收入超标", "乡镇审核未通过：家庭有稳定务工收入"]),
            }, approver, True)
            return evs
        A = P + timedelta(days=rng.randint(7, 30))
        add(A, {"type": "IdentificationApproved", "approving_office": "会宁县扶贫开发领导小组办公室",
                "evidence": [f"县公告-{A.year}-{A.month:02d}"]}, approver, True)
        end = min(h.terminal or LAST_DAY + timedelta(days=1), LAST_DAY + timedelta(days=1))

        # --- exits, withdrawals, returns (the status skeleton) -------------------
        exited: list[tuple[date, date]] = []  # [confirmed, returned-or-end)
        exit_years: list[int] = []
        poor_years: set[int] = set()
        cursor = A
        entry_year = A.year
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
            if rng.random() < shares.withdrawn_exits:
                wd = prop + timedelta(days=rng.randint(3, 6))
                add(wd, {"type": "ExitWithdrawn", "reason": "公示期间群众提出异议，经核实收入不稳定"}, recorder, True)
                poor_years.add(exit_year)
                cursor = wd
                exit_year += 1
                continue
            add(conf, {"type": "ExitConfirmed", "household_acknowledged": True,
                       "evidence": [f"退出公告-{conf.year}-{h.township}"]}, approver, True)
            exit_years.append(exit_year)
            if returns:
                if returns == "disaster" and conf < FLOOD:
                    rd = FLOOD + timedelta(days=rng.randint(3, 40))
                else:
                    rd = conf + timedelta(days=rng.randint(200, 1000))
                if rd < end and rd <= LAST_DAY:
                    exited.append((conf, rd))
                    if returns == "wrongly_exited":
                        add(rd, {"type": "Revisited", "finding": "wrongly_exited",
                                 "notes": "回头看：收入未达标，属错退"}, recorder, True)
                    else:
                        add(rd, {"type": "ReturnedToPoverty", "cause": returns, "reason": RETURN_REASONS[returns]},
                            recorder, True)
                    poor_years.update(range(rd.year, rd.year + 1))
                    returns = None
                    cursor = rd
                    entry_year = rd.year
                    exit_year = rd.year + rng.choice((1, 1, 2))
                    continue
            exited.append((conf, end))
            break

        def exited_on(d: date) -> bool:
            return any(s <= d < e for s, e in exited)

        # --- yearly income assessments -------------------------------------------
        traj = h.income
        for year in range(A.year, LAST_DAY.year + 1):
            traj *= rng.uniform(1.06, 1.25)
            if year in exit_years:
                continue  # the exit's own assessment stands for the year
            d = date(year, 11, 25) + timedelta(days=rng.randint(0, 30))
            if d <= A or d >= end:
                continue
            line = poverty_line(year)
            if exited_on(d):
                value = max(traj, line * rng.uniform(1.1, 1.8))
            elif rng.random() < 0.85 or year in poor_years:
                value = min(traj, line * rng.uniform(0.7, 0.98))
            else:
                value = traj
            add(d, _income(rng, year, value), recorder)

        # --- revisits (回头看) -------------------------------------------------------
        for s, e in exited:
            for year in range(s.year + 1, LAST_DAY.year + 1):
                d = date(year, 3, 1) + timedelta(days=rng.randint(0, 120))
                if not (s < d < e - timedelta(days=1)) or rng.random() > 0.45:
                    continue
                finding = "at_risk" if rng.random() < (0.12 if year == 2020 else 0.07) else "stable"
                add(d, {"type": "Revisited", "finding": finding,
                        "notes": "入户核查收入和两不愁三保障" if finding == "stable" else "收入不稳定，纳入监测"},
                    recorder)

        # --- helpers ------------------------------------------------------------------
        helper_day = A + timedelta(days=rng.randint(3, 40))
        if helper_day < end:
            self._assign_helper(rng, add, helper_day, recorder)
        if rng.random() < shares.helper_rotation:
            d = date(2017, 3, 1) + timedelta(days=rng.randint(0, 600))
            if A < d < end:
                self._assign_helper(rng, add, d, recorder)

        # --- measures -------------------------------------------------------------------
        last_exit = exited[-1][0] if exited else end
        span_end = min(end, last_exit + timedelta(days=365), LAST_DAY)
        categories = list(MEASURE_BY_CAUSE[h.main_cause])
        for c in h.secondary_causes:
            categories.append(MEASURE_BY_CAUSE[c][0])
        for key, category in (("housing", "housing"), ("medical", "health"), ("education", "education"),
                              ("water", "ecological")):
            if not h.guarantees[key]:
                categories.insert(0, category)
        count = rng.choice((1, 2, 2, 3, 3, 4)) + (1 if h.attribute == "general" else 0)
        chosen = categories[:count]
        for category in chosen:
            if category == "relocation":
                category = "industry"
            first = A + timedelta(days=10)
            if span_end <= first:
                break
            d = first + timedelta(days=rng.randint(0, (span_end - first).days))
            assigned = self._measure(rng, add, d, category, recorder)
            done = d + timedelta(days=rng.randint(60, 300))
            if rng.random() < 0.78 and done < end and done <= LAST_DAY:
                add(done, {"type": "AssistanceMeasureCompleted", "measure_id": f"@{assigned.serial}",
                           "outcome": "已落实到户，农户签字确认"}, recorder, deps=(assigned,),
                    refs={"measure_id": assigned})

        # --- relocation (易地扶贫搬迁) and transfer -------------------------------------
        if h.relocates:
            d = date(2016, 3, 1) + timedelta(days=rng.randint(0, 900))
            if A + timedelta(days=20) < d and d + timedelta(days=400) < end:
                assigned = self._measure(rng, add, d, "relocation", recorder)
                moved = d + timedelta(days=rng.randint(90, 360))
                target = resettlement.get(h.township, county_seat)
                if target == h.village or rng.random() < 0.4:
                    target = county_seat
                if target != h.village:
                    add(moved, {"type": "HouseholdTransferred", "division_code": target,
                                "reason": "易地扶贫搬迁，集中安置", "evidence": [f"搬迁协议-{moved.year}"]},
                        approver, True)
                    done = moved + timedelta(days=rng.randint(1, 30))
                    if done < end:
                        add(done, {"type": "AssistanceMeasureCompleted", "measure_id": f"@{assigned.serial}",
                                   "outcome": "已搬迁入住安置点"}, recorder, deps=(assigned,),
                            refs={"measure_id": assigned})

        # --- members: births, deaths, marriages -----------------------------------------
        for year in range(A.year, LAST_DAY.year + 1):
            if rng.random() >= shares.member_change_per_year:
                continue
            d = date(year, 1, 1) + timedelta(days=rng.randint(0, 364))
            if not (A < d < end) or d > LAST_DAY:
                continue
            change = self._member_change(rng, members_now, d)
            if change is not None:
                add(d, change, recorder, True)
                # 纳入低保: civil affairs takes in a household that lost its labour to illness.
                if change["type"] == "MemberUpdated" and attribute == "general" and rng.random() < 0.5:
                    later = d + timedelta(days=rng.randint(15, 60))
                    if later < end and later <= LAST_DAY:
                        attribute = "dibao"
                        add(later, {"type": "AttributeChanged", "attribute": "dibao",
                                    "reason": "民政部门认定，纳入农村低保", "evidence": [f"低保审批-{later.year}"]},
                            recorder, True)

        # --- 两不愁三保障 checks between exits (核查), a share of households each year --------
        for year in range(A.year + 1, LAST_DAY.year + 1):
            if rng.random() >= 0.03:
                continue
            d = date(year, 4, 1) + timedelta(days=rng.randint(0, 150))
            if not (A < d < end) or d > LAST_DAY:
                continue
            secured = {**h.guarantees, **{k: True for k in h.guarantees if rng.random() < 0.5}}
            add(d, {"type": "GuaranteesAssessed", "guarantees": secured, "reason": "两不愁三保障入户核查",
                    "evidence": [f"核查表-{h.village}-{year}"]}, recorder)

        # --- terminal -------------------------------------------------------------------------
        if h.removed_on and h.removed_on == h.terminal and h.removed_on <= LAST_DAY:
            add(h.removed_on, {"type": "RemovedAsIneligible", "reason": rng.choice(REMOVAL_REASONS),
                               "evidence": [f"核查-{h.removed_on.year}"]}, recorder, True)
        elif h.closed_on and h.closed_on == h.terminal and h.closed_on <= LAST_DAY:
            add(h.closed_on, {"type": "HouseholdClosed", "reason": "户主去世，家庭无其他成员（销户）"}, recorder, True)

        # --- double entries, retracted later --------------------------------------------------
        for ev in list(evs):
            if ev.kind in ("HelperAssigned", "AssistanceMeasureAssigned") and rng.random() < shares.duplicated:
                dup = add(ev.eff, dict(ev.payload), ev.actor or recorder, deps=(ev,))
                dup.key = "dup"  # marker: retract it later
        evs.sort(key=lambda e: (e.eff, e.gen))
        return evs

    @staticmethod
    def _assign_helper(rng: random.Random, add: Callable[..., _Ev], d: date, actor: Actor) -> None:
        male = rng.random() < 0.7
        name = rng.choices(SURNAMES, SURNAME_WEIGHTS)[0] + rng.choice(GIVEN_MALE if male else GIVEN_FEMALE)
        add(d, {"type": "HelperAssigned", "helper_name": name, "unit": rng.choice(HELPER_UNITS),
                "phone": f"1{rng.choice('358')}{rng.randint(0, 999_999_999):09d}",
                "reason": "结对帮扶，定责任人"}, actor)

    @staticmethod
    def _measure(rng: random.Random, add: Callable[..., _Ev], d: date, category: str, actor: Actor) -> _Ev:
        text, lo, hi, source = MEASURE_TEXT[category]
        amount = round(rng.uniform(lo, hi), -2) if hi else None
        return add(d, {"type": "AssistanceMeasureAssigned", "category": category, "amount": amount,
                       "funding_source": source, "description": text.format(n=rng.randint(3, 10))}, actor)

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
