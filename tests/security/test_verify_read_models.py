"""``povreg verify`` checks every read-model table against a re-fold of the log and names
the rows that differ: an exited household edited to read "poor" does not verify."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from projections import SqlReadModel, open_read_model
from projections.encoding import OPEN_US
from projections.verify import verify
from service.registry import Registry
from tests.projections.test_queries import H, worked_example
from tests.support import Clock


@pytest.fixture
def model(county: Registry) -> Iterator[SqlReadModel]:
    read_model = open_read_model(county, inline=True)
    yield read_model
    read_model.close()


def test_an_intact_read_model_verifies(county: Registry, clock: Clock, model: SqlReadModel) -> None:
    worked_example(county, clock)
    result = verify(model.store)
    assert result.ok, result.problems
    assert result.read_model_rows == 0


def test_an_exited_household_edited_to_poor_is_named(county: Registry, clock: Clock, model: SqlReadModel) -> None:
    worked_example(county, clock)
    assert model.card(H, date(2016, 12, 31), None)["status"] == "exited"  # type: ignore[index]
    with model.store.db.write() as tx:
        (exit_row,) = tx.query("SELECT valid_from, known_from FROM proj_cards WHERE household_id = ? "
                               "AND valid_from = '2016-11-15' AND known_to = ?", (H, OPEN_US))
        (poor_card,) = tx.one("SELECT card FROM proj_cards WHERE household_id = ? AND valid_from = '2014-05-20' "
                              "AND known_to = ?", (H, OPEN_US)) or ()
        # A sealed card cannot be read without the key, but it can be copied onto another row.
        tx.execute("UPDATE proj_cards SET card = ? WHERE household_id = ? AND valid_from = ? AND known_from = ?",
                   (poor_card, H, *exit_row))
        tx.execute("UPDATE proj_timeline SET status = 'poor' WHERE household_id = ? AND status = 'exited' "
                   "AND known_to = ?", (H, OPEN_US))
    assert model.card(H, date(2016, 12, 31), None)["status"] == "poor"  # type: ignore[index]
    result = verify(model.store)
    assert not result.ok
    named = [p.detail for p in result.problems if p.kind == "read_model_altered"]
    assert any(d.startswith("proj_cards row") and "2016-11-15" in d and H in d for d in named), named
    assert any(d.startswith("proj_timeline row") and H in d for d in named), named


def test_added_and_deleted_rows_are_named(county: Registry, clock: Clock, model: SqlReadModel) -> None:
    worked_example(county, clock)
    with model.store.db.write() as tx:
        tx.execute("DELETE FROM proj_events WHERE household_id = ? AND version = 2", (H,))
        tx.execute("INSERT INTO proj_divisions (code, position, name, rural_population, effective_date, "
                   "recorded_us) VALUES ('620422100299', 999, '幽灵村', 1, '2014-01-01', 0)")
    details = [p.detail for p in verify(model.store).problems if p.kind == "read_model_altered"]
    assert any(d.startswith("proj_events row") and "missing" in d for d in details), details
    assert any(d.startswith("proj_divisions row") and "620422100299" in d for d in details), details
