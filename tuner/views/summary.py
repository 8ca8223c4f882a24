"""Read-only views of a study: how its trials count toward the budget, state counts, the best trial (or the Pareto
front) and its architecture. No TensorFlow here."""

from __future__ import annotations

import weakref
from collections import Counter
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from tuner import record
from tuner.store import outline

COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)


def is_infeasible(trial: FrozenTrial) -> bool:
    """Over the parameter budget: recorded as pruned, never trained."""
    return any(value > 0 for value in trial.constraints.values())


def is_estimate(trial: FrozenTrial) -> bool:
    """A one-shot estimate (tuner.search.oneshot): scored on shared weights, never trained as a model of its own."""
    return bool(trial.user_attrs.get(record.ONE_SHOT))


def trained(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """The complete trials that trained a model: the ones a best trial, a Pareto front or an export is chosen from."""
    return [t for t in trials if t.state == TrialState.COMPLETE and not is_estimate(t)]


def counts_toward_budget(trial: FrozenTrial) -> bool:
    """Finished and running trials use up the budget; interrupted ones and dead workers' trials are redone.

    Infeasible trials (over max_params, never trained) do not count: the budget is a number of trained models;
    nor do warm-start trials still waiting in the queue, nor one-shot estimates.
    """
    if is_infeasible(trial) or is_estimate(trial) or (trial.state == TrialState.WAITING and
                                                      trial.user_attrs.get(record.WARM_START)):
        return False
    if trial.state in COUNTED:
        return True
    reason = trial.user_attrs.get(record.FAIL_REASON)
    return trial.state == TrialState.FAIL and reason is not None and reason != record.INTERRUPTED


_finished: dict[int, tuple[weakref.ref, bool, bool]] = {}  # id(trial) -> (trial, infeasible, counts toward budget)


def classify(trial: FrozenTrial) -> tuple[bool, bool]:
    """(infeasible, counts toward the budget), remembered for finished trials: they never change, and the runner
    and the progress display look at every trial of the study after each trial (2,000 trials: ~15 ms a trial)."""
    key = id(trial)
    known = _finished.get(key)
    if known is not None and known[0]() is trial:
        return known[1], known[2]
    infeasible, counts = is_infeasible(trial), counts_toward_budget(trial)
    if trial.state.is_finished():
        _finished[key] = (weakref.ref(trial, lambda _, key=key: _finished.pop(key, None)), infeasible, counts)
    return infeasible, counts


def used(trials: list[FrozenTrial]) -> int:
    """How many of `trials` use up the budget (counts_toward_budget)."""
    return sum(classify(t)[1] for t in trials)


@dataclass(frozen=True)
class Counts:
    complete: int = 0
    pruned: int = 0
    failed: int = 0
    running: int = 0
    used: int = 0  # trials that count toward the budget
    infeasible: int = 0  # over max_params, recorded as pruned without training
    estimates: int = 0  # one-shot estimates (complete, but not counted as complete trials)

    @classmethod
    def of(cls, trials: list[FrozenTrial]) -> Counts:
        states = Counter(t.state for t in trials)
        kinds = [classify(t) for t in trials]
        estimates = sum(is_estimate(t) for t in trials)
        return cls(complete=states[TrialState.COMPLETE] - estimates, pruned=states[TrialState.PRUNED],
                   failed=states[TrialState.FAIL], running=states[TrialState.RUNNING],
                   used=sum(counts for _, counts in kinds), estimates=estimates,
                   infeasible=sum(infeasible for (infeasible, _), t in zip(kinds, trials) if not is_estimate(t)))


def best_trial(study: optuna.Study, trials: list[FrozenTrial] | None = None) -> FrozenTrial | None:
    trials = trained(study.get_trials(deepcopy=False) if trials is None else trials)
    if not trials:
        return None
    if len(study.directions) > 1:  # the Pareto-optimal trial with the best first objective
        return pareto_front(study)[0]
    pick = max if study.direction == optuna.study.StudyDirection.MAXIMIZE else min
    return pick(trials, key=lambda t: t.value)


def best_trial_whole(study: optuna.Study) -> FrozenTrial | None:
    """The best trial, read whole: found in the study's outline (tuner.store.outline), so that a large study is not read
    whole to show one trial."""
    if len(study.directions) > 1:
        return best_trial(study)
    best = best_trial(study, outline.trials(study))
    return outline.whole(study, [best])[0] if best else None


def pareto_front(study: optuna.Study) -> list[FrozenTrial]:
    """The feasible Pareto-optimal trials that trained a model (no one-shot estimate), best first objective first."""
    front = study.best_trials
    if any(is_estimate(t) for t in front):
        front = _front(trained(study.get_trials(deepcopy=False)), study.directions)
    reverse = study.directions[0] == optuna.study.StudyDirection.MAXIMIZE
    return sorted(front, key=lambda t: (t.values[0], -t.values[1] if reverse else t.values[1]), reverse=reverse)


def _front(trials: list[FrozenTrial], directions: list[optuna.study.StudyDirection]) -> list[FrozenTrial]:
    """The feasible trials no other feasible trial dominates."""
    sign = [-1.0 if d == optuna.study.StudyDirection.MAXIMIZE else 1.0 for d in directions]
    keys = [[s * v for s, v in zip(sign, t.values)] for t in trials if not is_infeasible(t)]
    kept = [t for t in trials if not is_infeasible(t)]
    return [t for t, k in zip(kept, keys)
            if not any(all(a <= b for a, b in zip(o, k)) and o != k for o in keys)]


def units(task: str | None, metric: str, target: str | None) -> str | None:
    """What a metric's values are in: the target's own units for a regression MAE (`val_mae`, `test_mae`)."""
    if task == "regression" and metric.split("_")[-1] == "mae" and target:
        return f"units of {target}"
    return None


def metric_units(study: optuna.Study) -> str | None:
    """The units of the study's metric, from the data description stored with it (None: unitless or unknown; studies
    stored before the target's name was recorded gave MAE in standard deviations)."""
    data = study.user_attrs.get(record.DATA, {})
    return units(data.get("task"), study.user_attrs.get(record.METRIC, ""), data.get("target"))


def against_base(study: optuna.Study, best: FrozenTrial, trials: list[FrozenTrial] | None = None) -> str | None:
    """How the best trial compares with the user's own model as it was (the re-widened study's first trial): "+1.8
    points of val_accuracy with 41% fewer parameters than your model (trial 0)"; None when there is no such trial
    or it did not complete."""
    trials = study.get_trials(deepcopy=False) if trials is None else trials
    base = next((t for t in trials if t.user_attrs.get(record.BASE_MODEL)), None)
    if base is None or base.state != TrialState.COMPLETE or base.number == best.number or not best.values:
        return "your model as it was is the best trial" if base is not None and base.number == best.number else None
    metric = study.user_attrs.get(record.METRIC, "value")
    diff = best.values[0] - base.values[0]
    change = f"{100 * diff:+.1f} points of {metric}" if metric.endswith("accuracy") else f"{metric} {diff:+.4g}"
    size_best, size_base = best.user_attrs.get(record.N_PARAMS), base.user_attrs.get(record.N_PARAMS)
    size = ""
    if size_best and size_base:
        ratio = size_best / size_base
        size = f" with {100 * (1 - ratio):.0f}% fewer parameters" if ratio < 1 else \
            f" with {100 * (ratio - 1):.0f}% more parameters"
    ran = base.user_attrs.get(record.BASE_RAN_WITH)
    return f"{change}{size} than your model as it was (trial {base.number}: {base.values[0]:.4g}, {size_base} " \
           f"parameters{f'; {ran}' if ran else ''})"


def best_model_line(study: optuna.Study, info: dict[str, Any]) -> str:
    """What the best-model artifact is: a trial's model as it trained, or the trial retrained on more rows (a
    refit), and its score on the test rows where any remain unseen."""
    shown = f"best model: {info['filename']} (trial {info['trial']}"
    refit = info.get("refit")
    if not refit:
        return shown + ", as it trained on the training rows)"
    shown += f", retrained on the {info.get('trained_rows')} {record.REFIT_ROWS[refit]} rows"
    if info.get("test") is not None:
        tested = study.user_attrs.get(record.DATA, {}).get("test", ["?"])[0]
        metric = record.test_key(study.user_attrs.get(record.METRIC, "value").removeprefix("val_"))
        shown += f"; {metric} {info['test']:.4f} on the {tested} test rows"
    return shown + ")"


def trial_view(trial: FrozenTrial) -> dict[str, Any]:
    """A trial as `tuner best` shows it: value, params, architecture and the recorded attributes."""
    attrs = dict(trial.user_attrs)
    attrs.pop(record.CURVE, None)
    return {"number": trial.number, "state": trial.state.name, "value": trial.values[0] if trial.values else None,
            "values": trial.values, "params": trial.params, "architecture": attrs.pop(record.ARCHITECTURE, []),
            "attrs": attrs}


def study_view(study: optuna.Study, trials: list[FrozenTrial] | None = None) -> record.StudyView:
    """Name, objective, counts and best value; from the study's outline unless `trials` are given."""
    trials = outline.trials(study) if trials is None else trials
    best = best_trial(study, trials)
    return record.StudyView(
        name=study.study_name, direction="/".join(d.name.lower() for d in study.directions),
        metric=study.user_attrs.get(record.METRIC, "value"), units=metric_units(study), trials=len(trials),
        counts=dict(Counts.of(trials).__dict__), best_value=best.values[0] if best else None,
        best_trial=best.number if best else None)
