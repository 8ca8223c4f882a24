"""The tuner side: a zoo entry as a study with every dimension fixed (random sampler, no pruner, 5 trials, so the
trials differ only in their seeds: the study's seed plus the trial number), run through `tuner.start` into a
SQLite file, and the training path its model takes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.zoo import FOLDER, ZooModel
from tests.zoo.plain import Runs

TRIALS = 5


def definition(entry: ZooModel, model: dict[str, Any] | None = None, l2: float | None = None,
               dropout: float | None = None) -> dict[str, Any]:
    """The study: the entry's build function (or `model`, an existing model to re-widen, its widths as they are),
    its loader, and its one configuration."""
    l2 = entry.l2 if l2 is None else l2
    dropout = entry.dropout if dropout is None else dropout
    space: dict[str, Any] = {"l2": l2, "dropout": dropout}
    if model is not None:
        space["width_multiplier"] = 1.0
    elif entry.build is None:
        space.update(layers=entry.layers, units=entry.units)
    else:
        space["units"] = dict(entry.units)
    study: dict[str, Any] = {
        "description": f"zoo: {entry.name}",
        "data": {"loader": f"data.py:{entry.loader}", **entry.data},
        "space": space,
        "training": {"epochs": entry.epochs, "batch_size": entry.batch_size, "learning_rate": entry.learning_rate,
                     "metric": entry.metric},
        "sampler": {"name": "random", "seed": 0},
        "pruner": "none",
        "budget": {"trials": TRIALS},
    }
    if entry.task == "regression":
        study["task"] = "regression"
    if model is not None:
        study["model"] = {**model, "widths": "multiplier"}
    elif entry.build is not None:
        study["model"] = {"build": f"models.py:{entry.build}"}
    return study


def run(name: str, study: dict[str, Any], folder: Path) -> tuple[Runs, Any]:
    """The study's trials (seeds, values, per-epoch validation metric) and the session that ran them."""
    import tuner

    result = tuner.start(study, name=name, storage=f"sqlite:///{folder / 'zoo.db'}", artifacts=folder / "artifacts",
                         base_dir=FOLDER)
    trials = sorted(result.study.trials, key=lambda t: t.number)
    failed = [f"trial {t.number}: {t.state.name} {t.user_attrs.get('fail_reason', '')}" for t in trials
              if t.state.name != "COMPLETE"]
    assert not failed, f"{name}: {'; '.join(failed)}"
    curves = tuple(tuple(t.intermediate_values[e] for e in sorted(t.intermediate_values)) for t in trials)
    runs = Runs(tuple(t.user_attrs["seed"] for t in trials), tuple(t.value for t in trials), curves)
    return runs, result.session


def path_taken(session: Any) -> str:
    """The training path tuner's fit chooses for the study's model: `shared` or `fit`."""
    from tuner.training import sharedfit

    models = session.objective.models
    model = models.build(models.from_params(session.study.trials[-1].params))
    return "shared" if sharedfit.plan(model, session.data.task) is not None else "fit"
