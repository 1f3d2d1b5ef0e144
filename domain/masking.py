"""Masking personal information in outputs (PIPL; docs/api.md "Who may do what").

Names, ID numbers and phones are masked for every role but investigator and
admin. The functions walk JSON-ready structures, so one rule serves cards,
rosters, audit trails and the feed.
"""

from __future__ import annotations

from typing import Any

from domain.idnumber import mask_id_number, mask_name, mask_phone

_MASKERS = {
    "name": mask_name,
    "helper_name": mask_name,
    "head_name": mask_name,
    "id_number": mask_id_number,
    "head_id_number": mask_id_number,
    "phone": mask_phone,
}
#: Lists of ID numbers (MembersChanged.left).
_ID_LISTS = frozenset({"left"})


def mask(value: Any) -> Any:
    """A copy of ``value`` with every personal field masked."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            masker = _MASKERS.get(key)
            if masker is not None and isinstance(item, str):
                out[key] = masker(item)
            elif key in _ID_LISTS and isinstance(item, list):
                out[key] = [mask_id_number(x) if isinstance(x, str) else mask(x) for x in item]
            else:
                out[key] = mask(item)
        return out
    if isinstance(value, list):
        return [mask(item) for item in value]
    return value
