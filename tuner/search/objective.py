"""Objective: one trial = sample hyperparameters, build the model, train with pruning, record what happened."""

from __future__ import annotations

import math
import time
from typing import Any

import optuna

from tuner import record
from tuner.data import Dataset
from tuner.errors import TrialFailed
from tuner.search import multiobjective, pruning
from tuner.search.constraints import record_constraint
from tuner.search.metric import Metric
from tuner.search.models import TunerModels
from tuner.search.source import ModelSource
from tuner.search.watch import TrialHook
from tuner.spec import StudySpec
from tuner.store import flush, set_user_attrs


class Objective:
    """Callable for `study.optimize`; data is loaded once by the caller and shared by every trial. `models`: where
    the trials' models come from (tuner's own by default)."""

    def __init__(self, spec: StudySpec, data: Dataset, metric: Metric, seed: int = 0,
                 watch: TrialHook | None = None, models: ModelSource | None = None) -> None:
        self.spec, self.data, self.metric, self.seed = spec, data, metric, seed
        self.watch = watch
        self.models = models or TunerModels(spec, data)
        self._tested: dict[str, float] = {}

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        hp = self.models.sample(trial)
        seed = self.seed + trial.number
        model = None
        if self.models.builds_to_count:  # the user's model: built (with TensorFlow) to be counted
            try:
                model = self._build(hp, seed)
            except TrialFailed as exc:
                set_user_attrs(trial, {record.FAIL_REASON: str(exc), record.TRAIN_SECONDS: 0.0})
                raise
        rows = self.models.architecture(hp, model)
        n_params = record.total_params(rows)
        widths = self.models.widths(hp)
        set_user_attrs(trial, {record.UNITS: widths["units"], record.N_PARAMS: n_params,
                               record.ARCHITECTURE: [row.to_dict() for row in rows],
                               record.SEED: seed, record.DROPOUT: widths["dropout"], record.L2: widths["l2"]})
        record_constraint(trial, n_params, self.spec.max_params)  # over budget: pruned here, never trained
        if self.watch is not None:
            self.watch.started(trial, hp, rows)
        flush(trial)  # parameters, attributes and note stored together before training starts
        start = time.perf_counter()
        try:
            history = self._train(trial, hp, seed, n_params, model)
        except KeyboardInterrupt:
            set_user_attrs(trial, {record.FAIL_REASON: record.INTERRUPTED, record.TRAIN_SECONDS: _since(start)})
            raise
        except TrialFailed as exc:
            set_user_attrs(trial, {record.FAIL_REASON: str(exc), record.TRAIN_SECONDS: _since(start)})
            raise
        except BaseException:
            trial.set_user_attr(record.TRAIN_SECONDS, _since(start))
            raise
        value, results = self._results(history)
        set_user_attrs(trial, {**results, **self._tested, record.TRAIN_SECONDS: _since(start)})
        return multiobjective.values(self.spec, value, n_params, trial.user_attrs.get(record.LATENCY))

    def _build(self, hp: Any, seed: int) -> Any:
        from tuner.backend import load_keras, start_trial

        load_keras()
        import tensorflow as tf

        start_trial(seed)
        try:
            return self.models.build(hp)
        except (tf.errors.ResourceExhaustedError, MemoryError) as exc:
            raise TrialFailed(f"out of memory: {str(exc).splitlines()[0][:200]}") from None

    def _train(self, trial: optuna.Trial, hp: Any, seed: int, n_params: int = 0,
               model: Any = None) -> dict[str, list[float]]:
        from tuner.backend import load_keras, start_trial

        load_keras()
        import keras
        import tensorflow as tf

        from tuner.training.fit import fit, test_scores

        if model is None:
            start_trial(seed)
        guard, pruners = pruning.callbacks(trial, self.spec, self.metric, n_params)
        callbacks: list[Any] = [keras.callbacks.TerminateOnNaN(), *pruners]
        if self.spec.training.patience:
            callbacks.append(keras.callbacks.EarlyStopping(monitor=self.metric.name, mode=self.metric.direction[:3],
                                                           patience=self.spec.training.patience))
        try:
            model = self.models.build(hp) if model is None else model
            history = fit(model, self.data, hp, self.spec.training.epochs, callbacks, seed=seed)
        except (tf.errors.ResourceExhaustedError, MemoryError) as exc:
            raise TrialFailed(f"out of memory: {str(exc).splitlines()[0][:200]}") from None
        except optuna.TrialPruned:
            trial.set_user_attr(record.EPOCHS_RUN, guard.epochs)
            raise
        if "latency" in self.spec.objectives:
            trial.set_user_attr(record.LATENCY, multiobjective.measure_latency(model, self.data.x_val))
        _check_finite(history)
        base = self.metric.base  # the trained model on the test rows: recorded, never used to prune or choose
        self._tested = {key: value for key, value in test_scores(model, self.data, hp).items()
                        if key == record.test_key(base)}
        if self.watch is not None:
            self.watch.trained(trial, model, history)
        return history

    def _results(self, history: dict[str, list[float]]) -> tuple[float, dict[str, Any]]:
        """The trial's value (its best epoch's metric) and the attributes that describe how it trained."""
        values = history[self.metric.name]
        best = self.metric.best_index(values)
        base = self.metric.base
        train_value, val_value = history[base][best], history[self.metric.validation][best]
        gap = train_value - val_value if self.metric.direction == "maximize" else val_value - train_value
        return values[best], {record.EPOCHS_RUN: len(values), record.BEST_EPOCH: best,
                              record.train_key(base): train_value, record.val_key(base): val_value,
                              record.OVERFIT_GAP: gap}


def _since(start: float) -> float:
    return round(time.perf_counter() - start, 3)


def _check_finite(history: dict[str, list[float]]) -> None:
    for key, values in history.items():
        for epoch, value in enumerate(values):
            if not math.isfinite(value):
                raise TrialFailed(f"{key} became {value} at epoch {epoch}; lower the learning rate or L2 range")
