"""`tuner init NAME --csv FILE --target COLUMN`: write a study file for a CSV and say what it chose."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tuner.cli._common import console, user_errors


def register(app: typer.Typer) -> None:
    app.command()(init)


@user_errors
def init(
    name: Annotated[str, typer.Argument(help="Name of the new study (studies/NAME.yaml).")],
    csv: Annotated[Path, typer.Option("--csv", help="The CSV file (a header row, then data rows).")],
    target: Annotated[str, typer.Option(help="The column to predict.")],
    folder: Annotated[Path, typer.Option(help="Folder for the study file.")] = Path("studies"),
    force: Annotated[bool, typer.Option("--force", help="Replace a study file of that name.")] = False,
) -> None:
    """Write a study file for a CSV: numeric columns as features, the task from the target, a space sized to it."""
    from tuner.run.scaffold import scaffold, write

    made = scaffold(name, csv, target, folder)
    path = write(made, force)
    what = f"classification into {made.classes} classes" if made.classes else "regression"
    console.print(f"{path}: {made.rows} rows, {what} of {made.target!r} from {len(made.features)} numeric column(s)"
                  + (f"; left out (not numbers): {', '.join(made.dropped)}" if made.dropped else ""), highlight=False)
    console.print(f"space: 1-3 Dense layers of 8-{made.max_units} units (log scale, per layer), L2 in "
                  f"{{0, 1e-6 .. 1e-2}} shared, dropout 0-0.5 per layer; 30 epochs, TPE + Hyperband, 40 trials; "
                  f"20% of the rows kept for testing", highlight=False)
    console.print(f"next: tuner validate {path}, then tuner start {path}", highlight=False)
