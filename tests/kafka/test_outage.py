"""Stop the broker, keep writing, start it again: nothing is lost, the relay catches up (nothing lost).

Two outages in one run, on SQLite and PostgreSQL:

- **hung**: the broker is frozen (SIGSTOP) — connections stay open, nothing
  answers, its data survives — while the registry keeps recording; then it
  resumes (SIGCONT).
- **stopped**: the broker process is killed and started again on the same port.
  Tansu keeps topics in memory, so it comes back empty: the relay carries on
  from its own recorded position and the subscriber, whose committed offsets
  went with the broker, reads the new topic from its start — still each event
  once.

Meanwhile the relay's /health says it is unhealthy and how far behind it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bootstrap.settings import Settings
from consumers.metrics import MetricsServer
from service.registry import Registry
from tests.kafka.conftest import (
    PARTITIONS,
    Collector,
    collected,
    get_health,
    household_events,
    run_relay,
    run_subscriber,
    runner_for,
    wait_for,
)
from tests.kafka.workload import StepClock, setup_divisions, write_households
from tests.kafka_broker import TansuBroker, start_broker

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[TansuBroker]:
    """A broker of this test alone: it is frozen, killed and restarted."""
    b = start_broker(log_dir=tmp_path / "tansu")
    yield b
    b.stop()


def test_broker_outages_lose_nothing(database_url: str, own_broker: TansuBroker) -> None:
    topic = "household-events"
    own_broker.create_topic(topic, PARTITIONS)
    settings = Settings(database_url=database_url, kafka_bootstrap=own_broker.bootstrap, kafka_topic=topic,
                        inline_projections=False)
    clock = StepClock()
    registry = Registry(settings, clock=clock)
    setup_divisions(registry, clock)
    relay, relay_thread = run_relay(settings, flush_timeout=0.5)
    server = MetricsServer("relay", relay.stats, 0, "127.0.0.1").start()
    runner = runner_for(Collector(), settings)
    subscriber = run_subscriber(runner)

    def applied_everything(what: str) -> None:
        feed = household_events(registry)
        wait_for(lambda: runner.stats.applied_total >= len(feed), 60, f"the subscriber to apply {what}")
        rows = collected(runner)
        assert len(rows) == len(feed)  # each event once
        assert {r[0] for r in rows} == {e.event_id for _, e in feed}

    def outage_seen(head: int) -> None:
        wait_for(lambda: get_health(server.port)[0] == 503, 30, "the relay's health to report the outage")
        status, down = get_health(server.port)
        assert status == 503 and not down["healthy"] and down["last_error"]
        assert down["lag"] > 0 and down["position"] < head

    def caught_up(head: int) -> None:
        wait_for(lambda: relay.position == head, 60, "the relay to catch up after the outage")
        status, up = get_health(server.port)
        assert status == 200 and up["healthy"] and up["lag"] == 0

    try:
        write_households(registry, clock, "A", 30)
        applied_everything("the first households")

        # Hung: the broker answers nothing for a while; the registry keeps recording. Then stopped: the
        # broker process dies and starts again (empty: in-memory storage).
        outages: list[tuple[str, Callable[[], object], Callable[[], object], str]] = [
            ("B", own_broker.freeze, own_broker.thaw, "hung"), ("C", own_broker.kill, own_broker.start, "was down")]
        for prefix, down, back, what in outages:
            down()
            write_households(registry, clock, prefix, 30)
            head = registry.recorder.max_notification_id() or 0
            outage_seen(head)
            back()
            caught_up(head)
            applied_everything(f"what was written while the broker {what}")

        last: dict[str, int] = {}
        for _, household_id, version, _ in collected(runner):
            assert version == last.get(household_id, 0) + 1, f"{household_id} applied out of order"
            last[household_id] = version
        assert relay.failures_total >= 1
    finally:
        subscriber.stop()
        relay_thread.stop()
        server.stop()
        runner.close()
        relay.close()
        registry.close()
