"""``povreg import`` is safe to rerun: a line without an idempotency_key gets one from its
content and line number, so a rerun after a crash records each line once."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bootstrap.settings import Settings
from cli import app
from cli.households import derived_key
from service.registry import Registry
from tests.support import proposal


def test_rerun_after_a_crash_records_each_line_once(database_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"POVREG_DATABASE_URL": database_url}
    for code, name in [("620422", "会宁县"), ("620422100", "会师镇"), ("620422100201", "南关村")]:
        assert runner.invoke(app, ["division", "put", code, "--name", name, "--rural-population", "1000"],
                             env=env).exit_code == 0
    measure = {"household_id": "H-1", "type": "AssistanceMeasureAssigned", "effective_date": "2014-06-01",
               "category": "industry", "amount": 5000}
    lines = [
        json.dumps({"household_id": "H-1", **proposal()}),
        json.dumps({"household_id": "H-1", "type": "IdentificationApproved", "effective_date": "2014-05-20"}),
        json.dumps(measure),
        json.dumps(measure),  # the same measure twice in the file: two events
        json.dumps(proposal(seq=9)),  # the server assigns its household id
        json.dumps({"household_id": "H-1", "type": "IncomeAssessed", "effective_date": "2015-12-01",
                    "year": 2015, "income_per_capita": 4100}),
    ]
    whole = tmp_path / "events.jsonl"
    whole.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # The crash: only the first batch (three lines) was committed.
    part = tmp_path / "part.jsonl"
    part.write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    first = runner.invoke(app, ["import", str(part)], env=env)
    assert first.exit_code == 0 and "imported 3 event(s)" in first.output, first.output

    rerun = runner.invoke(app, ["import", str(whole), "--batch", "2"], env=env)
    assert rerun.exit_code == 0, rerun.output
    assert "imported 3 event(s)" in rerun.output and "3 line(s) already recorded" in rerun.output
    again = runner.invoke(app, ["import", str(whole), "--actor", "someone-else"], env=env)
    assert again.exit_code == 0 and "imported 0 event(s)" in again.output, again.output

    registry = Registry(Settings(database_url=database_url))
    try:
        h1 = registry.history("H-1")
        assert [e.type for e in h1] == ["IdentificationProposed", "IdentificationApproved",
                                        "AssistanceMeasureAssigned", "AssistanceMeasureAssigned", "IncomeAssessed"]
        proposals = [e for _, e in registry.feed(0, 1000) if e.type == "IdentificationProposed"]
        assert len(proposals) == 2
    finally:
        registry.close()


def test_derived_keys_depend_on_content_and_line_not_on_spacing() -> None:
    a = {"type": "Revisited", "finding": "stable", "household_id": "H-1"}
    b = dict(reversed(list(a.items())))
    assert derived_key(a, 3) == derived_key(b, 3)
    assert derived_key(a, 3) != derived_key(a, 4)
    assert derived_key(a, 3) != derived_key({**a, "finding": "at_risk"}, 3)
