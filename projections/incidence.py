"""Poverty incidence (贫困发生率) of a division."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from domain.reference import version_in_force
from domain.vocab import COUNTED_POOR
from projections.encoding import known_us
from projections.reading import Queries, check_prefix, prefix_range


class IncidenceQueries(Queries):
    def incidence(self, division_prefix: str, as_of: date, known_at: datetime | None) -> dict[str, Any]:
        """Persons in poor, returned and exit_pending households ÷ rural population: the
        households the adjustment report counts as poor (an exit is not final until confirmed).

        The population of a registered division (6, 9 or 12 digits) is its own
        figure in force on ``as_of`` as known at ``known_at``; a province or
        prefecture prefix (2 or 4 digits) adds up its registered counties.
        """
        check_prefix(division_prefix)
        lo, hi = prefix_range(division_prefix)
        k = known_us(known_at)
        day = as_of.isoformat()
        poor = sorted(s.value for s in COUNTED_POOR)
        with self.store.db.read() as tx:
            if self._flows_for(division_prefix):
                households = persons = 0
                for (s, _, _), (h, p, _) in self._stocks(tx, division_prefix, [as_of], k)[0].items():
                    if s in poor:
                        households += h
                        persons += p
            else:
                households, persons = tx.one(
                    "SELECT count(*), coalesce(sum(persons), 0) FROM proj_timeline WHERE division_code >= ? "
                    "AND division_code < ? AND valid_from <= ? AND valid_to > ? AND known_from <= ? "
                    f"AND known_to > ? AND status IN ({', '.join('?' * len(poor))})",
                    (lo, hi, day, day, k, k, *poor),
                ) or (0, 0)
            if len(division_prefix) >= 6:
                versions = self._division_versions(tx, "code = ?", [division_prefix])
                basis = "division"
            else:
                versions = self._division_versions(
                    tx, "code >= ? AND code < ? AND length(code) = 6", [lo, hi]
                )
                basis = "counties"
            name = self._names(tx, {division_prefix}, as_of, known_at).get(division_prefix)
        in_force = [version_in_force(v, as_of, known_at) for v in versions.values()]
        counted = [v for v in in_force if v is not None]
        population = sum(v.rural_population for v in counted) if counted else None
        return {
            "division_code": division_prefix,
            "division_name": name,
            "as_of": as_of.isoformat(),
            "known_at": known_at.isoformat(timespec="microseconds") if known_at else None,
            "poor_households": int(households),
            "poor_persons": int(persons),
            "population": population,
            "population_basis": basis if counted else None,
            "population_divisions": len(counted),
            "incidence": (int(persons) / population) if population else None,
        }
