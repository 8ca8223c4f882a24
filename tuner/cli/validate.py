"""`tuner validate`: check a study file and its data without running anything or touching a store."""

from __future__ import annotations

from typing import Annotated

import typer

from tuner.cli._common import console, user_errors


def register(app: typer.Typer) -> None:
    app.command()(validate)


@user_errors
def validate(study: Annotated[str, typer.Argument(help="Study name (studies/NAME.yaml) or path.")]) -> None:
    """Check a study file: its fields, its data and its metric. Writes nothing."""
    from tuner.run.session import check
    from tuner.spec.files import find_study_file

    path = find_study_file(study)
    spec, data, metric = check(path)
    d = data.describe()
    test = f" / {d['test'][0]} test" if d.get("test") else ""
    console.print(f"{path}: ok: {d['name']} ({d['task']}), {d['train'][0]} train / {d['validation'][0]} validation"
                  f"{test} rows, {d['features']} features; {spec.space.layers.bounds()[0]:g}-{spec.space.max_layers} "
                  f"layers; {metric.name} ({metric.direction}); sampler {spec.sampler.name}, pruner "
                  f"{spec.pruner.name}, budget {spec.budget.trials} trials", highlight=False)
