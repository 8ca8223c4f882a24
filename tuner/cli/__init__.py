"""The `tuner` command: one module per command group, assembled here."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from tuner.cli import dashboard, export, init, inspect, report, run, validate, worker

app = typer.Typer(help="Width tuning for Keras models: units, L2 and dropout searched with Optuna, stored in SQL.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
for module in (run, inspect, validate, init, worker, dashboard, report, export):
    module.register(app)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"tuner {version('tuner')}")
        raise typer.Exit()


@app.callback()
def _options(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                    help="Print tuner's version and exit.")] = False) -> None:
    """Width tuning for Keras models: units, L2 and dropout searched with Optuna, stored in SQL."""


def main() -> None:
    try:
        app()
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    if "tensorflow" in sys.modules:
        _exit_now(code)
    raise SystemExit(code)


def _exit_now(code: object) -> None:
    """Exit without the interpreter's teardown, which takes TensorFlow over a second and has nothing to save:
    exit handlers still run and output is flushed first."""
    import atexit

    if isinstance(code, str):
        print(code, file=sys.stderr)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)
