"""Fixtures of the projection tests: a read model on the shared ``county`` registry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from projections import SqlReadModel, flows, open_read_model
from service.registry import Registry


@pytest.fixture(autouse=True)
def tiny_flow_checkpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpoints of the flow log every few entries, so that every test's answers go
    through them (and through the tail before the first one)."""
    monkeypatch.setattr(flows, "CHECKPOINT_EVERY", 4)
    monkeypatch.setattr(flows, "CHECKPOINT_KEEP", 1)
    monkeypatch.setattr(flows, "CELL_ENTRIES", 2)


@pytest.fixture
def model(county: Registry) -> Iterator[SqlReadModel]:
    """The read model of the county registry, caught up after every save (embedded mode)."""
    read_model = open_read_model(county, inline=True)
    yield read_model
    read_model.close()
