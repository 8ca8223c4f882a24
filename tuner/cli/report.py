"""`tuner report STUDY --out DIR`: a static HTML report with PNG figures and the top trials. No TensorFlow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tuner.cli._common import StorageOption, console, quiet_libraries, user_errors


def register(app: typer.Typer) -> None:
    app.command()(report)


@user_errors
def report(
    name: Annotated[str, typer.Argument(help="Study name in the store.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write index.html and the PNG figures into.")] = Path(
        "report"),
    storage: StorageOption = None,
) -> None:
    """Write a self-contained report of a study: best so far, metric against units, overfitting gap, importances."""
    quiet_libraries()
    from tuner.store import studies
    from tuner.errors import TunerError
    from tuner.views.report import write_report
    from tuner.store import open_storage

    study = studies.load(open_storage(storage, heartbeat=False), name)
    if out.exists() and not out.is_dir():
        raise TunerError(f"--out {out}: is a file, not a folder; give a folder name (it is created if missing)")
    page = write_report(study, out)
    console.print(f"report of {name} ({len(study.trials)} trials) written to {page}; open it in a browser",
                  highlight=False)
