"""Work lists and division decisions on the command line: ``progress`` (yearly targets beside
the rosters), ``revisits-due`` (回头看), ``without-helper`` (定责任人) and ``decide`` (出列/摘帽),
each from the read model caught up with the log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from rich.table import Table

from cli.common import console, parse_date, parse_moment, print_json
from cli.reading import AsJson, AsOf, KnownAt, read_model
from projections import lists


def progress_command(division: str, as_of: AsOf = None, known_at: KnownAt = None,
                     as_json: AsJson = False) -> None:
    """A division's yearly targets (policy data) beside what its rosters show."""
    with read_model() as model:
        day = parse_date(as_of) or model.registry.today()
        result = lists.progress_report(model, model.registry.policy_book(), division, day,
                                       parse_moment(known_at, model.registry), model.registry)
    if as_json:
        print_json(result)
        return
    table = Table("年度", "目标", "计划", "实际", "完成", title=f"{division} 年度目标进展(截至 {result['as_of']})")
    for year in result["years"]:
        for item in year["items"]:
            met = {True: "是", False: "否", None: "—"}[item["met"]]
            table.add_row(str(year["year"]), item["label"], str(item["wanted"]),
                          "—" if item["actual"] is None else str(item["actual"]), met)
    console.print(table)
    if result["source"]:
        console.print(f"目标依据: {result['source']['document']}")


def revisits_due_command(division: str, as_of: AsOf = None, known_at: KnownAt = None,
                         as_json: AsJson = False) -> None:
    """Exited households due for 回头看 by the date, most overdue first."""
    with read_model() as model:
        day = parse_date(as_of) or model.registry.today()
        result = lists.revisits_due(model, model.registry.policy_book(), division, day,
                                    parse_moment(known_at, model.registry))
    if as_json:
        print_json(result)
        return
    table = Table("户编号", "村", "脱贫日期", "上次回头看", "应回头看日期", "逾期天数",
                  title=f"{division} 应回头看的脱贫户(截至 {result['as_of']},共 {result['total']} 户)")
    for r in result["rows"]:
        table.add_row(r["household_id"], r["division_code"], r["exited_on"], r["last_revisited_on"] or "—",
                      r["due_on"], str(r["overdue_days"]))
    console.print(table)


def without_helper_command(division: str, as_of: AsOf = None, known_at: KnownAt = None,
                           as_json: AsJson = False) -> None:
    """Poor households without a responsible helper on the date (定责任人)."""
    with read_model() as model:
        day = parse_date(as_of) or model.registry.today()
        result = lists.without_helper(model, division, day, parse_moment(known_at, model.registry))
    if as_json:
        print_json(result)
        return
    table = Table("户编号", "状态", "村", "贫困户属性", "人口",
                  title=f"{division} 未落实帮扶责任人的贫困户(截至 {result['as_of']},共 {result['total']} 户)")
    for r in result["rows"]:
        table.add_row(r["household_id"], r["status_label"], r["division_code"], r["attribute_label"],
                      str(r["persons"]))
    console.print(table)


def decide_command(
    division: str,
    kind: Annotated[str, typer.Option("--type", help="VillageExited (贫困村出列) or CountyDelisted (贫困县摘帽)")],
    effective_date: Annotated[str, typer.Option("--date", help="YYYY-MM-DD")],
    reason: Annotated[str | None, typer.Option(help="the reason, e.g. 县政府批复")] = None,
) -> None:
    """Record a village's 出列 or a county's 摘帽, refused unless its incidence on that date
    (from the rosters as now known) is below the policy's criterion."""
    with read_model() as model:
        day = parse_date(effective_date)
        assert day is not None
        found = model.incidence(division, day, None)
        decision = model.registry.record_division_decision(
            division, kind, day, (int(found["poor_persons"]), found["population"]), reason=reason
        )
    console.print(f"已记录 {division} {kind} {decision.effective_date}: 贫困发生率 "
                  f"{decision.poor_persons}/{decision.population}")


#: The commands, by name, that :func:`cli.projections.register` adds.
COMMANDS: dict[str, Callable[..., None]] = {
    "progress": progress_command,
    "revisits-due": revisits_due_command,
    "without-helper": without_helper_command,
    "decide": decide_command,
}
