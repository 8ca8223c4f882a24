"""Export: the best (or a chosen) trial retrained with its recorded seed and saved as a model that takes raw
inputs, its hyperparameters and a model card (tuner.views.export). Imports Keras only to retrain.

The trial's score is the metric at its best epoch, so the export trains `best_epoch + 1` epochs from the same seed.
By default it trains on the training and the validation rows (a refit, as scikit-learn's `refit` does): the model
shipped has seen every row but the test rows, which score it, and it trains for the trial's epochs scaled by the
rows it has over the trial's (`refit_epochs`). `refit: no` trains on the trial's own rows for its own epochs and
reproduces its validation score; `refit: all` adds the test rows, and no unseen score remains.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from tuner import record
from tuner.data import Dataset
from tuner.errors import TunerError
from tuner.record import Metric
from tuner.spec import StudySpec
from tuner.store import studies
from tuner.views.export import CARD_FILE, CLASSES_FILE, MODEL_FILE, PARAMS_FILE, PICK, model_card, pick_trial
from tuner.views.summary import units




@dataclass(frozen=True)
class Exported:
    trial: int
    metric: str
    recorded: float
    reproduced: float | None  # the retrained model's validation score; None after a refit (it trained on them)
    n_params: int
    files: tuple[Path, ...]
    test: float | None = None  # the retrained model's metric on the test rows
    refit: str = "yes"
    rows: int = 0  # the rows it was trained on


@dataclass(frozen=True)
class Retrained:
    """A trial's model trained again from its seed for its best epoch count, on the rows `refit` says."""

    model: Any
    data: Dataset  # the rows it trained on
    hp: Any
    seed: int
    epochs: int
    refit: str
    reproduced: float | None
    test: float | None


def refit_mode(spec: StudySpec, refit: str | bool | None = None) -> str:
    """"yes", "no" or "all": the one asked for, else the study file's `refit`."""
    chosen = spec.refit if refit is None else refit
    mode = {True: "yes", False: "no"}.get(chosen, chosen) if isinstance(chosen, bool) else str(chosen)
    if mode not in record.REFIT_ROWS:
        raise TunerError(f"refit: {chosen!r} is not one of yes, no, all; give yes (training + validation rows), "
                         f"no (the trial's own rows) or all (every row)")
    return mode


def refit_epochs(epochs: int, trained: int, rows: int) -> int:
    """The epochs a refit trains for: the trial's `epochs` on its `trained` rows, scaled to the `rows` it has now
    (the same count when they are the trial's own). Measured on the benchmark's stored searches
    (benchmarks/refit_epochs.py, docs/exporting.md): the scaled count scores higher on the rows no tool saw on
    noisy10 and mixture10, one or two test rows of 360 lower on digits in two runs of three."""
    return max(1, round(epochs * rows / trained))


def retrain(models: Any, data: Dataset, metric: Metric, trial: FrozenTrial, refit: str) -> Retrained:
    """Train `trial`'s model again with its recorded seed: on its own training rows for `best_epoch + 1` epochs
    (`refit` "no": the trial exactly, its validation score reproduced), or on training + validation rows ("yes") or
    every row ("all") for as many epochs scaled to the rows (`refit_epochs`). The test rows, where any remain,
    score it."""
    from tuner.backend import load_keras, start_trial
    from tuner.training.fit import fit, test_scores

    hp = models.from_trial(trial)
    seed = int(trial.user_attrs.get(record.SEED, 0))
    rows = data.for_refit(refit)
    epochs = refit_epochs(int(trial.user_attrs.get(record.BEST_EPOCH, 0)) + 1, len(data.x_train), len(rows.x_train))
    load_keras()
    start_trial(seed)
    model = models.build(hp)
    history = fit(model, rows, hp, epochs, [], seed=seed)
    tested = test_scores(model, rows, hp).get(record.test_key(metric.base))
    return Retrained(model, rows, hp, seed, epochs, refit, history[metric.name][-1] if refit == "no" else None,
                     tested)


def export_model(study: optuna.Study, out: Path, number: int | None = None,
                 refit: str | bool | None = None) -> Exported:
    """Retrain one trial with its seed (on the rows `refit` says, default the study file's) and write into `out`:
    model.keras (taking raw input rows, predicting in the target's units), classes.json (classification),
    hyperparams.json and MODEL_CARD.md."""
    from tuner.data import load_data
    from tuner.search.metric import resolve_metric
    from tuner.search.models import models_for
    from tuner.training.raw_inputs import raw_inputs, raw_rows

    definition = studies.definition(study)
    spec = definition.spec
    mode = refit_mode(spec, refit)
    trial = pick_trial(study, number)
    data = load_data(spec.data, spec.task, definition.base_dir)
    metric = resolve_metric(spec.training, data.task, spec.model is not None)
    models = models_for(spec, data, [definition.base_dir, Path.cwd()])
    out.mkdir(parents=True, exist_ok=True)
    done = retrain(models, data, metric, trial, mode)
    model = done.model
    raw_inputs(model, data).save(out / MODEL_FILE)
    files = [out / MODEL_FILE]
    if data.task == "classification":
        (out / CLASSES_FILE).write_text(json.dumps(list(data.classes)) + "\n")
        files.append(out / CLASSES_FILE)

    rows = models.architecture(done.hp, model)
    n_params = record.total_params(rows)
    recorded = trial.values[0]
    card = record.ModelCard(
        study=study.study_name, trial=trial.number, seed=done.seed, epochs=done.epochs, metric=metric.name,
        direction=metric.direction, recorded=recorded, reproduced=done.reproduced, refit=mode,
        trained_on=record.REFIT_ROWS[mode], trained_rows=len(done.data.x_train),
        test_metric=record.test_key(metric.base), test=done.test, units=units(data.task, metric.base, data.target),
        n_params=n_params, params=trial.params, hyperparams=done.hp.to_dict(), data=data.describe(),
        classes=list(data.classes), inputs=data.input_columns,
        raw_shape=list(data.raw_shape) if data.raw_shape else None, dtype=str(data.x_train.dtype),
        images=spec.data.images is not None, scaling=data.scaled, input_lines=data.input_lines(),
        example=_example(raw_rows(data.x_val[:1], data)),
        pick=_pick(model) if data.task == "classification" else None)
    (out / PARAMS_FILE).write_text(json.dumps(card.to_dict(), indent=2) + "\n")
    (out / CARD_FILE).write_text(model_card(card, rows, spec.description))
    files += [out / PARAMS_FILE, out / CARD_FILE]
    return Exported(trial.number, metric.name, recorded, done.reproduced, n_params, tuple(files), done.test, mode,
                    len(done.data.x_train))


def _pick(model: Any) -> str:
    """How the card's snippet turns the model's prediction `p` into a class index: the highest score, or for one
    output unit its probability above 0.5 (its logit above 0)."""
    if tuple(model.outputs[0].shape[1:]) != (1,):
        return PICK
    activation = getattr(getattr(model.layers[-1], "activation", None), "__name__", "linear")
    return f"int(p[0, 0] > {0.5 if activation == 'sigmoid' else 0})"


def _example(rows: Any) -> list[Any]:
    """One raw row as the card shows it: floats rounded to 6 decimals (undoing the scaling leaves float32 noise)."""
    import numpy as np

    return (np.round(rows, 6) + 0.0 if rows.dtype.kind == "f" else rows).reshape(-1).tolist()  # + 0.0: no -0
