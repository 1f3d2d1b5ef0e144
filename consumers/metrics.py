"""A tiny health and metrics endpoint for the relay and the subscribers.

``GET /health`` (or ``/``) → JSON of the component's stats, status 200 when
healthy and 503 when not; ``GET /metrics`` → the same numbers in Prometheus
text format (``povreg_<component>_<name>``). Plain :mod:`http.server` in a
daemon thread: no extra dependency, nothing on the hot path.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Stats = Callable[[], dict[str, Any]]


def prometheus(component: str, stats: dict[str, Any], labels: dict[str, str] | None = None) -> str:
    """Numeric stats as Prometheus gauges/counters (booleans as 0/1, others skipped)."""
    label = ""
    if labels:
        label = "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items())) + "}"
    lines = []
    for name, value in stats.items():
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int | float) or value is None:
            continue
        metric = f"povreg_{component}_{name}"
        kind = "counter" if name.endswith("_total") else "gauge"
        lines.append(f"# TYPE {metric} {kind}")
        lines.append(f"{metric}{label} {value}")
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class MetricsServer:
    def __init__(self, component: str, stats: Stats, port: int, host: str = "0.0.0.0",
                 labels: dict[str, str] | None = None) -> None:
        self.component = component
        self.stats = stats
        self.labels = labels or {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                data = outer.stats()
                if self.path.split("?")[0] == "/metrics":
                    body = prometheus(outer.component, data, outer.labels).encode()
                    self._send(200, "text/plain; version=0.0.4; charset=utf-8", body)
                elif self.path.split("?")[0] in ("/", "/health", "/healthz"):
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
