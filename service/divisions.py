"""Division commands: register or update a county, township or village."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, tzinfo

from eventsourcing.application import AggregateNotFoundError

from domain import access, divisions, progress
from domain.errors import InvalidInput, NotFound
from domain.history import SYSTEM, Actor
from domain.policy import PolicyBook
from domain.reference import (
    Division,
    DivisionDecision,
    DivisionDecisions,
    DivisionVersion,
    decisions_key,
    division_key,
    version_in_force,
)
from persistence.writegate import WriteGate
from service.store import AggregateStore
from service.unit_of_work import UnitOfWork, unit_of_work


class DivisionCommands:
    def __init__(self, store: AggregateStore, gate: WriteGate, tz: tzinfo) -> None:
        self.store = store
        self.gate = gate
        self.tz = tz

    def put(
        self, code: str, name: str, rural_population: int, effective_date: date, actor: Actor = SYSTEM
    ) -> tuple[Division, bool]:
        """Register or update a division; returns it and whether it was new."""
        access.require_role(actor, access.Role.ADMIN)
        if not divisions.is_registrable(code):
            raise InvalidInput(
                "区划代码须为 6 位（县）、9 位（乡镇）或 12 位（村）ASCII 数字",
                detail_en="a division code is 6 (county), 9 (township) or 12 (village) ASCII digits",
                rule="division_code_format",
                errors=[{"loc": ["code"], "msg": "6, 9 or 12 ASCII digits"}],
            )
        access.require_scope(actor, code)
        if not name.strip() or len(name) > 100:
            raise InvalidInput("区划名称须为 1–100 个字符", detail_en="a division needs a name of 1–100 characters",
                               rule="division_name")
        if rural_population < 0:
            raise InvalidInput("农村户籍人口不能为负数", detail_en="rural_population cannot be negative",
                               rule="division_population")
        with unit_of_work(self.store, self.gate) as uow:
            for parent in divisions.parents(code):
                if uow.get(division_key(parent)) is None:
                    level = divisions.level(parent)
                    raise InvalidInput(
                        f"区划 {code} 的上级 {parent} 未登记",
                        detail_en=f"the {level} {parent} of division {code} is not registered",
                        rule="unknown_parent_division",
                    )
            at = uow.stamp()
            if effective_date > at.astimezone(self.tz).date():
                raise InvalidInput("生效日期晚于今天", detail_en="effective_date is in the future",
                                   rule="future_effective_date")
            division: Division | None = uow.get(division_key(code))
            created = division is None
            if division is None:
                division = Division.register(code, name, rural_population, effective_date, at)
                uow.add(division)
            else:
                latest = division.versions[-1]
                if (latest.name, latest.rural_population, latest.effective_date) != (
                    name,
                    rural_population,
                    effective_date,
                ):
                    division.update(name, rural_population, effective_date, at)
            uow.commit()
        return division, created

    def decide(
        self, code: str, kind: str, effective_date: date, measured: tuple[int, int | None], book: PolicyBook,
        actor: Actor = SYSTEM, reason: str | None = None, evidence: Sequence[str] = (),
    ) -> DivisionDecision:
        """Record 贫困村出列 (``VillageExited``) or 贫困县摘帽 (``CountyDelisted``), refused unless
        the rosters meet the policy's criterion on ``effective_date``. ``measured`` is (poor
        persons, rural population) of the division then, as now known, read by the caller
        from the rosters (the read model)."""
        access.require_role(actor, access.Role.APPROVER, access.Role.ADMIN)
        access.require_scope(actor, code)
        with unit_of_work(self.store, self.gate) as uow:
            if uow.get(division_key(code)) is None:
                raise NotFound(f"区划 {code} 未登记", detail_en=f"division {code} is not registered",
                               rule="unknown_division")
            at = uow.stamp()
            if effective_date > at.astimezone(self.tz).date():
                raise InvalidInput("生效日期晚于今天", detail_en="effective_date is in the future",
                                   rule="future_effective_date")
            decided: DivisionDecisions | None = uow.get(decisions_key(code))
            try:
                policy = book.resolve(code, effective_date)
            except LookupError as exc:
                raise InvalidInput(f"{effective_date} 时没有生效的政策", detail_en=str(exc),
                                   rule="no_policy_in_force") from None
            setting = progress.DIVISION_DECISIONS.get(kind, (0, "village_exit_max_incidence", ""))[1]
            poor_persons, population = measured
            progress.check_division_decision(
                kind, code, effective_date, poor_persons, population, getattr(policy, setting),
                [d.type for d in decided.decisions] if decided else [],
            )
            decision = DivisionDecision(kind, effective_date, reason, tuple(evidence), actor, at, poor_persons,
                                        population or 0)
            if decided is None:
                uow.add(DivisionDecisions.open(code, decision))
            else:
                decided.record(decision)
            uow.commit()
        return decision

    def decisions(self, code: str) -> list[DivisionDecision]:
        try:
            found: DivisionDecisions = self.store.app.repository.get(decisions_key(code))
        except AggregateNotFoundError:
            return []
        return list(found.decisions)

    def get(self, code: str) -> Division:
        try:
            return self.store.app.repository.get(division_key(code))  # type: ignore[no-any-return]
        except AggregateNotFoundError:
            raise NotFound(f"区划 {code} 未登记", detail_en=f"division {code} is not registered",
                           rule="unknown_division") from None


def population_on(division: Division, on: date, known_at: datetime | None = None) -> DivisionVersion | None:
    """The division's version in force on ``on`` as known at ``known_at``."""
    return version_in_force(division.versions, on, known_at)


def require_village(uow: UnitOfWork, code: str) -> None:
    """Refuse a division that is not a registered village."""
    if uow.get(division_key(code)) is None:
        raise InvalidInput(
            f"区划 {code} 不是已登记的行政村",
            detail_en=f"division {code} is not a registered village",
            rule="unknown_division",
            errors=[{"loc": ["division_code"], "msg": "not a registered village"}],
        )
