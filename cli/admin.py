"""``povreg token|division|policy …``: the registry's reference data."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer
from pydantic import ValidationError

from cli.common import console, err_console, open_registry, parse_date, print_json
from domain.policy import PolicyVersion, resolved_json
from domain.policy_data import LOCAL_POLICIES

token_app = typer.Typer(no_args_is_help=True)
division_app = typer.Typer(no_args_is_help=True)
policy_app = typer.Typer(no_args_is_help=True)


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="recorder, approver, investigator, subscriber or admin")],
    division: Annotated[str, typer.Option(help="division-code prefix the token is scoped to (empty: everywhere)")] = "",
    name: Annotated[str | None, typer.Option(help="a label recorded as the actor's name")] = None,
    expires_in_days: Annotated[int, typer.Option(min=1, max=365, help="days until it expires")] = 90,
) -> None:
    """Create an API token; prints its id, then the token alone on the last line (only its hash is stored)."""
    with open_registry() as registry:
        issued = registry.issue_token(role, division, name, expires_in_days)
    typer.echo(f"id: {issued.id}")
    typer.echo(f"role: {role}, scope: {division or 'everywhere'}, expires: {issued.expires_at.isoformat()}")
    typer.echo(issued.token)


@token_app.command("list")
def token_list() -> None:
    """Every token as JSON: id, name, role, scope, issue and expiry moments, state (never the secret)."""
    with open_registry() as registry:
        print_json(registry.list_tokens())


@token_app.command("revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="the token's id (see `povreg token list`)")]) -> None:
    """Revoke a token: from then on it gets 401 (rule token_revoked)."""
    with open_registry() as registry:
        registry.revoke_token(token_id)
    console.print(f"revoked {token_id}")


@division_app.command("put")
def division_put(
    code: str,
    name: Annotated[str, typer.Option()],
    rural_population: Annotated[int, typer.Option(min=0)],
    effective_date: Annotated[str, typer.Option(help="YYYY-MM-DD")] = "2014-01-01",
) -> None:
    """Register or update a division (6-digit county, 9-digit township, 12-digit village)."""
    with open_registry() as registry:
        day = parse_date(effective_date)
        assert day is not None
        _, created = registry.put_division(code, name, rural_population, day)
        console.print(f"{'registered' if created else 'updated'} {code} {name}")


@division_app.command("show")
def division_show(code: str) -> None:
    with open_registry() as registry:
        division = registry.division(code)
        print_json(
            {
                "code": code,
                "versions": [
                    {
                        "name": v.name,
                        "rural_population": v.rural_population,
                        "effective_date": v.effective_date,
                        "recorded_at": v.recorded_at,
                    }
                    for v in division.versions
                ],
            }
        )


@policy_app.command("record")
def policy_record(
    version: Annotated[str | None, typer.Argument(help="a policy version as JSON (see docs/policy.md)")] = None,
    example: Annotated[
        str | None, typer.Option(help=f"record one of the local policies: {', '.join(LOCAL_POLICIES)}")
    ] = None,
) -> None:
    """Record a policy version for a jurisdiction (a division-code prefix; empty = national)."""
    if (version is None) == (example is None):
        err_console.print("[red]give either a policy version as JSON or --example NAME[/red]")
        raise typer.Exit(2)
    if example is not None:
        if example not in LOCAL_POLICIES:
            err_console.print(f"[red]unknown example {example!r}[/red]; known: {', '.join(LOCAL_POLICIES)}")
            raise typer.Exit(2)
        policy = LOCAL_POLICIES[example]
    else:
        try:
            policy = PolicyVersion.model_validate(json.loads(version or ""))
        except (json.JSONDecodeError, ValidationError) as exc:
            err_console.print(f"[red]invalid policy version:[/red] {exc}")
            raise typer.Exit(2) from None
    with open_registry() as registry:
        recorded = registry.record_policy(policy)
        console.print(f"recorded policy for {policy.jurisdiction or 'the nation'} at {recorded.recorded_at}")


@policy_app.command("show")
def policy_show(
    division: str,
    on: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default today)")] = None,
) -> None:
    """The rules in force for a division on a date, and where each comes from."""
    with open_registry() as registry:
        day = parse_date(on) or registry.today()
        out = resolved_json(registry.policy_book(), division, day)
        print_json({"division": division, "on": day.isoformat(), **out})


__all__ = ["date", "division_app", "policy_app", "token_app"]
