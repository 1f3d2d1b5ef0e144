"""Test helpers shared by the suites: a settable clock, sample payloads, services."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from domain.commands import Command
from domain.history import Actor
from domain.idnumber import with_check_digit
from service.registry import Registry

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_HOST = os.environ.get("POVREG_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("POVREG_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("POVREG_TEST_PG_USER", "postgres")
PG_DB = os.environ.get("POVREG_TEST_PG_DB", "povreg_test")

#: The county's staff (620422): a village clerk who records, the county office that approves.
RECORDER = Actor("village-clerk", "recorder", "620422")
APPROVER = Actor("county-office", "approver", "620422")
GUARANTEED = {k: True for k in ("food", "clothing", "education", "medical", "housing", "water")}


class Clock:
    """A clock tests move by hand; the registry stamps recording moments from it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2014, 5, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime | str) -> None:
        self.now = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
        if self.now.tzinfo is None:
            self.now = self.now.replace(tzinfo=UTC)

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def service_unavailable(what: str, why: str) -> None:
    """Skip locally; fail in CI, where every service must be there (the project's rule)."""
    message = f"{what} is not available: {why}"
    if IN_CI:
        pytest.fail(message + " (CI=true: services are required)", pytrace=False)
    pytest.skip(message)


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema in the test database; yields a POVREG_DATABASE_URL for it."""
    try:
        import psycopg

        admin = psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True)
    except Exception as exc:
        service_unavailable("PostgreSQL", str(exc))
        raise
    with admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DB,)).fetchone()
        if not exists:
            with suppress(psycopg.errors.DuplicateDatabase):
                admin.execute(f'CREATE DATABASE "{PG_DB}"')
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_DB, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DB}?schema={schema}"
    try:
        yield url
    finally:
        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_DB, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        # The schema's cipher key, made on first use (bootstrap.keys), goes with it.
        from bootstrap.keys import key_file
        from bootstrap.settings import Settings

        with suppress(FileNotFoundError):
            key_file(Settings(database_url=url)).unlink()


def member(seq: int, relation: str = "head", **extra: Any) -> dict[str, Any]:
    """A member with a valid, distinct ID number."""
    born = date(1960, 1, 1) + timedelta(days=seq * 37 % 15000)
    id_number = with_check_digit(f"620422{born:%Y%m%d}{seq % 1000:03d}")
    return {"name": f"成员{seq}", "id_number": id_number, "relation": relation, **extra}


def proposal(village: str = "620422100201", effective_date: str = "2014-05-02", seq: int = 1,
             members: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "IdentificationProposed",
        "division_code": village,
        "effective_date": effective_date,
        "attribute": "general",
        "main_cause": "illness",
        "secondary_causes": ["lack_of_skills"],
        "income_per_capita": 2100,
        "income_year": 2013,
        "guarantees": GUARANTEED,
        "members": members or [member(seq), member(seq + 500, "spouse")],
        "reason": "农户申请，村民主评议通过",
        "evidence": ["notice-2014-017"],
        **extra,
    }


def record(registry: Registry, hid: str | None, payload: dict[str, Any], actor: Actor | None = None,
           **kw: Any) -> object:
    """``registry.record`` of one command (by the county's recorder unless ``actor``)."""
    return registry.record(Command(payload, actor or RECORDER, household_id=hid, **kw))


def registered(registry: Registry, clock: Clock, hid: str = "H-1", seq: int = 1,
               village: str = "620422100201") -> None:
    """A household proposed on 2014-05-02 and approved on 2014-05-20, each recorded the next day."""
    clock.set("2014-05-02T10:00:00+00:00")
    record(registry, hid, proposal(village=village, seq=seq))
    clock.set("2014-05-21T10:00:00+00:00")
    record(registry, hid, {"type": "IdentificationApproved", "effective_date": "2014-05-20"}, APPROVER)
