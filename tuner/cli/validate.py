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
    from tuner.run.session import prepare
    from tuner.spec.files import find_study_file

    path = find_study_file(study)
    spec, data, metric, models = prepare(path)
    d = data.describe()
    test = f" / {d['test'][0]} test" if d.get("test") else ""
    what = (f"{spec.space.layers.bounds()[0]:g}-{spec.space.max_layers} layers" if spec.model is None
            else f"model {spec.model.build or spec.model.keras or spec.model.function}")
    console.print(f"{path}: ok: {d['name']} ({d['task']}), {d['train'][0]} train / {d['validation'][0]} validation"
                  f"{test} rows, {d['features']} features; {what}; {metric.name} ({metric.direction}); sampler "
                  f"{spec.sampler.name}, pruner {spec.pruner.name}, budget {spec.budget.trials} trials"
                  + (f"; one-shot stage: {spec.one_shot.estimates} estimates, the best {spec.one_shot.top} retrained"
                     if spec.one_shot is not None else ""), highlight=False)
    for line in data.input_lines():
        console.print(f"  {line}", highlight=False)
    if spec.model is not None and spec.model.rewidens:
        found = models.found()
        for group in found.groups:
            tied = f" (tied: {', '.join(group.layers)})" if len(group.layers) > 1 else ""
            console.print(f"  width layer {group.name}: {group.width}{tied}", highlight=False)
        for layer, why in found.fixed.items():
            console.print(f"  left as it is: {layer} ({why})", highlight=False)
        for layer, what in found.unfollowed.items():
            console.print(f"  not followed: {layer} ({what})", highlight=False)
    if spec.model is not None:
        for name, dim, note in models.dimensions():
            console.print(f"  search {name}: {dim.describe()}" + (f" ({note})" if note else ""), highlight=False)
        for field in models.unread():
            given = " (space." + field + " is ignored)" if field in spec.space.model_fields_set else ""
            console.print(f"  not searched: {field}: {spec.model.build} never reads hp.{field}{given}", highlight=False)
