"""Pruning, all of it: the study file's pruner as an Optuna pruner, the Keras callbacks that report every epoch
to it, and the size-aware median rule that stands in for Optuna's pruners when a study has several objectives.

Every trial trains with two of these callbacks: `EpochGuard` (counts epochs, stops at an epoch's end once Ctrl-C
was pressed, and fails the trial when the monitored metric is missing from the logs: the pruning callback alone
would only warn and never prune) and the pruner's own callback (optuna-integration's `KerasPruningCallback` for
one objective; `SizeAwareMedian` for several).

Optuna cannot prune a multi-objective trial through `trial.report`, so the size-aware median rule applies to the
first objective: each epoch's metric is recorded in the trial's `curve` attribute, and after `n_warmup_steps`
epochs a trial is pruned when its metric is worse than the median, at the same epoch, of the completed trials that
are no larger than it (n_params <= its own), once at least `n_startup_trials` such trials exist. A model is only
stopped when smaller models already did better at that point, so the small end of the Pareto front is never
pruned away by large, accurate models. The settings come from the study's median pruner (`pruner: median`);
`pruner: none` turns the rule off; any other pruner uses the median pruner's defaults.

Importing this module does not import Keras: the callback classes are defined on first use.
"""

from __future__ import annotations

import functools
import statistics
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from tuner import interrupt, record
from tuner.errors import TrialFailed
from tuner.search.metric import Metric
from tuner.spec import HalvingSpec, HyperbandSpec, MedianSpec, NoPrunerSpec, StudySpec
from tuner.store import internals


def make_pruner(spec: StudySpec) -> optuna.pruners.BasePruner:
    p, epochs = spec.pruner, spec.training.epochs
    if isinstance(p, MedianSpec):
        return optuna.pruners.MedianPruner(n_startup_trials=p.n_startup_trials, n_warmup_steps=p.n_warmup_steps)
    if isinstance(p, HalvingSpec):
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=p.min_resource,
                                                      reduction_factor=p.reduction_factor)
    if isinstance(p, HyperbandSpec):
        return optuna.pruners.HyperbandPruner(min_resource=p.min_resource, max_resource=epochs,
                                              reduction_factor=p.reduction_factor)
    return optuna.pruners.NopPruner()


def rule_settings(spec: StudySpec) -> tuple[int, int] | None:
    """(n_startup_trials, n_warmup_steps) of the size-aware median rule, or None when pruning is off."""
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
    peers = [t.user_attrs[record.CURVE][epoch] for t in others
             if t.user_attrs.get(record.N_PARAMS, 0) <= n_params and len(t.user_attrs.get(record.CURVE, ())) > epoch]
    if len(peers) < max(n_startup, 1):
        return False
    return metric.better(statistics.median(peers), value)


def callbacks(trial: optuna.Trial, spec: StudySpec, metric: Metric, n_params: int) -> tuple[Any, list[Any]]:
    """The epoch guard (it knows how many epochs ran) and the Keras callbacks that prune this trial."""
    guard_class, size_aware_class = _keras_callbacks()
    guard = guard_class(metric.name)
    if not spec.multi_objective:
        from optuna_integration import KerasPruningCallback

        return guard, [guard, KerasPruningCallback(trial, metric.name)]
    return guard, [guard, size_aware_class(trial, metric, n_params, rule_settings(spec))]


@functools.cache
def _keras_callbacks() -> tuple[type, type]:
    import keras

    class EpochGuard(keras.callbacks.Callback):
        """Counts epochs, stops at an epoch's end once Ctrl-C was pressed, and fails the trial when the monitored
        key is missing from the logs."""

        def __init__(self, monitor: str) -> None:
            super().__init__()
            self.monitor = monitor
            self.epochs = 0

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.epochs = epoch + 1
            interrupt.check()
            if self.monitor not in (logs or {}):
                raise TrialFailed(f"metric {self.monitor!r} is not in the training logs ({', '.join(logs or {})})")

    class SizeAwareMedian(keras.callbacks.Callback):
        """The size-aware median rule, judged after every epoch."""

        def __init__(self, trial: optuna.Trial, metric: Metric, n_params: int,
                     settings: tuple[int, int] | None) -> None:
            super().__init__()
            self.trial, self.metric, self.n_params, self.settings = trial, metric, n_params, settings

        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            self.curve: list[float] = []
            self.others = self.trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) \
                if self.settings else []

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            value = float((logs or {}).get(self.metric.name, float("nan")))
            self.curve.append(value)
            self.trial.set_user_attr(record.CURVE, self.curve)
            # the learning curve the dashboard draws (trial.report refuses studies with several objectives)
            self.trial.storage.set_trial_intermediate_value(internals.trial_id(self.trial), epoch, value)
            if self.settings and should_prune(value, epoch, self.n_params, self.others, self.metric, self.settings):
                raise optuna.TrialPruned(f"epoch {epoch}: {self.metric.name} {value:.4g} is worse than the median "
                                         f"of no larger models")

    return EpochGuard, SizeAwareMedian
