"""The ``povreg`` command line. Each area's commands live in a module of its own."""

from __future__ import annotations

import typer

from cli import admin, demo, households, projections, relay, serve, simulate
from cli.common import load_settings, plain_usage

app = typer.Typer(
    name="povreg",
    help="Event-sourced registry of poor households (建档立卡动态管理).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _validate_configuration() -> None:
    # Every POVREG_* variable is checked before any command runs: a bad one stops here, named.
    load_settings()


app.add_typer(households.app, name="household", help="Record, import and inspect households.")
app.command("import")(households.import_events)
app.add_typer(admin.token_app, name="token", help="API tokens.")
app.add_typer(admin.division_app, name="division", help="Divisions (villages, townships, counties).")
app.add_typer(admin.policy_app, name="policy", help="Policy versions by jurisdiction.")
app.command("serve")(serve.serve)
app.add_typer(demo.app, name="demo", help="A small demo county to try the API on.")
projections.register(app)  # read models and their queries
relay.register(app)  # Kafka: the relay and the subscribers
simulate.register(app)  # a synthetic county, for load and benches
plain_usage(app)  # after every command is registered
