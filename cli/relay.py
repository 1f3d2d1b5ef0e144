"""``povreg relay`` and ``povreg consume …``: Kafka out of the store, and subscribers of the topic."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import date
from typing import Annotated, Any

import typer

from bootstrap.settings import Settings
from cli.common import err_console, load_settings, print_json
from domain.moments import parse_as_of

consume_app = typer.Typer(no_args_is_help=True)
dibao_app = typer.Typer(no_args_is_help=True)

MetricsPort = Annotated[
    int | None, typer.Option(min=0, max=65535, help="serve /health (JSON) and /metrics (Prometheus) on this port")
]
MetricsHost = Annotated[str, typer.Option(help="address of the metrics endpoint")]


def _settings(need_kafka: bool = True, **overrides: Any) -> Settings:
    settings = load_settings(**overrides)
    if need_kafka and not settings.kafka_bootstrap:
        err_console.print("[red]Kafka is off:[/red] set POVREG_KAFKA_BOOTSTRAP (e.g. 127.0.0.1:9092)")
        raise typer.Exit(2)
    return settings


def _logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.INFO if verbose else logging.WARNING)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, _frame: Any) -> None:
        logging.getLogger("povreg").info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def relay(
    page_size: Annotated[int, typer.Option(min=1, max=100_000, help="notifications read per query")] = 5000,
    poll_interval: Annotated[float, typer.Option(min=0.001, help="seconds between polls of the log when idle")] = 0.05,
    commit_interval: Annotated[
        float, typer.Option(min=0.0, help="seconds between writes of the acknowledged position")
    ] = 0.5,
    linger_ms: Annotated[int, typer.Option(min=0, help="producer linger: wait this long to fill batches")] = 5,
    compression: Annotated[
        str, typer.Option(help="producer compression: none, gzip, snappy, lz4 or zstd")
    ] = "none",
    shard: Annotated[
        str | None, typer.Option(help="INDEX/COUNT: publish only partitions p with p % COUNT == INDEX "
                                      "(run one relay per INDEX to spread the work)")
    ] = None,
    metrics_port: MetricsPort = None,
    metrics_host: MetricsHost = "0.0.0.0",
    log_interval: Annotated[float, typer.Option(min=0.1, help="seconds between progress/lag log lines")] = 10.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Publish every recorded household event to the Kafka topic, from where it last stopped, until stopped.

    Key = household_id, value = the feed item JSON with personal data masked and a person_ref beside each
    ID number (the full item also on POVREG_KAFKA_PII_TOPIC, when set), header `position`. Resumes after any
    crash or broker outage from the last acknowledged position (at-least-once, never a gap). SIGTERM stops it
    cleanly.
    """
    from consumers.metrics import MetricsServer
    from consumers.producer import check_compression
    from consumers.relay import Relay, RelayConfig, RelayConfigError, parse_shard

    settings = _settings()
    _logging(verbose)
    assert settings.kafka_bootstrap is not None
    try:
        check_compression(compression)
    except RelayConfigError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--compression'") from None
    try:
        shard_of = parse_shard(shard) if shard else None
    except RelayConfigError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--shard'") from None
    producer: dict[str, Any] = {"linger_ms": linger_ms, "compression_type": compression}
    config = RelayConfig(bootstrap=settings.kafka_bootstrap, topic=settings.kafka_topic,
                         pii_topic=settings.kafka_pii_topic, page_size=page_size,
                         poll_interval=poll_interval, commit_interval=commit_interval, log_interval=log_interval,
                         producer=producer, shard=shard_of)
    stop = _stop_on_signals()
    the_relay = Relay(settings, config)
    server = None
    if metrics_port is not None:
        server = MetricsServer("relay", the_relay.stats, metrics_port, metrics_host,
                               labels={"topic": settings.kafka_topic, "relay": config.tracking_name}).start()
        logging.getLogger("povreg.relay").info("metrics on http://%s:%d/metrics", metrics_host, server.port)
    try:
        the_relay.run(stop)
    except RelayConfigError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        if server is not None:
            server.stop()
        the_relay.close()


def _run_subscriber(runner: Any, metrics_port: int | None, metrics_host: str) -> None:
    from consumers.metrics import MetricsServer

    stop = _stop_on_signals()
    server = None
    if metrics_port is not None:
        server = MetricsServer("subscriber", runner.stats_dict, metrics_port, metrics_host,
                               labels={"subscriber": runner.subscriber.name}).start()
    try:
        runner.run(stop)
    finally:
        if server is not None:
            server.stop()
        runner.close()


Group = Annotated[str | None, typer.Option(help="consumer group (default povreg-<subscriber>)")]
SessionTimeout = Annotated[
    int, typer.Option(min=1000, max=300_000, help="consumer group session timeout (ms); a member silent this long "
                                                 "loses its partitions")
]
DatabaseUrl = Annotated[
    str | None, typer.Option(help="the subscriber's own database (default: POVREG_DATABASE_URL)")
]


@consume_app.command("projections")
def consume_projections(
    group: Group = None,
    session_timeout_ms: SessionTimeout = 10_000,
    metrics_port: MetricsPort = None,
    metrics_host: MetricsHost = "0.0.0.0",
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Build the household read models from the personal-data topic (the scaled mode); run one per partition."""
    from consumers.projections import projection_runner

    settings = _settings()
    if not settings.kafka_pii_topic:
        err_console.print("[red]the read models hold personal data:[/red] set POVREG_KAFKA_PII_TOPIC (the relay "
                          "publishes full events there) for the projection consumers", highlight=False)
        raise typer.Exit(2)
    _logging(verbose)
    runner, registry = projection_runner(settings, group=group, session_timeout_ms=session_timeout_ms)
    try:
        _run_subscriber(runner, metrics_port, metrics_host)
    finally:
        registry.close()


def _subscriber_settings(database_url: str | None, need_kafka: bool = True) -> Settings:
    """The environment's settings, with the subscriber's own database if one is given."""
    return _settings(need_kafka, **({"database_url": database_url} if database_url else {}))


@consume_app.command("dibao")
def consume_dibao(
    group: Group = None,
    database_url: DatabaseUrl = None,
    session_timeout_ms: SessionTimeout = 10_000,
    metrics_port: MetricsPort = None,
    metrics_host: MetricsHost = "0.0.0.0",
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Civil affairs' low-income (低保) roster sync: the example outside subscriber."""
    from consumers.base import SubscriberRunner
    from consumers.dibao import DibaoRosterSync

    settings = _subscriber_settings(database_url)
    _logging(verbose)
    # Civil affairs links people by person_ref on the household topic, or reads the personal-data topic if set.
    runner = SubscriberRunner(DibaoRosterSync(), settings, topic=settings.kafka_pii_topic or settings.kafka_topic,
                              group=group, session_timeout_ms=session_timeout_ms)
    _run_subscriber(runner, metrics_port, metrics_host)


@consume_app.command("dead-letters")
def dead_letters(
    subscriber: Annotated[str | None, typer.Option(help="only this subscriber's")] = None,
    database_url: DatabaseUrl = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="at most this many")] = 100,
) -> None:
    """The messages subscribers sent to the dead-letter topic, with the reason."""
    from consumers.base import BASE_TABLES, DEAD_LETTER_TABLE
    from persistence.db import Database

    db = Database(_subscriber_settings(database_url, need_kafka=False))
    try:
        db.ddl(*BASE_TABLES)
        where, params = ("WHERE subscriber = ?", [subscriber]) if subscriber else ("", [])
        rows = db.query(
            f"SELECT subscriber, topic, partition, kafka_offset, event_id, household_id, version, kind, reason, "
            f"dead_at FROM {DEAD_LETTER_TABLE} {where} ORDER BY dead_at, topic, partition, kafka_offset LIMIT ?",
            (*params, limit))
    finally:
        db.close()
    keys = ("subscriber", "topic", "partition", "offset", "event_id", "household_id", "version", "kind",
            "reason", "dead_at")
    print_json([dict(zip(keys, row, strict=True)) for row in rows])


def _dibao_db(database_url: str | None) -> Any:
    from consumers.dibao import TABLES
    from persistence.db import Database

    settings = _subscriber_settings(database_url, need_kafka=False)
    db = Database(settings)
    db.ddl(*TABLES)
    return db


@dibao_app.command("roster")
def dibao_roster(
    as_of: Annotated[str | None, typer.Option(help="the date (YYYY-MM-DD; default today)")] = None,
    division: Annotated[str, typer.Option(help="division code (2, 4, 6, 9 or 12 digits; default all)")] = "",
    database_url: DatabaseUrl = None,
) -> None:
    """Who was on the low-income roster on a date, as civil affairs' copy now knows it."""
    from consumers.dibao import check_division_prefix, roster_on

    try:
        day = parse_as_of(as_of) if as_of else date.today()
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--as-of'") from None
    try:
        check_division_prefix(division)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--division'") from None
    db = _dibao_db(database_url)
    try:
        rows = roster_on(db, day, division)
    finally:
        db.close()
    print_json({"as_of": day.isoformat(), "division": division, "households": len(rows), "rows": rows})


@dibao_app.command("changes")
def dibao_changes(
    after: Annotated[int, typer.Option(min=0, help="only changes caused by events after this position")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="at most this many changes")] = 1000,
    database_url: DatabaseUrl = None,
) -> None:
    """Entries to and exits from the low-income roster, in the order the events arrived."""
    from consumers.dibao import changes_since

    db = _dibao_db(database_url)
    try:
        rows = changes_since(db, after, limit)
    finally:
        db.close()
    print_json(rows)


def register(app: typer.Typer) -> None:
    app.command("relay")(relay)
    app.add_typer(consume_app, name="consume", help="Kafka subscribers: projections (scaled mode), dibao.")
    app.add_typer(dibao_app, name="dibao", help="Civil affairs' low-income roster (built by `consume dibao`).")
