"""Chinese labels beside the codes of the read models' answers, for people.

Codes and field names stay English identifiers for machines; each answer gains
``*_label`` fields (added, never renamed): a roster row its status, attribute and main
cause, a timeline interval its status, a report its line names.
"""

from __future__ import annotations

from typing import Any

from domain.vocab import label_zh
from projections.sheets import FLOW_LABELS


def roster(found: dict[str, Any]) -> dict[str, Any]:
    """A roster with ``status_label``, ``attribute_label`` and ``main_cause_label`` on each row
    and ``status_labels`` for its counts."""
    rows = [
        {
            **row,
            "status_label": label_zh("status", row.get("status")),
            "attribute_label": label_zh("attribute", row.get("attribute")),
            "main_cause_label": label_zh("cause", row.get("main_cause")),
        }
        for row in found.get("rows", [])
    ]
    labels = {s: label_zh("status", s) for s in found.get("counts", {})}
    return {**found, "rows": rows, "status_labels": labels}


def timeline(intervals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**i, "status_label": label_zh("status", i.get("status"))} for i in intervals]


def report(found: dict[str, Any]) -> dict[str, Any]:
    """An adjustment report with ``line_labels``: every line and breakdown key it names."""
    keys: set[str] = {"opening", "closing", "inflows", "outflows"}
    for direction in ("inflows", "outflows"):
        keys |= set(found.get(direction, {}))
    labels = {k: FLOW_LABELS.get(k, k) for k in sorted(keys)}
    causes = {c for part in _summaries(found) for c in part.get("by_main_cause", {})}
    attributes = {a for part in _summaries(found) for a in part.get("by_attribute", {})}
    pathways = {p for part in _summaries(found) for p in part.get("by_pathway", {})}
    return {
        **found,
        "line_labels": labels,
        "cause_labels": {c: label_zh("cause", c) for c in sorted(causes)},
        "attribute_labels": {a: label_zh("attribute", a) for a in sorted(attributes)},
        "pathway_labels": {p: label_zh("pathway", p) for p in sorted(pathways)},
    }


def _summaries(found: dict[str, Any]) -> list[dict[str, Any]]:
    parts = [found.get("opening") or {}, found.get("closing") or {}]
    for direction in ("inflows", "outflows"):
        parts += [v for v in (found.get(direction) or {}).values() if isinstance(v, dict)]
    return parts
