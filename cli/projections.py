"""``povreg projections …``, ``povreg verify`` and the read-model queries
(``card``, ``roster``, ``adjustments``, ``incidence``, ``audit``, ``findings``).

Queries first catch the read model up with the log, then answer from the
projections. Output is JSON (``--mask`` hides personal information as the API
does for non-investigators); ``roster`` and ``adjustments`` also print tables.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.common import console, err_console, open_registry, parse_date, parse_moment, print_json
from domain.explain import explain
from domain.masking import mask
from domain.vocab import label_zh
from projections import SqlReadModel, lists, open_read_model, sheets
from projections.households import ProjectionError
from projections.runner import Progress as RunProgress
from projections.runner import default_workers
from projections.sheets import FLOW_LABELS
from projections.verify import anchor as chain_anchor
from projections.verify import read_anchors, verify

app = typer.Typer(no_args_is_help=True, help="Read models: rebuild, catch up, status, anchors.")

AsOf = Annotated[str | None, typer.Option("--as-of", help="valid date YYYY-MM-DD (default today)")]
KnownAt = Annotated[str | None, typer.Option("--known-at", help="moment (ISO 8601) or date; default now")]
Mask = Annotated[bool, typer.Option("--mask", help="mask names, ID numbers and phones")]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON only")]


@contextmanager
def read_model(catch_up: bool = True) -> Iterator[SqlReadModel]:
    with open_registry() as registry:
        model = open_read_model(registry, inline=False)
        try:
            if catch_up:
                model.catch_up()
            yield model
        except ValueError as exc:
            err_console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
        finally:
            model.close()


def _out(data: Any, masked: bool) -> None:
    print_json(mask(data) if masked else data)


def _progress_bar(label: str) -> tuple[Progress, Any]:
    bar = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=err_console,
    )
    task = bar.add_task(label, total=None, rate="")

    def update(p: RunProgress) -> None:
        bar.update(task, total=max(p.head, p.position), completed=p.position, rate=f"{p.rate:,.0f} events/s")

    return bar, update


# ------------------------------------------------------------------ projections


@app.command("rebuild")
def rebuild(
    names: Annotated[list[str] | None, typer.Argument(help="households, reference, audit (default: all)")] = None,
    resume: Annotated[bool, typer.Option(help="continue an interrupted rebuild")] = False,
    force: Annotated[bool, typer.Option(help="swap in an audit chain even if the store's past changed")] = False,
    workers: Annotated[int | None, typer.Option(
        help="processes replaying the log: audit and reference in one, households split over the others "
             "(resume with the same number; default: one more than the CPU cores on PostgreSQL, 1 on SQLite)",
        min=1, show_default=False)] = None,
) -> None:
    """Replay the whole log into fresh tables and swap them in atomically."""
    with read_model(catch_up=False) as model:
        processes = workers or default_workers(model.store.db.dialect)
        bar, update = _progress_bar("rebuilding")
        started = datetime.now(UTC)
        with bar:
            try:
                count = model.store.rebuild(names or None, progress=update, resume=resume, force=force,
                                            workers=processes)
            except ProjectionError as exc:
                err_console.print(f"[red]{exc}[/red]")
                raise typer.Exit(1) from None
        seconds = (datetime.now(UTC) - started).total_seconds()
        rate = count / seconds if seconds else 0
        console.print(f"rebuilt {', '.join(names or model.store.projections)}: {count:,} events in "
                      f"{seconds:.1f} s ({rate:,.0f} events/s, {processes} process{'es' if processes > 1 else ''})")


@app.command("catch-up")
def catch_up() -> None:
    """Apply every notification not yet projected (the embedded mode does this after each write)."""
    with read_model(catch_up=False) as model:
        bar, update = _progress_bar("catching up")
        with bar:
            count = model.store.catch_up(progress=update)
        console.print(f"applied {count:,} notification(s)")


@app.command("status")
def status(as_json: AsJson = False) -> None:
    """Each projection's position, the log's head, the lag and row counts."""
    with read_model(catch_up=False) as model:
        rows = model.store.status()
    if as_json:
        print_json(rows)
        return
    table = Table("projection", "position", "head", "lag", "rows")
    for r in rows:
        table.add_row(
            r["name"], f"{r['position']:,}", f"{r['head']:,}", "" if r["lag"] is None else f"{r['lag']:,}",
            ", ".join(f"{k} {v:,}" for k, v in r["rows"].items()),
        )
    console.print(table)


@app.command("anchor")
def anchor(
    file: Annotated[Path | None, typer.Option(help="append the anchor to this JSON Lines file")] = None,
) -> None:
    """Print the integrity chain's head (position, hash) to write down outside the database."""
    with read_model() as model:
        head = chain_anchor(model.store)
    if head is None:
        err_console.print("the log is empty: nothing to anchor")
        raise typer.Exit(1)
    head["anchored_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    line = json.dumps(head)
    if file is not None:
        with file.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
    typer.echo(line)


# ----------------------------------------------------------------------- verify


def verify_command(
    anchors: Annotated[Path | None, typer.Option(
        help="JSON Lines of anchors from `povreg projections anchor`, kept outside the database: the check "
             "against a log rewritten together with its chain and read models")] = None,
    as_json: AsJson = False,
) -> None:
    """Check the stored events, the audit chain and every read-model table (re-folded from the log)
    for alterations; each row that differs is named (exit 1 if any). With --anchors it also catches a
    consistent rewrite of the whole store."""
    expected = read_anchors(anchors.read_text(encoding="utf-8").splitlines()) if anchors else []
    with read_model(catch_up=False) as model:
        bar = Progress(TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       console=err_console, transient=True)
        with bar:
            task = bar.add_task("verify", total=None)
            result = verify(model.store, expected, progress=lambda done, total: bar.update(task, completed=done,
                                                                                         total=total))
    if as_json:
        print_json(result.as_dict())
    else:
        for p in result.problems:
            err_console.print(f"[red]{p.kind}[/red] {p.detail}")
        verdict = "[green]intact[/green]" if result.ok else f"[red]{len(result.problems)} problem(s)[/red]"
        console.print(
            f"{verdict}: checked {result.checked:,} stored event(s) up to position {result.chain_head:,}"
            + (f"; {result.not_yet_chained:,} newer event(s) not yet chained" if result.not_yet_chained else "")
            + (f"; {result.anchors_checked} anchor(s) matched" if result.anchors_checked and result.ok else "")
        )
    if not result.ok:
        raise typer.Exit(1)


# ---------------------------------------------------------------------- queries


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
    _out(card, masked)


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
    _out(found, masked)


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
        _out(result, masked)
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
    _out(result, masked)


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


def register(root: typer.Typer) -> None:
    """Add these commands to the ``povreg`` application."""
    root.add_typer(app, name="projections", help="Read models: rebuild, catch up, status, anchors.")
    root.command("verify")(verify_command)
    root.command("card")(card_command)
    root.command("why")(why_command)
    root.command("roster")(roster_command)
    root.command("adjustments")(adjustments_command)
    root.command("incidence")(incidence_command)
    root.command("progress")(progress_command)
    root.command("revisits-due")(revisits_due_command)
    root.command("without-helper")(without_helper_command)
    root.command("decide")(decide_command)
    root.command("audit")(audit_command)
    root.command("findings")(findings_command)
