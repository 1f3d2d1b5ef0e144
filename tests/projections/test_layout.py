"""Tables written in another layout are rebuilt from the log when the projections open, never
read as this code's: the layout marker in ``proj_sealed`` says what they hold, the columns
what shape they have."""

from __future__ import annotations

from datetime import date

from projections import SqlReadModel, open_read_model
from projections.households import HouseholdProjection
from service.registry import Registry
from tests.projections.test_queries import H, worked_example
from tests.support import Clock


def answers(model: SqlReadModel) -> tuple[object, ...]:
    return (model.card(H, date(2016, 12, 31), None), model.card(H, date(2017, 9, 1), None),
            model.timeline(H, None), model.audit(H))


def markers(model: SqlReadModel) -> set[str]:
    with model.store.db.read() as tx:
        return {name for (name,) in tx.query("SELECT name FROM proj_sealed")}


def test_an_older_layout_under_the_same_columns_is_rebuilt(county: Registry, clock: Clock,
                                                           model: SqlReadModel) -> None:
    worked_example(county, clock)
    before = answers(model)
    assert f"households/{HouseholdProjection.layout}" in markers(model)
    with model.store.db.write() as tx:
        # As an older version left them: its marker, and cards this code cannot read.
        tx.execute("UPDATE proj_sealed SET name = 'households' WHERE name = ?",
                   (f"households/{HouseholdProjection.layout}",))
        tx.execute("UPDATE proj_cards SET card = '[]'")
    reopened = open_read_model(county, inline=False)
    try:
        assert reopened.store.tracked("households") == 0  # dropped, to be built again from the log
        assert reopened.card(H, date(2016, 12, 31), None) is None
        reopened.catch_up()
        assert answers(reopened) == before
        assert "households" not in markers(reopened)
        assert f"households/{HouseholdProjection.layout}" in markers(reopened)
        assert reopened.store.tracked("audit") == model.store.tracked("audit")  # the others are kept
    finally:
        reopened.close()


def test_tables_of_other_columns_are_rebuilt(county: Registry, clock: Clock, model: SqlReadModel) -> None:
    worked_example(county, clock)
    before = answers(model)
    with model.store.db.write() as tx:
        # The chain as it was written before its digests were bytes and it dropped the topic.
        tx.execute("DROP TABLE proj_chain")
        tx.execute("CREATE TABLE proj_chain (position BIGINT PRIMARY KEY, originator_id TEXT, "
                   "originator_version BIGINT, topic TEXT, raw_hash TEXT, event_hash TEXT, chain TEXT)")
    reopened = open_read_model(county, inline=False)
    try:
        assert reopened.store.tracked("audit") == 0
        reopened.catch_up()
        assert answers(reopened) == before
    finally:
        reopened.close()
