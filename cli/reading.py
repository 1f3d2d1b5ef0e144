"""What the read-model commands share: the read model of ``POVREG_DATABASE_URL``, caught
up with the log first, and their common options."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Annotated, Any

import typer

from cli.common import err_console, open_registry, print_json
from domain.masking import mask
from projections import SqlReadModel, open_read_model

AsOf = Annotated[str | None, typer.Option("--as-of", help="valid date YYYY-MM-DD (default today)")]
KnownAt = Annotated[str | None, typer.Option("--known-at", help="moment (ISO 8601) or date; default now")]
Mask = Annotated[bool, typer.Option("--mask", help="mask names, ID numbers and phones")]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON only")]


@contextmanager
def read_model(catch_up: bool = True) -> Iterator[SqlReadModel]:
    """The read model, caught up with the log unless ``catch_up`` is false; a query's bad
    input (ValueError) exits 2 with its message."""
    with open_registry() as registry, closing(open_read_model(registry, inline=False)) as model:
        try:
            if catch_up:
                model.catch_up()
            yield model
        except ValueError as exc:
            err_console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None


def show(data: Any, masked: bool) -> None:
    """Print ``data`` as JSON, masked as the API masks it for non-investigators with ``masked``."""
    print_json(mask(data) if masked else data)
