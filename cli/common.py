"""What every CLI command shares: opening the registry and reporting errors."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import typer
from rich.console import Console
from typer.core import TyperCommand

from bootstrap.settings import ConfigError, Settings
from domain.errors import DomainError
from domain.moments import parse_as_of, parse_known_at
from service.registry import Registry

#: Piped or redirected output is never wrapped: rich would break lines (and words) at 80
#: columns, and a wrapped line no longer greps. Tables still size to their content.
UNWRAPPED_WIDTH = 10_000


def make_console(*, stderr: bool = False) -> Console:
    """Rich output for a person at a terminal; on a pipe or file, one line per line."""
    console = Console(stderr=stderr)
    if console.is_terminal:
        return console
    return Console(stderr=stderr, soft_wrap=True, width=UNWRAPPED_WIDTH)


console = make_console()
err_console = make_console(stderr=True)


class PlainUsage(TyperCommand):
    """A command whose help reads as text: the usage line names its arguments as people write
    them, ``povreg import [OPTIONS] PATH`` (typer writes a required argument as ``{path}``), and
    the literal markers of docstrings (double backticks) are dropped."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = self.help.replace("``", "") if self.help else self.help
        self.short_help = self.short_help.replace("``", "") if self.short_help else self.short_help

    def collect_usage_pieces(self, ctx: Any) -> list[str]:  # typer's own click Context
        return [_plain_piece(piece) for piece in super().collect_usage_pieces(ctx)]


def _plain_piece(piece: str) -> str:
    required = re.fullmatch(r"\{(\w+)\}(\.\.\.)?", piece)
    if required:
        return required[1].upper() + (required[2] or "")
    optional = re.fullmatch(r"\[(\w+)\](\.\.\.)?", piece)
    if optional and piece != "[OPTIONS]":
        return f"[{optional[1].upper()}]" + (optional[2] or "")
    return piece


def plain_usage(app: typer.Typer) -> None:
    """Every command of ``app`` and of its sub-apps with :class:`PlainUsage` (unless it chose another class)."""
    for info in app.registered_commands:
        if info.cls in (None, TyperCommand):
            info.cls = PlainUsage
    for group in app.registered_groups:
        if group.typer_instance is not None:
            plain_usage(group.typer_instance)


def load_settings(**overrides: Any) -> Settings:
    """The environment's settings (with ``overrides``), every value validated: a bad one stops the command
    with exit code 2 and a message naming its variable."""
    try:
        settings = Settings.from_env()
        return Settings(**{**settings.model_dump(), **overrides}) if overrides else settings
    except ConfigError as exc:
        err_console.print(f"[red]configuration error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None


@contextmanager
def open_registry() -> Iterator[Registry]:
    """The registry of ``POVREG_DATABASE_URL``; domain errors exit non-zero with their rule."""
    try:
        registry = Registry(load_settings())
    except ConfigError as exc:
        err_console.print(f"[red]configuration error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    try:
        yield registry
    except DomainError as exc:
        err_console.print(f"[red]refused ({exc.rule}):[/red] {exc.detail}")
        raise typer.Exit(1) from None
    finally:
        registry.close()


def parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return parse_as_of(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def parse_moment(value: str | None, registry: Registry) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_known_at(value, registry.settings.tz)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def print_json(data: Any) -> None:
    console.print_json(json.dumps(data, ensure_ascii=False, default=str))
