"""Policy as data, versioned by effective date and by jurisdiction.

A :class:`PolicyVersion` sets some rules for a jurisdiction (a division-code
prefix; ``""`` is national) from an effective date on. To answer "which rule
applied to division D on date E", each setting is looked up separately: the most
specific jurisdiction that has set it wins, and within that jurisdiction the
latest version effective on or before E. So Taizhou can raise the poverty line
while keeping the national notice periods.

Policy versions are recorded like household events, with a recording moment, so a
question about the past is answered with the rules *as then known*
(:meth:`PolicyBook.known_at`). The statutory national figures in
:mod:`domain.policy_data` are known at every moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.divisions import Scope
from domain.errors import InvalidInput
from domain.vocab import EligibilityException

JurisdictionCode = Scope


class PostExitContinuation(BaseModel):
    """脱贫不脱政策: how long an exited household keeps its support.

    ``none``: support ends at exit (山西省 2014 实施意见: 脱贫人口不再享受扶贫政策);
    ``years``: N years after exit (泰发〔2016〕5号: 两年内继续享受原扶持政策);
    ``until``: a fixed date (湖光镇两年行动方案: 稳定脱贫攻坚政策到2021年7月).
    ``floor``: a national minimum (厅字〔2016〕16号) that a local rule may extend but not
    shorten, for exits from its effective date on (:func:`exit_continuation`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["none", "years", "until"]
    years: Annotated[int, Field(ge=1, le=20)] | None = None
    until: date | None = None
    floor: bool = False

    @model_validator(mode="after")
    def _complete(self) -> PostExitContinuation:
        if self.kind == "years" and self.years is None:
            raise ValueError("kind 'years' needs 'years'")
        if self.kind == "until" and self.until is None:
            raise ValueError("kind 'until' needs 'until'")
        return self

    def support_until(self, exited_on: date) -> date | None:
        """The last day of continued support for a household exited on ``exited_on``."""
        if self.kind == "none":
            return None
        if self.kind == "until":
            assert self.until is not None
            return self.until if self.until >= exited_on else None
        assert self.years is not None
        try:
            end = exited_on.replace(year=exited_on.year + self.years)
        except ValueError:  # 29 February
            end = exited_on.replace(year=exited_on.year + self.years, day=28)
        return end - timedelta(days=1)


class YearTarget(BaseModel):
    """A division's targets for one year (e.g. 会宁县委发〔2015〕53号 二、目标任务)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    year: Annotated[int, Field(ge=2000, le=2100)]
    exit_persons: Annotated[int, Field(ge=0)] | None = Field(None, description="persons to exit in the year")
    exit_households: Annotated[int, Field(ge=0)] | None = Field(None, description="households to exit")
    villages_exited: Annotated[int, Field(ge=0)] | None = Field(None, description="poor villages to 出列")
    incidence_max: Annotated[float, Field(ge=0, le=100)] | None = Field(
        None, description="poverty incidence (percent) at the end of the year below this"
    )


class PolicySettings(BaseModel):
    """The rules a version sets. ``None`` means "not set here: inherit"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    poverty_line: Annotated[float, Field(gt=0, le=1_000_000)] | None = Field(
        None, description="yuan per person per year; exit needs income at or above it"
    )
    identification_notice_days: Annotated[int, Field(ge=0, le=365)] | None = None
    exit_notice_days: Annotated[int, Field(ge=0, le=365)] | None = None
    identification_quota: Annotated[int, Field(ge=0)] | None = Field(
        None,
        description="households a county may approve per calendar year (规模控制); "
        "set on a county (6-digit) jurisdiction",
    )
    no_exit_in_year_of_entry: bool | None = Field(
        None, description="当年新识别或返贫原则上不能退出"
    )
    post_exit_continuation: PostExitContinuation | None = None
    adjustment_cycle_years: Annotated[int, Field(ge=1, le=10)] | None = None
    adjustment_anchor_year: Annotated[int, Field(ge=2000, le=2100)] | None = None
    revisit_interval_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    poverty_line_with_labour: Annotated[float, Field(gt=0, le=1_000_000)] | None = Field(
        None,
        description="a line for households with labour capacity only (e.g. 湖光镇: 9060 yuan); "
        "households without it (兜底) keep the general poverty_line",
    )
    eligibility_exceptions: tuple[EligibilityException, ...] | None = Field(
        None,
        description="reasons that admit a household whose income is not below the line "
        "(recorded on the identification as eligibility_exception)",
    )
    exit_income_max_age_days: Annotated[int, Field(ge=1, le=3650)] | None = Field(
        None, description="an exit needs an income assessment at most this many days old"
    )


    village_exit_max_incidence: Annotated[float, Field(ge=0, le=100)] | None = Field(
        None, description="贫困村出列: the village's incidence (percent) must be below this"
    )
    county_delist_max_incidence: Annotated[float, Field(ge=0, le=100)] | None = Field(
        None, description="贫困县摘帽: the county's incidence (percent) must be below this"
    )
    targets: tuple[YearTarget, ...] | None = Field(
        None,
        description="yearly targets of the jurisdiction itself (never inherited by the "
        "divisions inside it)",
    )


#: Settings a policy book may leave unset everywhere.
OPTIONAL_SETTINGS = frozenset({
    "identification_quota", "poverty_line", "poverty_line_with_labour", "village_exit_max_incidence",
    "county_delist_max_incidence", "targets",
})
#: Settings that belong to the jurisdiction itself, not to the divisions inside it.
OWN_SETTINGS = frozenset({"targets"})

SETTING_NAMES: tuple[str, ...] = tuple(PolicySettings.model_fields)


class PolicyVersion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    jurisdiction: JurisdictionCode = ""
    effective_date: date
    settings: PolicySettings
    source: Annotated[str, Field(max_length=500)] | None = Field(
        None, description="the document that sets these rules"
    )


@dataclass(frozen=True)
class ResolvedPolicy:
    """Every rule in force for one division on one date."""

    #: None before any line is in force (before 2010 nationally): no exit can be judged.
    poverty_line: float | None
    identification_notice_days: int
    exit_notice_days: int
    identification_quota: int | None
    no_exit_in_year_of_entry: bool
    post_exit_continuation: PostExitContinuation
    adjustment_cycle_years: int
    adjustment_anchor_year: int
    revisit_interval_days: int
    poverty_line_with_labour: float | None
    eligibility_exceptions: tuple[EligibilityException, ...]
    exit_income_max_age_days: int
    village_exit_max_incidence: float | None
    county_delist_max_incidence: float | None
    #: setting name → (jurisdiction, effective date, source) it came from
    provenance: dict[str, tuple[str, date, str | None]]


@dataclass(frozen=True)
class RecordedPolicy:
    version: PolicyVersion
    #: None for statutory figures, known at every moment.
    recorded_at: datetime | None


class PolicyBook:
    """All policy versions known, able to answer for any division and date."""

    def __init__(self, recorded: list[RecordedPolicy]) -> None:
        self._recorded = list(recorded)
        self._last_recorded = max((r.recorded_at for r in recorded if r.recorded_at), default=None)
        # Precedence: most specific jurisdiction, then latest effective date, then
        # latest recording (a re-recorded version supersedes the earlier one).
        self._by_precedence = sorted(
            self._recorded,
            key=lambda r: (
                len(r.version.jurisdiction),
                r.version.effective_date,
                r.recorded_at is not None,
                r.recorded_at or datetime.min,
            ),
            reverse=True,
        )

    @property
    def versions(self) -> list[RecordedPolicy]:
        return list(self._recorded)

    def known_at(self, moment: datetime | None) -> PolicyBook:
        """The book as it stood at ``moment`` (None: everything recorded)."""
        if moment is None or self._last_recorded is None or moment >= self._last_recorded:
            return self
        return PolicyBook(
            [r for r in self._recorded if r.recorded_at is None or r.recorded_at <= moment]
        )

    def with_version(self, recorded: RecordedPolicy) -> PolicyBook:
        return PolicyBook([*self._recorded, recorded])

    def resolve(self, division_code: str, on: date) -> ResolvedPolicy:
        values: dict[str, object] = {}
        provenance: dict[str, tuple[str, date, str | None]] = {}
        for r in self._by_precedence:
            v = r.version
            if v.effective_date > on or not division_code.startswith(v.jurisdiction):
                continue
            for name in SETTING_NAMES:
                if name in OWN_SETTINGS:
                    continue
                value = getattr(v.settings, name)
                if value is not None and name not in values:
                    values[name] = value
                    provenance[name] = (v.jurisdiction, v.effective_date, v.source)
        missing = [n for n in SETTING_NAMES if n not in values and n not in OPTIONAL_SETTINGS]
        if missing:
            raise LookupError(
                f"no policy sets {', '.join(missing)} for {division_code or 'the nation'} on {on}"
            )
        return ResolvedPolicy(
            poverty_line=float(values["poverty_line"]) if "poverty_line" in values else None,  # type: ignore[arg-type]
            identification_notice_days=int(values["identification_notice_days"]),  # type: ignore[call-overload]
            exit_notice_days=int(values["exit_notice_days"]),  # type: ignore[call-overload]
            identification_quota=values.get("identification_quota"),  # type: ignore[arg-type]
            no_exit_in_year_of_entry=bool(values["no_exit_in_year_of_entry"]),
            post_exit_continuation=values["post_exit_continuation"],  # type: ignore[arg-type]
            adjustment_cycle_years=int(values["adjustment_cycle_years"]),  # type: ignore[call-overload]
            adjustment_anchor_year=int(values["adjustment_anchor_year"]),  # type: ignore[call-overload]
            revisit_interval_days=int(values["revisit_interval_days"]),  # type: ignore[call-overload]
            poverty_line_with_labour=values.get("poverty_line_with_labour"),  # type: ignore[arg-type]
            eligibility_exceptions=tuple(values["eligibility_exceptions"]),  # type: ignore[arg-type, call-overload]
            exit_income_max_age_days=int(values["exit_income_max_age_days"]),  # type: ignore[call-overload]
            village_exit_max_incidence=values.get("village_exit_max_incidence"),  # type: ignore[arg-type]
            county_delist_max_incidence=values.get("county_delist_max_incidence"),  # type: ignore[arg-type]
            provenance=provenance,
        )


@dataclass(frozen=True)
class Continuation:
    """What an exit is entitled to after it (脱贫不脱政策), and where that comes from."""

    #: the last day of continued support; None: support ends at exit
    until: date | None
    #: (jurisdiction, effective date, source) of each rule that made it
    sources: tuple[tuple[str, date, str | None], ...]


def exit_continuation(book: PolicyBook, division_code: str, exited_on: date) -> Continuation:
    """The continuation an exit on ``exited_on`` in ``division_code`` is entitled to.

    Fixed by the rules in force on the exit's own date, whatever day is asked about
    (ask the book as known at the query's ``known_at``): the most specific rule in force
    then applies, but never below a national floor in force then — a local rule may
    extend the national minimum, not shorten it. A local rule older than the floor (山西
    2014: no continuation) so governs only exits before the floor took effect.
    """
    in_force: list[RecordedPolicy] = [
        r
        for r in book._by_precedence
        if r.version.effective_date <= exited_on
        and division_code.startswith(r.version.jurisdiction)
        and r.version.settings.post_exit_continuation is not None
    ]
    if not in_force:
        return Continuation(None, ())
    chosen = in_force[0]  # precedence: most specific, then latest effective

    def until_of(r: RecordedPolicy) -> date | None:
        c = r.version.settings.post_exit_continuation
        assert c is not None
        return c.support_until(exited_on)

    def source(r: RecordedPolicy) -> tuple[str, date, str | None]:
        return (r.version.jurisdiction, r.version.effective_date, r.version.source)

    floors = [r for r in in_force if r.version.settings.post_exit_continuation.floor]  # type: ignore[union-attr]
    until = until_of(chosen)
    if not floors or floors[0] is chosen:
        return Continuation(until, (source(chosen),))
    floor = max(floors, key=lambda r: (r.version.effective_date, len(r.version.jurisdiction)))
    floor_until = until_of(floor)
    if until is not None and (floor_until is None or until >= floor_until):
        return Continuation(until, (source(chosen), source(floor)))
    return Continuation(floor_until, (source(floor), source(chosen)))


def poverty_line_for(
    book: PolicyBook, division_code: str, year: int, with_labour: bool
) -> tuple[float | None, tuple[str, date, str | None] | None]:
    """The line an income of ``year`` is measured against, and where it comes from: the
    line in force at the end of that year; a household with labour capacity is held to
    a labour line where one is set (湖光镇), others to the general line (兜底)."""
    policy = book.resolve(division_code, date(year, 12, 31))
    if with_labour and policy.poverty_line_with_labour is not None:
        labour_from = policy.provenance["poverty_line_with_labour"]
        general_from = policy.provenance.get("poverty_line")
        # A labour line applies where it is at least as specific as the general line.
        if general_from is None or len(labour_from[0]) >= len(general_from[0]):
            return policy.poverty_line_with_labour, labour_from
    return policy.poverty_line, policy.provenance.get("poverty_line")


def targets_for(
    book: PolicyBook, division_code: str, on: date
) -> tuple[tuple[YearTarget, ...], tuple[str, date, str | None] | None]:
    """The yearly targets a division set for itself, as in force on ``on`` (latest version)."""
    for r in book._by_precedence:
        v = r.version
        if v.jurisdiction == division_code and v.effective_date <= on and v.settings.targets is not None:
            return v.settings.targets, (v.jurisdiction, v.effective_date, v.source)
    return (), None


def _source_json(source: tuple[str, date, str | None]) -> dict[str, Any]:
    jurisdiction, effective, text = source
    return {"jurisdiction": jurisdiction, "effective_date": effective.isoformat(), "source": text}


def resolved_json(book: PolicyBook, division_code: str, on: date) -> dict[str, Any]:
    """The rules in force for a division on a date as plain JSON, each with where it comes
    from, and the continuation an exit on that date is entitled to (``povreg policy show``,
    ``GET /v1/policies``). Refused (``no_policy``) where no policy is in force."""
    try:
        policy = book.resolve(division_code, on)
    except LookupError as exc:
        raise InvalidInput(f"{on} 时 {division_code} 没有生效的政策", rule="no_policy", detail_en=str(exc)) from None
    out: dict[str, Any] = {}
    for name, value in policy.__dict__.items():
        if name == "provenance":
            continue
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        elif isinstance(value, tuple):
            value = [str(v) for v in value]
        out[name] = value
    continuation = exit_continuation(book, division_code, on)
    out["exit_continuation"] = {
        "exited_on": on.isoformat(),
        "until": continuation.until.isoformat() if continuation.until else None,
        "sources": [_source_json(s) for s in continuation.sources],
    }
    targets, targets_from = targets_for(book, division_code, on)
    out["targets"] = [t.model_dump(mode="json", exclude_none=True) for t in targets]
    out["provenance"] = {name: _source_json(src) for name, src in policy.provenance.items()}
    if targets_from is not None:
        out["provenance"]["targets"] = _source_json(targets_from)
    return out
