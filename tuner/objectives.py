"""Accuracy against size: a study with `objectives: [metric, n_params]` (and/or `latency`) has several objectives.

`latency` is the measured inference time per sample in microseconds: after training, the median of 5 timed
`predict_on_batch` calls on (up to) 256 validation rows, divided by the row count, recorded as `latency_us`. It is
a measurement on a shared machine, so it is noisier than the parameter count.

Optuna cannot prune a multi-objective trial through `trial.report`, so tuner applies a rule of its own, a
size-aware median rule on the first objective: each epoch's metric is recorded in the user attribute `curve`, and
after `n_warmup_steps` epochs a trial is pruned when its metric is worse than the median, at the same epoch, of the
completed trials that are no larger than it (n_params <= its own), once at least `n_startup_trials` such trials
exist. A model is only stopped when smaller models already did better at that point, so the small end of the
Pareto front is never pruned away by large, accurate models. The settings come from the study's median pruner
(`pruner: median`); `pruner: none` turns the rule off; any other pruner uses the median pruner's defaults.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from tuner.metric import Metric
from tuner.spec import MedianSpec, NoPrunerSpec, StudySpec

CURVE_ATTR = "curve"
LATENCY_ATTR = "latency_us"
LATENCY_ROWS = 256
DIRECTIONS = {"n_params": "minimize", "latency": "minimize"}


def directions(spec: StudySpec, metric: Metric) -> list[str]:
    return [metric.direction if name == "metric" else DIRECTIONS[name] for name in spec.objectives]


def values(spec: StudySpec, metric_value: float, n_params: int,
           latency: float | None = None) -> float | tuple[float, ...]:
    """What the objective returns: the metric alone, or the metric and the model's size (and/or latency)."""
    if not spec.multi_objective:
        return metric_value
    known = {"metric": metric_value, "n_params": float(n_params), "latency": latency}
    return tuple(known[name] for name in spec.objectives)


def measure_latency(model: Any, rows: Any, repeats: int = 5) -> float:
    """Inference time per sample in microseconds (median of `repeats` batched calls, after one warm-up)."""
    batch = rows[:LATENCY_ROWS]
    model.predict_on_batch(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_on_batch(batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times) / len(batch) * 1e6


def rule_settings(spec: StudySpec) -> tuple[int, int] | None:
    """(n_startup_trials, n_warmup_steps) of the median rule, or None when pruning is off."""
    if isinstance(spec.pruner, NoPrunerSpec):
        return None
    pruner = spec.pruner if isinstance(spec.pruner, MedianSpec) else MedianSpec(name="median")
    return pruner.n_startup_trials, pruner.n_warmup_steps


def should_prune(value: float, epoch: int, n_params: int, others: list[FrozenTrial], metric: Metric,
                 settings: tuple[int, int]) -> bool:
    """The size-aware median rule for one epoch (0-based) of one trial."""
    n_startup, n_warmup = settings
    if epoch < n_warmup:
        return False
    peers = [t.user_attrs[CURVE_ATTR][epoch] for t in others
             if t.user_attrs.get("n_params", 0) <= n_params and len(t.user_attrs.get(CURVE_ATTR, ())) > epoch]
    if len(peers) < max(n_startup, 1):
        return False
    return metric.better(statistics.median(peers), value)


def completed(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def pareto_front(study: optuna.Study) -> list[FrozenTrial]:
    """The feasible Pareto-optimal trials, best first objective first."""
    front = study.best_trials
    reverse = study.directions[0] == optuna.study.StudyDirection.MAXIMIZE
    return sorted(front, key=lambda t: (t.values[0], -t.values[1] if reverse else t.values[1]), reverse=reverse)


def pruning_callback(trial: optuna.Trial, spec: StudySpec, metric: Metric, n_params: int,
                     sample: Any = None) -> Any:
    """KerasPruningCallback for one objective; for several, the size-aware median rule (a Keras callback), which
    also measures latency on `sample` rows when that is an objective."""
    from optuna_integration import KerasPruningCallback

    if not spec.multi_objective:
        return KerasPruningCallback(trial, metric.name)
    import keras

    settings = rule_settings(spec)

    class SizeAwareMedian(keras.callbacks.Callback):
        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            self.curve: list[float] = []
            self.others = completed(trial.study) if settings else []

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            value = float((logs or {}).get(metric.name, float("nan")))
            self.curve.append(value)
            trial.set_user_attr(CURVE_ATTR, self.curve)
            if settings and should_prune(value, epoch, n_params, self.others, metric, settings):
                raise optuna.TrialPruned(f"epoch {epoch}: {metric.name} {value:.4g} is worse than the median of "
                                         f"no larger models")

        def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
            if "latency" in spec.objectives and sample is not None:
                trial.set_user_attr(LATENCY_ATTR, measure_latency(self.model, sample))

    return SizeAwareMedian()
