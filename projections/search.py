"""Finding households: by registry number, or by the head's name or ID number.

Reads the status timeline as now known (each household's current interval), so a
household is found where it is now, whatever its status. Names and ID numbers are
compared here, in the application, never in SQL: the read model's text is whatever
the store keeps, and the comparison needs the plain value.
"""

from __future__ import annotations

from typing import Any

from projections.encoding import OPEN_DATE, OPEN_US
from projections.reading import Queries, prefix_range


def search(model: Queries, query: str, prefix: str = "", people: bool = False,
           limit: int = 20) -> list[dict[str, Any]]:
    """Households whose number contains ``query`` (any case) and, with ``people``, whose head's
    name contains it or whose head's ID number equals it; under ``prefix``; at most ``limit``."""
    needle = query.strip()
    if not needle:
        return []
    lo, hi = prefix_range(prefix) if prefix else ("", "\uffff")
    upper = needle.upper()
    with model.store.db.read() as tx:
        rows = tx.query(
            "SELECT household_id, status, division_code, persons, head_name, head_id_number FROM proj_timeline "
            "WHERE known_to = ? AND valid_to = ? AND division_code >= ? AND division_code < ? ORDER BY household_id",
            (OPEN_US, OPEN_DATE, lo, hi),
        )
        unseal = tx.sealer.unseal  # the head's name and ID number are sealed at rest
    found: list[dict[str, Any]] = []
    for hid, status, code, persons, sealed_name, sealed_id in rows:
        head_name, head_id_number = unseal(sealed_name), unseal(sealed_id)
        by_id = upper in hid.upper()
        by_person = people and ((head_name and needle in head_name) or (head_id_number or "") == upper)
        if by_id or by_person:
            found.append({"household_id": hid, "status": status, "division_code": code, "persons": persons,
                          "head_name": head_name, "head_id_number": head_id_number,
                          "matched": "household_id" if by_id else "person"})
            if len(found) >= limit:
                break
    return found


__all__ = ["search"]
