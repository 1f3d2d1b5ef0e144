"""What every CLI command shares: opening the registry and reporting errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import typer
from rich.console import Console

from bootstrap.settings import ConfigError, Settings
from domain.errors import DomainError
from domain.moments import parse_as_of, parse_known_at
from service.registry import Registry

console = Console()
err_console = Console(stderr=True)


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
