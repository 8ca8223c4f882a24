"""What every command shares: options, the console, and turning TunerError into a short message and exit 2."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from tuner.errors import TunerError

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])

StorageOption = Annotated[str | None, typer.Option(
    "--storage", envvar="TUNER_STORAGE", show_envvar=True,
    help="SQLAlchemy URL of the store [default: sqlite:///tuner.db]. Prefer TUNER_STORAGE for passwords.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
RefitOption = Annotated[str | None, typer.Option(
    "--refit", metavar="yes|no|all",
    help="Rows the shipped model trains on: yes, training + validation; no, the trial's own (reproduces its "
         "score); all, the test rows too (no unseen score remains) [default: the study file's refit, yes].")]


def user_errors(func: F) -> F:
    """Print a TunerError as one or two lines and exit with its code; anything else is our bug."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TunerError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


def quiet_libraries() -> None:
    """Keep TensorFlow's and Optuna's chatter out of the command's output."""
    from tuner.api import quiet

    quiet()
