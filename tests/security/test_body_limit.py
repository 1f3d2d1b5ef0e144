"""Bodies over POVREG_MAX_BODY_BYTES: 413 problem+json before the body is read, with or
without a token, whether the length is declared or the body comes in chunks."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from api import create_app
from bootstrap.settings import ConfigError, Settings
from tests.api.conftest import Api, assert_problem
from tests.servers import serving

LIMIT = 1 << 20


def test_a_declared_oversized_body_is_refused_with_or_without_a_token(api: Api) -> None:
    before = api.registry.recorder.max_notification_id()
    big = b"{" + b" " * LIMIT + b"}"
    for as_ in (None, "recorder"):
        response = api.post("/v1/households", as_=as_, content=big, headers={"Content-Type": "application/json"})
        body = assert_problem(response, 413, "payload_too_large")
        assert body["limit"] == LIMIT
    assert api.registry.recorder.max_notification_id() == before


def test_a_chunked_oversized_body_is_refused(api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b" " * 65536

    response = api.post("/v1/households", as_="recorder", content=chunks(),
                        headers={"Content-Type": "application/json"})
    assert_problem(response, 413, "payload_too_large")


def test_a_body_within_the_limit_goes_through(api: Api) -> None:
    response = api.post("/v1/households", as_=None, json={"type": "IdentificationProposed"})
    assert_problem(response, 401, "missing_token")


def test_the_limit_is_configurable_and_checked() -> None:
    assert Settings.from_env({"POVREG_MAX_BODY_BYTES": "2048"}).max_body_bytes == 2048
    assert Settings.from_env({}).max_body_bytes == LIMIT
    for bad in ("0", "-1", "1e6", "２０４８"):
        with pytest.raises(ConfigError):
            Settings.from_env({"POVREG_MAX_BODY_BYTES": bad})


def test_live_server_answers_before_reading_the_body(tmp_path: Path) -> None:
    """A client that declares 300 MB and sends nothing more gets its 413 at once."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'povreg.db'}")
    with serving(create_app(settings)) as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"POST /v1/households HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 300000000\r\n\r\n{")
            answer = ""
            while "}" not in answer:
                chunk = conn.recv(65536).decode()
                if not chunk:
                    break
                answer += chunk
        assert answer.startswith("HTTP/1.1 413"), answer
        assert "application/problem+json" in answer and "payload_too_large" in answer
