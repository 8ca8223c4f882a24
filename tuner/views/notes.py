"""Notes: the study and each trial described in markdown, stored where optuna-dashboard shows them."""

from __future__ import annotations

from typing import Any

import optuna

from tuner.record import Hyperparams, LayerRow, Metric, total_params
from tuner.spec import Dim, StudySpec
from tuner.store import internals, of
from tuner.views.format import fmt
from tuner.views.summary import units


def study_note(spec: StudySpec, data: dict[str, Any], metric: Metric, name: str,
               dimensions: list[tuple[str, Dim, str]]) -> str:
    """Data set and shapes, task, search space (`dimensions`: name, dimension, per layer), training, sampler,
    pruner and budget."""
    classes = f", {data['classes']} classes" if data.get("classes") else ""
    lines = [f"## {name}", ""]
    if spec.description:
        lines += [spec.description, ""]
    lines += [
        f"**Data** `{data.get('name')}` ({data.get('task')}{classes}): train {_shape(data.get('train'))}, "
        f"validation {_shape(data.get('validation'))}, "
        + (f"test {_shape(data['test'])} (never trained, pruned or chosen on), " if data.get("test") else "")
        + f"{data.get('features')} features.",
        "",
        f"**Objective** {metric.direction} `{metric.name}` (best epoch of each trial)"
        + (f", in {unit}." if (unit := units(data.get("task"), metric.name, data.get("target"))) else "."),
        "",
        "### Search space",
        "",
        "| dimension | values | per layer |",
        "|---|---|---|",
    ]
    for name, dim, per_layer in dimensions:
        lines.append(f"| {name} | {dim.describe()} | {per_layer} |")
    t, budget = spec.training, spec.budget
    lines += [
        "",
        "### Training and strategy",
        "",
        f"- training: {t.epochs} epochs, batch size {t.batch_size}, {t.optimizer} at learning rate {t.learning_rate:g}"
        + (f", early stopping after {t.patience} epochs without progress" if t.patience else ""),
        f"- sampler: {_named(spec.sampler.model_dump())}",
        f"- pruner: {_named(spec.pruner.model_dump())}",
        f"- budget: {budget.trials or 'unlimited'} trials"
        + (f", {budget.timeout:g} s" if budget.timeout else "") + " (a `tuner start --trials N` overrides it)",
    ]
    if spec.one_shot is not None:
        shot = spec.one_shot
        lines += [
            "",
            "### One-shot stage",
            "",
            f"The widest network of each layer count is trained once as a slimmable network "
            f"({shot.epochs or t.epochs} epochs) and {shot.estimates} width vectors are scored on its shared weights: "
            f"the trials with the user attribute `one_shot` are these **estimates**, never trained on their own, "
            f"counted apart from the budget and never chosen as the best. The budget's trials retrain the best "
            f"{shot.top} width vectors from scratch, twice each at most (first at the lowest L2 and dropout, as "
            f"estimated, then sampled); each records its estimate as `one_shot_estimate`.",
        ]
    return "\n".join(lines) + "\n"


def trial_note(number: int, architecture: list[LayerRow], hp: Hyperparams) -> str:
    """The trial's architecture as a table (layer, units, params, dropout, L2) and its other settings."""
    hidden = [row.units for row in architecture[:-1]]
    total = total_params(architecture)
    lines = [f"### Trial {number}: {len(hidden)} layer(s) {hidden}, {total:,} parameters", "",
             "| layer | units | params | dropout | L2 |", "|---|---:|---:|---:|---:|"]
    for row in architecture:
        lines.append(f"| {row.layer} | {fmt(row.units)} | {row.params:,} | {_short(row.dropout)} | "
                     f"{_short(row.l2)} |")
    lines += ["", f"activation {hp.activation}, learning rate {hp.learning_rate:g}, batch size {hp.batch_size}"]
    return "\n".join(lines) + "\n"


def save_study_note(study: optuna.Study, body: str) -> bool:
    """Store the study note unless the study already has one (a note edited in the dashboard is kept)."""
    from optuna_dashboard import get_note, save_note

    if get_note(study):
        return False
    save_note(study, body)
    return True


def save_trial_note(trial: optuna.Trial, body: str) -> None:
    """The trial's dashboard note; kept with the trial's other writes when its storage holds them back.

    optuna-dashboard stores a trial's note as study attributes: a version and the body in chunks."""
    from optuna_dashboard import save_note

    attrs = internals.dashboard_note(internals.trial_id(trial), body)
    if not of(trial.storage).set_running_study_attrs(internals.trial_id(trial), attrs):
        save_note(trial, body)


def describe_study(study: optuna.Study, note: str, metric_names: list[str]) -> None:
    """The study note (unless the study has one) and the objectives' names on the dashboard's axes."""
    save_study_note(study, note)
    study.set_metric_names(metric_names)


def _short(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _shape(shape: Any) -> str:
    return " x ".join(str(n) for n in shape) if shape else "?"


def _named(settings: dict[str, Any]) -> str:
    name = settings.pop("name")
    rest = ", ".join(f"{k} {v}" for k, v in settings.items())
    return f"{name} ({rest})" if rest else name
