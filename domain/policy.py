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
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.divisions import Scope

JurisdictionCode = Scope


class PostExitContinuation(BaseModel):
    """脱贫不脱政策: how long an exited household keeps its support.

    ``none``: support ends at exit ([晋2014]); ``years``: N years after exit
    ([泰5]: 2); ``until``: a fixed date ([湖光]: July 2021).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["none", "years", "until"]
    years: Annotated[int, Field(ge=1, le=20)] | None = None
    until: date | None = None

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
                value = getattr(v.settings, name)
                if value is not None and name not in values:
                    values[name] = value
                    provenance[name] = (v.jurisdiction, v.effective_date, v.source)
        missing = [n for n in SETTING_NAMES if n not in values and n not in ("identification_quota", "poverty_line")]
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
            provenance=provenance,
        )
