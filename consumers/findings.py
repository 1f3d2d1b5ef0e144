"""Finding changes on the household topic: carried by the message of the event that causes them.

A finding opens when a fact recorded late (or a correction, a retraction) shows that an
earlier decision broke a rule, and is resolved by a later decision (or a correction); see
:mod:`domain.findings`. The relay publishes the event that did it as ever, with one more
field, ``findings``: ``[{"change": "opened" | "resolved", …the finding}]``. Subscribers
that know nothing of findings read the same feed item as before; those that do act on it.
No message of another shape appears on the topic, and the order per household holds.

Only an event that lands before another in valid time, a correction, a retraction — or any
event of a household that already had one — can change a finding (the domain's
:func:`~domain.findings.first_disturbance`). The relay tells those apart from what it read
before, and folds only the events of disturbed households, one step each from the ledger it
kept (consumers/folds.py).
"""

from __future__ import annotations

from typing import Any

from domain.findings import Ledger


def diff(before: Ledger, after: Ledger) -> list[dict[str, Any]]:
    """The findings that one event opened or resolved."""
    out: list[dict[str, Any]] = []
    for fid, found in after.items():
        was = before.get(fid)
        was_open = was is not None and was.resolved_by is None and not was.withdrawn
        if found.resolved_by is None and not found.withdrawn:
            if not was_open:
                out.append({"change": "opened", **found.as_dict()})
        elif was is None or was_open or was.resolved_by != found.resolved_by:
            out.append({"change": "resolved", **found.as_dict()})
    return out
