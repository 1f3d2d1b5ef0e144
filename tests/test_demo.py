"""``povreg demo load`` and what the README shows on it, through the real CLI: tokens on every
run, the cycle report that changed after it was filed, output and help as people read them."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from bootstrap.settings import Settings
from cli import app
from service.registry import Registry

ROLES = ("ADMIN", "INVESTIGATOR", "APPROVER", "RECORDER", "SUBSCRIBER")


def tokens_in(output: str) -> dict[str, str]:
    return dict(re.findall(r"^([A-Z]+)_TOKEN=(\S+)$", output, flags=re.M))


@pytest.fixture
def demo(database_url: str):
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, list(args), env={"POVREG_DATABASE_URL": database_url})

    first = run("demo", "load", "--if-empty")
    assert first.exit_code == 0, first.output
    return run, first


def test_every_run_prints_tokens_that_work(demo, database_url: str) -> None:
    run, first = demo
    again = run("demo", "load", "--if-empty")
    assert again.exit_code == 0, again.output
    assert "not loaded again" in again.output
    issued = [tokens_in(first.output), tokens_in(again.output)]
    assert [sorted(t) for t in issued] == [sorted(ROLES)] * 2
    assert issued[0]["ADMIN"] != issued[1]["ADMIN"]
    registry = Registry(Settings(database_url=database_url))
    try:
        for tokens in issued:
            assert {role: registry.authenticate(secret).role for role, secret in tokens.items()} == {
                role: role.lower() for role in ROLES}
    finally:
        registry.close()
    # Without --if-empty a loaded store is refused: the demo's moments lie in the past.
    refused = run("demo", "load")
    assert refused.exit_code == 1 and "not empty" in refused.output


def test_the_first_cycle_as_filed_and_as_now_known_differ(demo) -> None:
    run, _ = demo
    shown = run("adjustments", "620422", "--start", "2014-01-01", "--end", "2016-12-31", "--diff")
    assert shown.exit_code == 0, shown.output
    assert "2 household(s) differ" in shown.output
    assert "H-DEMO-0017: late_entry ExitConfirmed (2017-01-14)" in shown.output
    assert "H-DEMO-0001: correction EventCorrected (2017-03-02)" in shown.output

    report = json.loads(run("adjustments", "620422", "--start", "2014-01-01", "--end", "2016-12-31", "--diff",
                            "--json").output)
    difference = report["difference"]
    assert difference["outflows"]["exited"] == {"households": 1, "persons": 2}  # the exit recorded late
    assert difference["inflows"]["identified"] == {"households": 0, "persons": -1}  # the member counted twice
    assert difference["closing"] == {"households": -1, "persons": -3}


def test_piped_output_is_not_wrapped(demo) -> None:
    _, first = demo
    lines = first.output.splitlines()
    assert "as shell variables (more with: povreg token create --role ROLE [--division PREFIX]):" in lines
    assert any(line.startswith("loaded the demo county 会宁县 (620422): 9 divisions, 36 households, ")
               and line.endswith("(recorded as of 2014–2019)") for line in lines)


def test_help_has_no_markup() -> None:
    runner = CliRunner()

    def commands(cmd: Any, path: tuple[str, ...]) -> list[tuple[str, ...]]:
        if hasattr(cmd, "commands"):  # a group
            return [p for name, sub in cmd.commands.items() for p in commands(sub, (*path, name))]
        return [path]

    paths = commands(get_command(app), ())
    assert len(paths) > 20
    for path in [(), *paths]:
        shown = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert shown.exit_code == 0, (path, shown.output)
        assert "``" not in shown.output, path
        assert not re.search(r"\{[a-z_]+\}", shown.output), (path, shown.output)
    usage = runner.invoke(app, ["import", "--help"], env={"COLUMNS": "200"}).output
    assert "Usage: povreg import [OPTIONS] PATH" in usage
