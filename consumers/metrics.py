"""A small health and metrics endpoint for the relay and the subscribers.

``GET /health`` (or ``/``) → JSON of the component's stats, status 200 when
healthy and 503 when not; ``GET /metrics`` → the same numbers for Prometheus
(``povreg_<component>_<name>``), written by prometheus_client from a collector
that reads the stats at each scrape. Plain :mod:`http.server` in a daemon
thread: nothing on the hot path.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

Stats = Callable[[], dict[str, Any]]


class StatsCollector(Collector):
    """The numeric stats of a component as Prometheus metrics: ``*_total`` as counters, the rest as
    gauges, booleans as 0/1; text and missing values are left out."""

    def __init__(self, component: str, stats: Stats, labels: dict[str, str] | None = None) -> None:
        self.component = component
        self.stats = stats
        self.labels = dict(sorted((labels or {}).items()))

    def collect(self) -> Iterator[Metric]:
        names, values = list(self.labels), list(self.labels.values())
        for name, value in self.stats().items():
            if isinstance(value, bool):
                value = int(value)
            if not isinstance(value, int | float):
                continue
            metric = f"povreg_{self.component}_{name}"
            family: GaugeMetricFamily | CounterMetricFamily
            if name.endswith("_total"):
                family = CounterMetricFamily(metric, f"{self.component} {name}", labels=names)
            else:
                family = GaugeMetricFamily(metric, f"{self.component} {name}", labels=names)
            family.add_metric(values, value)
            yield family


class MetricsServer:
    def __init__(self, component: str, stats: Stats, port: int, host: str = "0.0.0.0",
                 labels: dict[str, str] | None = None) -> None:
        self.component = component
        self.stats = stats
        self.labels = labels or {}
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(StatsCollector(component, stats, self.labels))
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                if path == "/metrics":
                    self._send(200, CONTENT_TYPE_LATEST, generate_latest(outer.registry))
                elif path in ("/", "/health", "/healthz"):
                    data = outer.stats()
                    status = 200 if data.get("healthy", True) else 503
                    self._send(status, "application/json", json.dumps(data, default=str).encode())
                else:
                    self._send(404, "application/json", b'{"error": "not found"}')

            def _send(self, status: int, ctype: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, name=f"{component}-metrics", daemon=True)

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
