"""``povreg household …`` and ``povreg import``: record, import and inspect households."""

from __future__ import annotations

import getpass
import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.common import console, err_console, open_registry, parse_date, parse_moment, print_json
from cli.simulate import is_stream, load_stream
from domain.commands import Command, Receipt
from domain.errors import DomainError
from domain.fold import Interval
from domain.history import Actor
from domain.state import HouseholdState
from domain.vocab import label_zh
from service.importing import iter_jsonl

app = typer.Typer(no_args_is_help=True)

ActorName = Annotated[
    str | None, typer.Option("--actor", help="who records (default cli:<login>); the CLI acts as an approver")
]


def cli_actor(name: str | None) -> Actor:
    return Actor(name or f"cli:{getpass.getuser()}", "approver", "")


#: Who owns the idempotency keys that ``import`` derives: no one actor, so that a rerun by
#: another login still finds them.
IMPORTER = "povreg-import"


def derived_key(obj: dict[str, Any], line: int) -> str:
    """The idempotency key of an import line that has none: its content (as JSON, keys
    sorted, whatever the file's spacing) and its line number, so that rerunning the same
    file — after a crash, or twice — records each line once, and two identical lines of
    one file are still two events."""
    content = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return f"import:{hashlib.sha256(content.encode()).hexdigest()}:{line}"


def _command(obj: dict[str, Any], actor: Actor, line: int | None = None) -> Command:
    payload = dict(obj)
    household_id = payload.pop("household_id", None)
    expected_version = payload.pop("expected_version", None)
    idempotency_key = payload.pop("idempotency_key", None)
    if idempotency_key is None and line is not None:
        idempotency_key = derived_key(obj, line)
        actor = replace(actor, token_id=IMPORTER)
    return Command(
        payload=payload,
        actor=actor,
        household_id=household_id,
        expected_version=expected_version,
        idempotency_key=idempotency_key,
    )


@app.command("record")
def record(
    event: Annotated[str, typer.Argument(help="the event as JSON, with household_id unless it is a proposal")],
    actor: ActorName = None,
) -> None:
    """Record one event; prints the receipt."""
    try:
        obj = json.loads(event)
    except json.JSONDecodeError as exc:
        err_console.print(f"[red]not JSON:[/red] {exc.msg}")
        raise typer.Exit(2) from None
    if not isinstance(obj, dict):
        err_console.print("[red]the event must be a JSON object[/red]")
        raise typer.Exit(2)
    with open_registry() as registry:
        print_json(registry.record(_command(obj, cli_actor(actor))).as_dict())


def import_events(
    path: Annotated[Path, typer.Argument(help="JSON Lines file, one event per line ('-' for stdin)")],
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="lines per transaction")] = 500,
    actor: ActorName = None,
) -> None:
    """Import household events from JSON Lines. A refused line records nothing; the rest go in.

    Each line is an event body plus household_id (optional for
    IdentificationProposed) and optionally expected_version and idempotency_key.
    A line without idempotency_key gets one from its content and line number, so the
    import is safe to rerun (after a crash, say): lines already recorded are recognised,
    not recorded again. Exit code 1 if any line was refused.

    A file written by povreg simulate --out (divisions, then events with their
    recording moments) is loaded as povreg simulate --from loads it: into an empty
    store, each event at its simulated recording moment.
    """
    if str(path) != "-" and not path.is_file():
        err_console.print(f"[red]no such file:[/red] {path}")
        raise typer.Exit(2)
    text = typer.get_text_stream("stdin").read() if str(path) == "-" else path.read_text(encoding="utf-8")
    lines = text.splitlines()
    if is_stream(next((line for line in lines if line.strip()), "")):
        load_stream(lines, str(path), batch=batch)
        return
    who = cli_actor(actor)
    refused: list[tuple[int, str, str]] = []
    accepted = 0
    replayed = 0
    with open_registry() as registry, Progress(
        TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(), console=err_console, transient=False,
    ) as progress:
        task = progress.add_task("import", total=len(lines), rate="")
        pending: list[tuple[int, Command]] = []

        def flush() -> None:
            nonlocal accepted, replayed
            if not pending:
                return
            results = registry.record_many([c for _, c in pending])
            for (number, _), result in zip(pending, results, strict=True):
                if isinstance(result, DomainError):
                    refused.append((number, result.rule, result.detail))
                elif result.replayed:
                    replayed += 1
                else:
                    accepted += 1
            progress.update(task, advance=len(pending))
            elapsed = progress.tasks[0].elapsed or 0
            if elapsed:
                progress.update(task, rate=f"{accepted / elapsed:,.0f} events/s")
            pending.clear()

        for number, obj, error in iter_jsonl(lines):
            if error is not None or obj is None:
                refused.append((number, "invalid_json", error or ""))
                progress.update(task, advance=1)
                continue
            pending.append((number, _command(obj, who, number)))
            if len(pending) >= batch:
                flush()
        flush()
    already = f"; {replayed} line(s) already recorded, skipped" if replayed else ""
    console.print(f"imported {accepted} event(s); refused {len(refused)} line(s){already}")
    if refused:
        table = Table("行号", "规则", "原因", title="未记录的行(均未入库)")
        for number, rule, detail in refused[:200]:
            table.add_row(str(number), rule, detail)
        err_console.print(table)
        if len(refused) > 200:
            err_console.print(f"… and {len(refused) - 200} more")
        raise typer.Exit(1)


def _state_json(state: HouseholdState) -> dict[str, Any]:
    return {
        "household_id": state.household_id,
        "status": state.status.value,
        "division_code": state.division_code,
        "attribute": state.attribute.value,
        "main_cause": state.main_cause.value,
        "members": [m.model_dump(mode="json") for m in state.members],
        "latest_income": {"year": state.income.year, "income_per_capita": state.income.per_capita},
        "measures": len(state.measures),
        "at_risk": state.at_risk,
    }


@app.command("show")
def show(
    household_id: str,
    as_of: Annotated[str | None, typer.Option(help="valid date YYYY-MM-DD (default today)")] = None,
    known_at: Annotated[str | None, typer.Option(help="moment (ISO 8601) or date; default now")] = None,
) -> None:
    """A household as of a date, as known at a moment (replayed from its events)."""
    with open_registry() as registry:
        state = registry.state_as_of(household_id, parse_date(as_of), parse_moment(known_at, registry))
        print_json(_state_json(state))


def _interval_json(i: Interval) -> dict[str, Any]:
    return {"status": i.status.value, "from": i.start.isoformat(), "to": i.end.isoformat() if i.end else None}


@app.command("timeline")
def timeline(
    household_id: str,
    known_at: Annotated[str | None, typer.Option(help="moment (ISO 8601) or date; default now")] = None,
) -> None:
    """A household's valid-time status intervals, as known at a moment."""
    with open_registry() as registry:
        intervals = registry.timeline(household_id, parse_moment(known_at, registry))
        table = Table("状态", "代码", "起", "止")
        for i in intervals:
            table.add_row(label_zh("status", i.status.value) or "", i.status.value, i.start.isoformat(),
                          i.end.isoformat() if i.end else "—")
        console.print(table)


@app.command("history")
def history(household_id: str) -> None:
    """Every recorded event of a household, in recording order (JSON Lines)."""
    with open_registry() as registry:
        for ev in registry.history(household_id):
            typer.echo(
                json.dumps(
                    {
                        "version": ev.version,
                        "event_id": ev.event_id,
                        "recorded_at": ev.recorded_at.isoformat(),
                        "recorded_by": ev.recorded_by.as_dict(),
                        **ev.body.model_dump(mode="json"),
                    },
                    ensure_ascii=False,
                )
            )


__all__ = ["Receipt", "app", "import_events"]
