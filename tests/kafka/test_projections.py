"""Two `povreg consume projections` in one group split the partitions and, together, build exactly
the read models the in-process projection builds from the log (the same answers, however they are built)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from bootstrap.settings import Settings
from consumers.relay import Relay, RelayConfig
from projections.readmodel import SqlReadModel
from service.registry import Registry
from tests.kafka.conftest import (
    PARTITIONS,
    consumer_process,
    get_health,
    household_events,
    projection_rows,
    terminate,
    unique_group,
    wait_for,
    with_pii_topic,
)
from tests.kafka.workload import VILLAGES, write_households
from tests.kafka_broker import TansuBroker

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

HOUSEHOLDS = 160
DATES = [date(2014, 5, 10), date(2014, 6, 1), date(2016, 11, 10), date(2016, 12, 31), date(2017, 9, 1),
         date(2018, 6, 30)]
KNOWN = [None, datetime(2016, 12, 31, tzinfo=UTC), datetime(2018, 3, 1, tzinfo=UTC)]


def answers(model: SqlReadModel, household_ids: list[str]) -> dict[str, Any]:
    """What the API answers from the read models: cards, timelines, rosters, adjustments, incidence."""
    out: dict[str, Any] = {}
    for known in KNOWN:
        for day in DATES:
            for prefix in ("620422", *VILLAGES):
                out[f"roster {prefix} {day} {known}"] = model.roster(prefix, day, known, page_size=1000)
            out[f"incidence {day} {known}"] = model.incidence("620422", day, known)
        out[f"adjustments {known}"] = model.adjustments("620422", date(2014, 1, 1), date(2018, 12, 31), known)
        for hid in household_ids:
            out[f"timeline {hid} {known}"] = model.timeline(hid, known)
            for day in DATES[::2]:
                out[f"card {hid} {day} {known}"] = model.card(hid, day, known)
    return out


def test_two_projection_consumers_split_partitions_and_equal_the_in_process_projection(
        store: tuple[Registry, Any], kafka_settings: Settings, broker: TansuBroker, topic: str,
        tmp_path: Path) -> None:
    registry, clock = store
    # The read models hold personal data: the projection consumers read the full events' topic.
    kafka_settings = with_pii_topic(broker, kafka_settings)
    pii_topic = kafka_settings.kafka_pii_topic
    write_households(registry, clock, "P", HOUSEHOLDS)
    feed = household_events(registry)
    household_ids = sorted({e.household_id for _, e in feed})[::4]

    group = unique_group("projections")
    consumers, ports = zip(*[consumer_process(kafka_settings, "projections", group, tmp_path / f"consumer-{i}.log")
                             for i in range(2)], strict=True)
    try:
        def healths() -> list[dict[str, Any]]:
            return [get_health(port)[1] for port in ports]

        def split() -> bool:
            held = [h.get("assigned_partitions") or [] for h in healths()]
            return all(held) and sorted(p for ps in held for p in ps) == list(range(PARTITIONS))

        wait_for(split, 60, "both consumers to hold partitions")
        relay = Relay(kafka_settings, RelayConfig(bootstrap=broker.bootstrap, topic=topic, pii_topic=pii_topic),
                      registry=registry)
        relay.drain()
        relay.close()
        wait_for(lambda: sum(h.get("applied_total", 0) for h in healths()) >= len(feed), 60,
                 "the consumers to apply every event")
        wait_for(lambda: all(h.get("lag") == 0 for h in healths()), 10, "the consumers to report no lag")
        final = healths()
        assert sum(h["applied_total"] for h in final) == len(feed)  # each event once, in one of them
        assert all(h["applied_total"] > 0 and h["dead_letters_total"] == 0 for h in final), final
    finally:
        codes = [terminate(c) for c in consumers]
    assert codes == [0, 0], [p.read_text() for p in tmp_path.glob("consumer-*.log")]

    model = SqlReadModel(registry)
    try:
        with model.store.db.read() as tx:
            tracked = dict(tx.query("SELECT name, position FROM proj_tracking WHERE name LIKE ?",
                                    (f"kafka:{pii_topic}:%",)))
        assert sorted(tracked) == [f"kafka:{pii_topic}:{p}" for p in range(PARTITIONS)]

        # Divisions and policies come from the log's catch-up in every mode; then snapshot what the
        # consumers built, rebuild the household projection in-process from the log, and compare.
        model.store.rebuild(["reference"])
        from_topic = projection_rows(model.store), answers(model, household_ids)
        assert sum(len(rows) for rows in from_topic[0].values()) > len(feed)
        model.store.rebuild(["households"])
        in_process = projection_rows(model.store), answers(model, household_ids)
        for name in in_process[0]:
            assert from_topic[0][name] == in_process[0][name], f"{name} differs"
        assert from_topic[1] == in_process[1]
        assert any(a["counts"]["poor"]["households"] for k, a in in_process[1].items() if k.startswith("roster"))
    finally:
        model.close()
