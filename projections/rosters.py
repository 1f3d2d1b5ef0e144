"""The roster (村有表、镇有册): counts per status and a page of households of a division."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from projections.encoding import known_us
from projections.reading import STATUSES, Queries, check_prefix, prefix_range


class RosterQueries(Queries):
    def roster(
        self,
        division_prefix: str,
        as_of: date,
        known_at: datetime | None,
        status: str | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> dict[str, Any]:
        check_prefix(division_prefix)
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; statuses: {', '.join(STATUSES)}")
        if page < 1 or not 1 <= page_size <= 1000:
            raise ValueError("page is 1 or more and page_size 1–1000")
        lo, hi = prefix_range(division_prefix)
        k = known_us(known_at)
        day = as_of.isoformat()
        where = (
            "division_code >= ? AND division_code < ? AND valid_from <= ? AND valid_to > ? "
            "AND known_from <= ? AND known_to > ?"
        )
        params: list[Any] = [lo, hi, day, day, k, k]
        with self.store.db.read() as tx:
            counts = {s: {"households": 0, "persons": 0} for s in STATUSES}
            if self._flows_for(division_prefix):
                for (s, _, _), (households, persons, _) in self._stocks(tx, division_prefix, [as_of], k)[0].items():
                    counts[s]["households"] += households
                    counts[s]["persons"] += persons
            else:
                for s, households, persons in tx.query(
                    f"SELECT status, count(*), coalesce(sum(persons), 0) FROM proj_timeline WHERE {where} "
                    "GROUP BY status",
                    params,
                ):
                    counts[s] = {"households": int(households), "persons": int(persons)}
            row_where = where + (" AND status = ?" if status else "")
            row_params = params + ([status] if status else [])
            rows = tx.query(
                "SELECT household_id, status, division_code, attribute, main_cause, persons, valid_from, head_name, "
                f"head_id_number FROM proj_timeline WHERE {row_where} ORDER BY household_id LIMIT ? OFFSET ?",
                [*row_params, page_size, (page - 1) * page_size],
            )
            names = self._names(tx, {r[2] for r in rows} | {division_prefix}, as_of, known_at)
        matching = counts[status]["households"] if status else sum(c["households"] for c in counts.values())
        items = []
        unseal = self.store.db.sealer.unseal
        for hid, s, code, attribute, cause, persons, valid_from, head_name, head_id_number in rows:
            items.append(
                {
                    "household_id": hid,
                    "status": s,
                    "division_code": code,
                    "division_name": names.get(code),
                    "attribute": attribute,
                    "main_cause": cause,
                    "persons": persons,
                    "head_name": unseal(head_name),
                    "head_id_number": unseal(head_id_number),
                    "since": valid_from,
                }
            )
        return {
            "division_code": division_prefix,
            "division_name": names.get(division_prefix),
            "as_of": as_of.isoformat(),
            "known_at": known_at.isoformat(timespec="microseconds") if known_at else None,
            "counts": counts,
            "total": {
                "households": sum(c["households"] for c in counts.values()),
                "persons": sum(c["persons"] for c in counts.values()),
            },
            "status": status,
            "page": page,
            "page_size": page_size,
            "rows_total": matching,
            "pages": max(1, -(-matching // page_size)),
            "rows": items,
        }
