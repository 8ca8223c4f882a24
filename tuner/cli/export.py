"""`tuner export`: the best (or a chosen) trial retrained and saved, and/or the trial table as CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tuner.cli._common import RefitOption, StorageOption, console, err_console, quiet_libraries, user_errors
from tuner.errors import TunerError


def register(app: typer.Typer) -> None:
    app.command()(export)


@user_errors
def export(
    name: Annotated[str, typer.Argument(help="Study name in the store.")],
    out: Annotated[Path | None, typer.Option(help="Folder for model.keras, hyperparams.json, MODEL_CARD.md.")] = None,
    trial: Annotated[int | None, typer.Option(min=0, help="Trial number to export (default: the best).")] = None,
    trials: Annotated[Path | None, typer.Option(help="Write the trial table to this CSV file.")] = None,
    storage: StorageOption = None,
    refit: RefitOption = None,
) -> None:
    """Retrain the best trial with its recorded seed and save it (--out), or write the trial table (--trials).

    The model is trained on the training and validation rows (a refit) unless --refit no or the study file's
    `refit: no` asks for the trial exactly as it ran."""
    if out is None and trials is None:
        raise TunerError("export: nothing to write; give --out DIR for the model and/or --trials FILE.csv")
    quiet_libraries()
    from tuner.run.export import export_model
    from tuner.store import open_storage, studies
    from tuner.views.export import export_trials

    study = studies.load(open_storage(storage, heartbeat=False), name)
    if trials is not None:
        rows = export_trials(study, trials)
        console.print(f"{rows} trials written to {trials}", highlight=False)
    if out is not None:
        err_console.print(f"retraining trial {trial if trial is not None else '(best)'} of {name}...",
                          highlight=False)
        done = export_model(study, out, trial, refit)
        console.print(exported_line(done, study), highlight=False)
        for path in done.files:
            console.print(f"  {path}", highlight=False)


def exported_line(done, study) -> str:
    """What the export trained on and what scores it: the trial's figure, the retrained model's."""
    from tuner import record

    test_rows = study.user_attrs.get(record.DATA, {}).get("test", [0])[0]
    key = record.test_key(done.metric.removeprefix("val_"))
    test = f", {key} {done.test:.4f} on the {test_rows} test rows" if done.test is not None else ""
    if done.refit == "no":
        return (f"trial {done.trial}: {done.metric} {done.recorded:.4f} in the study, {done.reproduced:.4f} "
                f"retrained{test}; {done.n_params} parameters")
    unseen = "; no unseen rows remain" if done.refit == "all" else test
    return (f"trial {done.trial}: {done.metric} {done.recorded:.4f} in the study; retrained on the {done.rows} "
            f"{record.REFIT_ROWS[done.refit]} rows{unseen}; {done.n_params} parameters")
