"""``povreg projections …`` (rebuild, catch-up, status, anchor) and ``povreg verify``; the
read-model queries are :mod:`cli.queries`, the work lists :mod:`cli.lists`, all registered
here (:func:`register`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli import lists, queries
from cli.common import console, err_console, print_json
from cli.reading import AsJson, read_model
from projections.households import ProjectionError
from projections.lanes import default_workers
from projections.runner import Progress as RunProgress
from projections.verify import anchor as chain_anchor
from projections.verify import read_anchors, verify

app = typer.Typer(no_args_is_help=True, help="Read models: rebuild, catch up, status, anchors.")


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


def register(root: typer.Typer) -> None:
    """Add these commands, the queries' and the lists' to the ``povreg`` application."""
    root.add_typer(app, name="projections", help="Read models: rebuild, catch up, status, anchors.")
    root.command("verify")(verify_command)
    for name, command in {**queries.COMMANDS, **lists.COMMANDS}.items():
        root.command(name)(command)
