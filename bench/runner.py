"""The eventsourcing library's own ``ProjectionRunner``: the rebuild's baseline.

A projection of the store's household events written the library's way: its
``ProjectionRunner`` subscribes to the registry's notification log and calls the
projection's ``process_event`` for each event, which writes one row (the event's
household, version, type, effective date and body, its personal fields masked as the
API shows them, so that no personal data lands in the view) and the runner's tracking
position in one transaction of a ``PostgresTrackingRecorder`` view. That is less
work per event than the registry's rebuild (no fold, card, timeline or audit
trail), so the ratio understates the difference in what each does per event.

    python -m bench.runner --url URL [--events 5000]
"""

from __future__ import annotations

import argparse
import time
from functools import singledispatchmethod
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from psycopg.sql import SQL, Identifier
from psycopg.types.json import Jsonb

from bench.common import bench_settings
from domain.household import Household
from domain.masking import mask
from service.registry import Registry

VIEW = "bench_runner"


class EventRows(PostgresTrackingRecorder):
    """The view: one row per household event, with the runner's tracking position."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)  # its tracking table is named after the projection
        self.sql_create_statements.append(SQL(
            "CREATE TABLE IF NOT EXISTS {0}.{1} (household_id text, version bigint, type text, "
            "effective_date text, body jsonb, PRIMARY KEY (household_id, version))"
        ).format(Identifier(self.datastore.schema), Identifier(f"{VIEW}_events")))
        self.insert_row = SQL("INSERT INTO {0}.{1} VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING").format(
            Identifier(self.datastore.schema), Identifier(f"{VIEW}_events"))

    def record_event(self, event: Household.Event, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_tracking(curs, tracking)
            body = event.body
            curs.execute(self.insert_row, (event.originator_id, event.originator_version, body.get("type"),
                                           body.get("effective_date"), Jsonb(mask(body))))

    def drop(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            for table in (f"{VIEW}_events", self.tracking_table_name):
                curs.execute(SQL("DROP TABLE IF EXISTS {0}.{1}").format(Identifier(self.datastore.schema),
                                                                        Identifier(table)))


class HouseholdEvents(Projection[EventRows]):
    name = VIEW

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Other aggregates' events: only the position moves."""
        self.view.insert_tracking(tracking)

    @process_event.register
    def _(self, domain_event: Household.Event, tracking: Tracking) -> None:
        self.view.record_event(domain_event, tracking)


def runner_rate(url: str, events: int, timeout: float = 1800) -> dict[str, Any]:
    """Run the library's runner over the log until it has tracked ``events`` notifications (or the
    whole log, if shorter); its view's tables are dropped afterwards."""
    settings = bench_settings(url, inline_projections=False)

    class Log(Registry):
        """The application the runner subscribes to: the registry of ``url``."""

        name = Registry.name  # the library names an application's tables after it

        def __init__(self, env: Any = None) -> None:
            super().__init__(settings)

    probe = Registry(settings)
    try:
        target = min(events, probe.recorder.max_notification_id() or 0)
    finally:
        probe.close()
    started = time.perf_counter()
    runner = ProjectionRunner(application_class=Log, projection_class=HouseholdEvents, view_class=EventRows,
                              env=settings.eventsourcing_env())
    try:
        with runner:
            runner.wait(target, timeout=timeout)
            seconds = time.perf_counter() - started
            done = runner.view.max_tracking_id(runner.app_name) or 0
    finally:
        runner.view.drop()
    return {"events": done, "seconds": round(seconds, 1), "events_per_s": round(done / seconds)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="a PostgreSQL store holding a simulated county")
    parser.add_argument("--events", type=int, default=5000, help="notifications to project")
    args = parser.parse_args(argv)
    print(runner_rate(args.url, args.events))


if __name__ == "__main__":
    main()
