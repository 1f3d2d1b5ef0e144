"""Reference data the queries need: divisions (names, rural population) and policy versions.

Both are versioned with both times: a division version has an ``effective_date``
and the moment it was recorded, so incidence "as of D known at K" uses the
population then in force as then known; policy versions likewise feed the
card's post-exit flags.
"""

from __future__ import annotations

from collections.abc import Iterable

from persistence.db import Tx
from projections.encoding import to_us
from projections.log import Entry
from projections.schema import DIVISIONS, POLICIES


class ReferenceProjection:
    """Maintains ``proj_divisions`` and ``proj_policies``."""

    name = "reference"
    layout = 1
    tables = (DIVISIONS, POLICIES)

    def reset(self) -> None:
        pass

    def apply(self, tx: Tx, entries: Iterable[Entry], suffix: str = "") -> int:
        divisions = []
        policies = []
        for e in entries:
            if e.division is not None:
                d = e.division
                divisions.append(
                    (d.code, e.position, d.name, d.rural_population, d.effective_date.isoformat(), to_us(d.recorded_at))
                )
            elif e.policy is not None:
                policies.append((e.position, to_us(e.policy.recorded_at), e.policy.version.model_dump_json()))
        tx.executemany(
            f"INSERT INTO {DIVISIONS.name}{suffix} ({', '.join(DIVISIONS.column_names)}) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            divisions,
        )
        tx.executemany(
            f"INSERT INTO {POLICIES.name}{suffix} ({', '.join(POLICIES.column_names)}) "
            "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            policies,
        )
        return len(divisions) + len(policies)
