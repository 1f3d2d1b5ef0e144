"""Fixtures: every store-backed test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bootstrap.settings import Settings
from service.registry import Registry
from tests.support import Clock, postgres_schema

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'povreg.db'}"
    else:
        with postgres_schema() as url:
            yield url


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture
def registry(settings: Settings, clock: Clock) -> Iterator[Registry]:
    reg = Registry(settings, clock=clock)
    yield reg
    reg.close()


@pytest.fixture
def county(registry: Registry, clock: Clock) -> Registry:
    """A registry with one county, two townships and three villages."""
    clock.set("2014-01-02T00:00:00+00:00")
    registry.put_division("620422", "会宁县", 480_000, date(2014, 1, 1))
    registry.put_division("620422100", "会师镇", 30_000, date(2014, 1, 1))
    registry.put_division("620422101", "郭城驿镇", 25_000, date(2014, 1, 1))
    registry.put_division("620422100201", "南关村", 1_200, date(2014, 1, 1))
    registry.put_division("620422100202", "北关村", 900, date(2014, 1, 1))
    registry.put_division("620422101203", "新堡村", 1_500, date(2014, 1, 1))
    return registry

