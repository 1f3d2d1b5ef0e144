"""The read-model queries on the command line: ``card``, ``why``, ``roster``, ``adjustments``,
``incidence``, ``findings`` and ``audit``. Each catches the read model up with the log, then
answers from the projections; output is JSON (``--mask`` hides personal information as the
API does for non-investigators), ``roster`` and ``adjustments`` also print tables."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.common import console, err_console, parse_date, parse_moment, print_json
from cli.reading import AsJson, AsOf, KnownAt, Mask, read_model, show
from domain.explain import explain
from domain.masking import mask
from domain.vocab import label_zh
from projections import sheets
from projections.sheets import FLOW_LABELS


def card_command(
    household_id: str, as_of: AsOf = None, known_at: KnownAt = None, masked: Mask = False,
    timeline: Annotated[bool, typer.Option(help="add the valid-time status timeline")] = False,
) -> None:
    """A household's card as of a date, as known at a moment (from the projection)."""
    with read_model() as model:
        moment = parse_moment(known_at, model.registry)
        card = model.card(household_id, parse_date(as_of) or model.registry.today(), moment)
        if card is None:
            err_console.print(f"[red]household {household_id} is not on the register then[/red]")
            raise typer.Exit(1)
        if timeline:
            card["timeline"] = model.timeline(household_id, moment)
    show(card, masked)


def why_command(household_id: str, as_of: AsOf = None, known_at: KnownAt = None, masked: Mask = False) -> None:
    """Why a household had its status on a date, as known at a moment: the decision, the policy
    checks that admitted it and their sources, the facts they read, corrections and findings."""
    with read_model() as model:
        registry = model.registry
        moment = parse_moment(known_at, registry)
        day = parse_date(as_of) or registry.today()
        found = explain(registry.history(household_id), day, moment, registry.policy_book())
        if found is None:
            err_console.print(f"[red]household {household_id} is not on the register then[/red]")
            raise typer.Exit(1)
        card = model.card(household_id, day, moment) or {}
        found["findings"] = [f for f in card.get("findings", []) if f.get("state", "open") == "open"]
    show(found, masked)


def roster_command(
    division: str,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    status: Annotated[str | None, typer.Option(help="only rows with this status")] = None,
    page: Annotated[int, typer.Option(min=1)] = 1,
    page_size: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    masked: Mask = False,
    as_json: AsJson = False,
    xlsx: Annotated[Path | None, typer.Option("--xlsx", help="write the counts and every matching household "
                                              "to this workbook (Chinese headers)")] = None,
) -> None:
    """Counts per status and a page of households of a division (2, 4, 6, 9 or 12 digits)."""
    with read_model() as model:
        day = parse_date(as_of) or model.registry.today()
        moment = parse_moment(known_at, model.registry)
        result = model.roster(division, day, moment, status, page, page_size)
        if xlsx is not None:
            every: list[Any] = []
            for number in range(1, result["rows_total"] // 1000 + 2):
                every += model.roster(division, day, moment, status, number, 1000)["rows"]
            if masked:
                result, every = mask(result), mask(every)
            xlsx.write_bytes(sheets.xlsx_bytes(sheets.roster_sheets(result, every), result,
                                               f"贫困户花名册 {division} {result.get('division_name') or ''}"))
            console.print(f"wrote {len(every)} household(s) to {xlsx}")
            return
    if as_json:
        show(result, masked)
        return
    counts = Table("状态", "户数", "人数", title=f"{division} {result['division_name'] or ''} "
                   f"截至 {result['as_of']}")
    for s, c in result["counts"].items():
        counts.add_row(label_zh("status", s) or s, str(c["households"]), str(c["persons"]))
    counts.add_row("合计", str(result["total"]["households"]), str(result["total"]["persons"]))
    console.print(counts)
    rows = Table("户编号", "状态", "村", "贫困户属性", "主要致贫原因", "人口", "户主",
                 title=f"第 {result['page']} 页,共 {result['pages']} 页")
    for r in (mask(result["rows"]) if masked else result["rows"]):
        rows.add_row(r["household_id"], label_zh("status", r["status"]) or "",
                     f"{r['division_code']} {r['division_name'] or ''}", label_zh("attribute", r["attribute"]) or "",
                     label_zh("cause", r["main_cause"]) or "", str(r["persons"]), r["head_name"] or "")
    console.print(rows)


def adjustments_command(
    division: str,
    start: Annotated[str, typer.Option(help="first day of the cycle YYYY-MM-DD")],
    end: Annotated[str, typer.Option(help="last day of the cycle YYYY-MM-DD")],
    known_at: KnownAt = None,
    diff: Annotated[bool, typer.Option(help="compare 'as filed' (--filed-at) with 'as known' (--known-at)")] = False,
    filed_at: Annotated[str | None, typer.Option(help="moment the report was filed (default: end of --end)")] = None,
    as_json: AsJson = False,
) -> None:
    """The three-year adjustment report of a division; with --diff, as filed against as now known, and why."""
    with read_model() as model:
        s, e = parse_date(start), parse_date(end)
        assert s is not None and e is not None
        moment = parse_moment(known_at, model.registry)
        if diff:
            result = model.adjustments_diff(division, s, e, parse_moment(filed_at, model.registry), moment)
        else:
            result = model.adjustments(division, s, e, moment)
    if as_json:
        print_json(result)
        return
    reports = [result["filed"], result["known"]] if diff else [result]
    columns = ["户数", "人数"]
    if diff:
        columns = [f"{c}（{when}）" for when in ("上报时", "现知", "差额") for c in ("户数", "人数")]
    table = Table("项目", *columns, title=f"{division} {start} … {end}")

    def cells(path: tuple[str, ...]) -> list[str]:
        values = [_at(r, path) for r in reports]
        if diff:
            values.append({k: values[1][k] - values[0][k] for k in ("households", "persons")})
        return [f"{v[k]:+d}" if diff and i == 2 else str(v[k])
                for i, v in enumerate(values) for k in ("households", "persons")]

    table.add_row("期初", *cells(("opening",)))
    for direction, sign in (("inflows", "+"), ("outflows", "−")):
        kinds = dict.fromkeys(k for r in reports for k in r[direction] if k != "total")
        for kind in kinds:
            if any(_at(r, (direction, kind))["households"] or _at(r, (direction, kind))["persons"] for r in reports):
                table.add_row(f"  {sign} {FLOW_LABELS.get(kind, kind)}", *cells((direction, kind)))
    table.add_row("期末", *cells(("closing",)))
    console.print(table)
    known = reports[-1]
    console.print("期初 + 新增 − 减少 = 期末: 平衡" if known["reconciles"]
                  else "[red]期初 + 新增 − 减少 ≠ 期末: 不平衡[/red]")
    if diff:
        console.print(f"{len(result['households'])} household(s) differ between as filed "
                      f"({result['filed_at']}) and as known:")
        for h in result["households"]:
            kinds_of = ", ".join(f"{e['kind']} {e['type']} ({e['recorded_at'][:10]})" for e in h["events"])
            console.print(f"  {h['household_id']}: {kinds_of or 'no event in between (earlier knowledge changed)'}")


def _at(report: dict[str, Any], path: tuple[str, ...]) -> dict[str, int]:
    """The households and persons of a line of the report (zero where the report has no such line)."""
    node: Any = report
    for key in path:
        node = node.get(key, {}) if isinstance(node, dict) else {}
    return {"households": int(node.get("households", 0)), "persons": int(node.get("persons", 0))}


def incidence_command(division: str, as_of: AsOf = None, known_at: KnownAt = None) -> None:
    """Poverty incidence of a division: poor persons ÷ rural population."""
    with read_model() as model:
        print_json(model.incidence(division, parse_date(as_of) or model.registry.today(),
                                   parse_moment(known_at, model.registry)))


def findings_command(
    division: str,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    state: Annotated[str, typer.Option(help="open, resolved or all")] = "all",
    page: Annotated[int, typer.Option(min=1)] = 1,
    page_size: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: AsJson = False,
) -> None:
    """Decisions that the facts show wrong (findings) in a division, as of a date, as known at a moment."""
    if state not in ("open", "resolved", "all"):
        err_console.print(f"[red]--state is open, resolved or all, not {state!r}[/red]")
        raise typer.Exit(2)
    with read_model() as model:
        result = model.findings(division, parse_date(as_of) or model.registry.today(),
                                parse_moment(known_at, model.registry), state, page, page_size)
    if as_json:
        print_json(result)
        return
    counts = result["counts"]
    table = Table(title=f"{division} findings as of {result['as_of']}: open {counts['open']}, "
                        f"resolved {counts['resolved']}")
    for column in ("household", "rule", "decision", "effective", "known since", "state"):
        table.add_column(column, no_wrap=True)
    for f in result["findings"]:
        table.add_row(f["household_id"], f["rule"], f["decision_type"], f["decision_effective_date"],
                      f["known_since"][:10], f["state"])
    console.print(table)


def audit_command(
    household: Annotated[str | None, typer.Option(help="a household's trail")] = None,
    division: Annotated[str | None, typer.Option(help="a division's trail (code prefix)")] = None,
    actor: Annotated[str | None, typer.Option(help="an actor's trail (token name)")] = None,
    after: Annotated[int, typer.Option(help="only events after this position")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 1000,
    masked: Mask = False,
) -> None:
    """The audit trail: every event with both times, actor, reason, evidence and what corrections changed."""
    with read_model() as model:
        if household and not (division or actor):
            result = model.audit(household)
            if result is None:
                err_console.print(f"[red]household {household} is not registered[/red]")
                raise typer.Exit(1)
        else:
            result = model.audit_trail(household_id=household, division_prefix=division, actor=actor,
                                       after=after, limit=limit)
    show(result, masked)


#: The commands, by name, that :func:`cli.projections.register` adds.
COMMANDS: dict[str, Callable[..., None]] = {
    "card": card_command,
    "why": why_command,
    "roster": roster_command,
    "adjustments": adjustments_command,
    "incidence": incidence_command,
    "audit": audit_command,
    "findings": findings_command,
}
