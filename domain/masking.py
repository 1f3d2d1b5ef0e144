"""Masking personal information in outputs (PIPL; docs/api.md "Who may do what").

Names, ID numbers and phones are masked for every role but investigator and
admin. The functions walk JSON-ready structures, so one rule serves cards,
rosters, audit trails and the feed. The household topic carries events masked
the same way, each ID number with a ``person_ref`` beside it (a keyed hash) so
that a department can still link one person's records.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from domain.idnumber import mask_id_number, mask_name, mask_phone, with_check_digit

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


#: Where an ID number sits, and where its person_ref goes beside it.
_REF_OF = {"id_number": "person_ref", "head_id_number": "head_person_ref"}
_REFS_OF_LIST = {"left": "left_person_refs"}


def person_ref(id_number: str, key: bytes) -> str:
    """A stable pseudonym of a person: the keyed hash (HMAC-SHA-256) of the ID number, the same for the
    same person under the same key; without the key it cannot be computed from an ID number."""
    return hmac.new(key, id_number.encode(), hashlib.sha256).hexdigest()[:32]


def mask_with_refs(value: Any, key: bytes) -> Any:
    """:func:`mask`, with a ``person_ref`` beside every ID number (``left_person_refs`` beside the
    ``left`` list of ID numbers): what a subscriber may see, and enough to link one person's records."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for name, item in value.items():
            if name in _REF_OF and isinstance(item, str):
                out[name] = mask_id_number(item)
                out[_REF_OF[name]] = person_ref(item, key)
            elif name in _REFS_OF_LIST and isinstance(item, list) and all(isinstance(x, str) for x in item):
                out[name] = [mask_id_number(x) for x in item]
                out[_REFS_OF_LIST[name]] = [person_ref(x, key) for x in item]
            else:
                masker = _MASKERS.get(name)
                out[name] = masker(item) if masker is not None and isinstance(item, str) else mask_with_refs(item, key)
        return out
    if isinstance(value, list):
        return [mask_with_refs(item, key) for item in value]
    return value


def stand_in_id_number(masked: str, ref: str) -> str:
    """A well-formed ID number standing for the person ``ref`` in a masked event: the masked number's
    visible region and birth year, a month, day and sequence taken from ``ref``, the check digit.

    A subscriber of the masked topic folds events with the domain's own code, which knows members by
    ID number; the stand-in is the same for the same person, so joins and departures still match.
    Two members of one household with the same region and birth year collide with a chance of 1 in
    336,000."""
    digits = int(ref, 16)
    region_year = masked[:10] if masked[:10].isascii() and masked[:10].isdigit() else "1000001900"
    month, day, seq = digits % 12 + 1, digits // 12 % 28 + 1, digits // 336 % 1000
    return with_check_digit(f"{region_year}{month:02d}{day:02d}{seq:03d}")


def foldable(value: Any) -> Any:
    """The data of a masked event (:func:`mask_with_refs`) in a form the domain validates and folds:
    each ID number replaced by its stand-in (:func:`stand_in_id_number`), masked phones dropped.
    Names stay masked."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        refs = {ref for ref in (*_REF_OF.values(), *_REFS_OF_LIST.values()) if ref in value}
        for name, item in value.items():
            if name in refs:
                continue
            ref_name = _REF_OF.get(name) or _REFS_OF_LIST.get(name)
            if ref_name in value:
                refs_value = value[ref_name]
                if isinstance(item, list):
                    out[name] = [stand_in_id_number(x, r) for x, r in zip(item, refs_value, strict=True)]
                else:
                    out[name] = stand_in_id_number(item, refs_value)
            elif name == "phone" and isinstance(item, str) and "*" in item:
                out[name] = None
            else:
                out[name] = foldable(item)
        return out
    if isinstance(value, list):
        return [foldable(item) for item in value]
    return value
