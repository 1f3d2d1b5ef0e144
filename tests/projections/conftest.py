"""Fixtures of the projection tests: a read model on the shared ``county`` registry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from povreg.application import Registry
from povreg.projections import SqlReadModel, open_read_model


@pytest.fixture
def model(county: Registry) -> Iterator[SqlReadModel]:
    """The read model of the county registry, caught up after every save (embedded mode)."""
    read_model = open_read_model(county, inline=True)
    yield read_model
    read_model.close()
