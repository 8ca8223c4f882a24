"""The `tuner` command: one module per command group, assembled here."""

from __future__ import annotations

import typer

from tuner.cli import dashboard, export, inspect, report, run, validate, worker

app = typer.Typer(help="Width tuning for Keras models: units, L2 and dropout searched with Optuna, stored in SQL.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
for module in (run, inspect, validate, worker, dashboard, report, export):
    module.register(app)


def main() -> None:
    app()
