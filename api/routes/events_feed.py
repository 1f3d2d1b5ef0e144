"""``GET /v1/events``: the global feed of household events, in recording order."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.auth import FEED_READERS
from api.deps import ReadNow
from api.routes.common import problem_responses
from api.schemas.households import FeedItem
from domain.access import in_scope, require_role
from domain.feed import feed_item

router = APIRouter(prefix="/v1/events", tags=["feed"])

#: How many positions a scoped token's request scans at most before answering.
SCAN_LIMIT = 5_000


@router.get(
    "",
    response_model=list[FeedItem],
    responses={
        200: {
            "description": "the events after `after`, in recording order",
            "headers": {
                "Povreg-Next-After": {
                    "description": "the position to resume from (?after=)",
                    "schema": {"type": "integer"},
                }
            },
        },
        **problem_responses(401, 403, 422),
    },
    summary="The global event feed",
)
def events(
    ask: ReadNow,
    response: Response,
    after: Annotated[
        int, Query(ge=0, le=2**62, description="the last position seen (0 = from the start)")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many items")] = 100,
) -> list[FeedItem]:
    """Household events after position `after`, in recording order, as a JSON list.

    Positions are stable: a poller resumes from the last one it saw. Subscribers,
    investigators and admins. A token scoped to a division sees the events of the
    households that have belonged to a village under its prefix; the response header
    `Povreg-Next-After` says where to resume (it can be past the last item, when
    events of other divisions were skipped). Personal fields are masked except for
    investigators and admins."""
    actor = ask.actor
    require_role(actor, *FEED_READERS)
    # A scoped token's events are chosen by the read model's divisions: only positions the
    # read model has applied are served, so that no event is skipped for want of them.
    horizon = ask.read_model.position() if actor.division else None
    items: list[FeedItem] = []
    next_after = after
    scope_cache: dict[str, bool] = {}
    while len(items) < limit:
        page = ask.registry.feed(after=next_after, limit=limit)
        if horizon is not None:
            page = [(position, event) for position, event in page if position <= horizon]
        if not page:
            break
        for position, event in page:
            next_after = position
            if actor.division:
                hid = event.household_id
                if hid not in scope_cache:
                    divisions = ask.read_model.household_divisions(hid) or set()
                    scope_cache[hid] = any(in_scope(actor, code) for code in divisions)
                if not scope_cache[hid]:
                    continue
            item = feed_item(position, event)
            item["data"] = ask.masked(item["data"])  # the household's PII; recorded_by is staff
            items.append(FeedItem.model_validate(item))
            if len(items) == limit:
                break
        if not actor.division or next_after - after >= SCAN_LIMIT:
            break
    response.headers["Povreg-Next-After"] = str(next_after)
    return items
