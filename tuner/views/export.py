"""Export: the best (or a chosen) trial retrained with its recorded seed and saved as a model, its
hyperparameters and a model card; or the trial table as CSV. Reads the store; imports Keras only to retrain.

The trial's score is the metric at its best epoch, so the export trains `best_epoch + 1` epochs from the same seed
and saves the model as it is after that epoch; the score it reaches is written beside the recorded one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from tuner import record
from tuner.errors import TunerError
from tuner.store import outline, studies

MODEL_FILE = "model.keras"
PARAMS_FILE = "hyperparams.json"
CARD_FILE = "MODEL_CARD.md"


@dataclass(frozen=True)
class Exported:
    trial: int
    metric: str
    recorded: float
    reproduced: float
    n_params: int
    files: tuple[Path, ...]


def pick_trial(study: optuna.Study, number: int | None) -> FrozenTrial:
    """The chosen trial, or the best one; it must have completed."""
    from tuner.views.summary import best_trial_whole

    if number is None:
        trial = best_trial_whole(study)
        if trial is None:
            raise TunerError(f"study {study.study_name!r} has no complete trial to export; run more trials first")
        return trial
    trials = outline.trials(study)
    if not 0 <= number < len(trials):
        raise TunerError(f"study {study.study_name!r} has no trial {number} (trials 0..{len(trials) - 1}); "
                         f"pick one from `tuner status {study.study_name}`")
    trial = outline.whole(study, [trials[number]])[0]
    if trial.state != TrialState.COMPLETE:
        reason = trial.user_attrs.get(record.FAIL_REASON)
        raise TunerError(f"trial {number} of {study.study_name!r} is {trial.state.name.lower()}"
                         f"{f' ({reason})' if reason else ''}; export a complete trial (omit --trial for the best)")
    return trial


def export_model(study: optuna.Study, out: Path, number: int | None = None) -> Exported:
    """Retrain one trial with its seed and write model.keras, hyperparams.json and MODEL_CARD.md into `out`."""
    from tuner.data import load_data
    from tuner.search import space
    from tuner.search.metric import resolve_metric
    from tuner.training.backend import load_keras, start_trial
    from tuner.training.fit import fit
    from tuner.training.model import architecture, build_model

    definition = studies.definition(study)
    spec = definition.spec
    trial = pick_trial(study, number)
    data = load_data(spec.data, spec.task, definition.base_dir)
    metric = resolve_metric(spec.training, data.task)
    hp = space.from_params(trial.params, spec.space, spec.training)
    seed, epochs = int(trial.user_attrs.get(record.SEED, 0)), int(trial.user_attrs.get(record.BEST_EPOCH, 0)) + 1
    out.mkdir(parents=True, exist_ok=True)

    load_keras()
    start_trial(seed)
    model = build_model(hp, data.n_features, data.n_outputs, data.task, spec.training.optimizer, data.shape)
    history = fit(model, data, hp, epochs, [], seed=seed)
    reproduced = history[metric.name][-1]
    model.save(out / MODEL_FILE)

    rows = architecture(hp, data.n_features, data.n_outputs, data.shape)
    n_params = record.total_params(rows)
    recorded = trial.values[0]
    card = {"study": study.study_name, "trial": trial.number, "seed": seed, "epochs": epochs,
            "metric": metric.name, "direction": metric.direction, "recorded": recorded,
            "reproduced": reproduced, "n_params": n_params, "params": trial.params,
            "hyperparams": hp.to_dict(), "data": data.describe(), "classes": list(data.classes)}
    (out / PARAMS_FILE).write_text(json.dumps(card, indent=2) + "\n")
    (out / CARD_FILE).write_text(model_card(card, rows, spec.description))
    return Exported(trial.number, metric.name, recorded, reproduced, n_params,
                    (out / MODEL_FILE, out / PARAMS_FILE, out / CARD_FILE))


def model_card(card: dict[str, Any], rows: list[dict[str, Any]], description: str) -> str:
    d = card["data"]
    lines = [f"# {card['study']}, trial {card['trial']}", "", description or "", "",
             "## Data", "",
             f"- set: {d['name']} ({d['task']}), {d['train'][0]} training / {d['validation'][0]} validation rows, "
             f"{d['features']} features" + (f" shaped {d['shape']}" if d.get("shape") else ""),
             f"- classes: {len(card['classes'])}" if card["classes"] else "- target: one number",
             "", "## Metric", "",
             f"- {card['metric']} ({card['direction']}): {card['recorded']:.4f} in the study, "
             f"{card['reproduced']:.4f} retrained here (seed {card['seed']}, {card['epochs']} epochs)",
             "", "## Architecture", "",
             f"{card['hyperparams']['family']} layers, activation {card['hyperparams']['activation']}, "
             f"learning rate {card['hyperparams']['learning_rate']:g}, batch size "
             f"{card['hyperparams']['batch_size']}; **{card['n_params']} parameters**", "",
             "| layer | units | parameters | dropout | L2 |", "|---|---|---|---|---|"]
    lines += [f"| {r['layer']} | {r['units']} | {r['params']} | {r['dropout']:g} | {r['l2']:g} |" for r in rows]
    lines += ["", f"Load it with `keras.models.load_model(\"{MODEL_FILE}\")`; inputs are the scaled feature rows "
              f"the study trained on (see `{PARAMS_FILE}`).", ""]
    return "\n".join(lines)


def export_trials(study: optuna.Study, path: Path) -> int:
    """The trial table (number, state, values, params, recorded attributes) as CSV; returns the row count."""
    frame = study.trials_dataframe(attrs=("number", "state", "value", "datetime_start", "duration", "params",
                                          "user_attrs"), multi_index=False)
    frame = frame.drop(columns=[f"user_attrs_{a}" for a in record.LIST_ATTRS if f"user_attrs_{a}" in frame.columns])
    metric = study.user_attrs.get(record.METRIC, "metric")
    objectives = [metric if name == "metric" else name for name in studies.definition(study).spec.objectives]
    names = {"value": f"value_{metric}", **{f"values_{i}": f"value_{name}" for i, name in enumerate(objectives)}}
    frame.columns = [names.get(c, c).removeprefix("user_attrs_") for c in frame.columns]
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return len(frame)
