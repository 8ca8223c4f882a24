"""Objective: one trial = sample hyperparameters, build the model, train with pruning, record what happened."""

from __future__ import annotations

import math
import time
from typing import Any

import optuna

from tuner import constraints, objectives, space
from tuner._tf import load_keras, start_trial
from tuner.data import Dataset
from tuner.errors import TrialFailed
from tuner.metric import Metric
from tuner.model import architecture
from tuner.spec import StudySpec
from tuner.storage import flush, set_user_attrs

INTERRUPTED = "interrupted"


class Objective:
    """Callable for `study.optimize`; data is loaded once by the caller and shared by every trial."""

    def __init__(self, spec: StudySpec, data: Dataset, metric: Metric, seed: int = 0, watch: Any = None) -> None:
        self.spec, self.data, self.metric, self.seed = spec, data, metric, seed
        self.watch = watch  # optional: .started(trial, hp, architecture) and .trained(trial, model, history)

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        hp = space.sample(trial, self.spec.space, self.spec.training)
        rows = architecture(hp, self.data.n_features, self.data.n_outputs, self.data.shape)
        n_params = sum(row["params"] for row in rows)
        seed = self.seed + trial.number
        set_user_attrs(trial, {"units": hp.units, "n_params": n_params, "architecture": rows, "seed": seed,
                               "dropout": [float(f"{layer.dropout:.4g}") for layer in hp.layers],
                               "l2": [float(f"{layer.l2:.4g}") for layer in hp.layers]})
        constraints.record(trial, n_params, self.spec.max_params)  # over budget: pruned here, never trained
        if self.watch is not None:
            self.watch.started(trial, hp, rows)
        flush(trial)  # parameters, attributes and note stored together before training starts
        start = time.perf_counter()
        try:
            history = self._train(trial, hp, seed, n_params)
        except KeyboardInterrupt:
            set_user_attrs(trial, {"fail_reason": INTERRUPTED, "train_seconds": _since(start)})
            raise
        except TrialFailed as exc:
            set_user_attrs(trial, {"fail_reason": str(exc), "train_seconds": _since(start)})
            raise
        except BaseException:
            trial.set_user_attr("train_seconds", _since(start))
            raise
        value, results = self._results(history)
        set_user_attrs(trial, {**results, "train_seconds": _since(start)})
        return objectives.values(self.spec, value, n_params, trial.user_attrs.get(objectives.LATENCY_ATTR))

    def _train(self, trial: optuna.Trial, hp: space.Hyperparams, seed: int,
               n_params: int = 0) -> dict[str, list[float]]:
        load_keras()
        import keras
        import tensorflow as tf

        from tuner.callbacks import EpochGuard
        from tuner.model import build_model
        from tuner.train import fit

        start_trial(seed)
        guard = EpochGuard(self.metric.name)
        callbacks: list[Any] = [keras.callbacks.TerminateOnNaN(), guard,
                                objectives.pruning_callback(trial, self.spec, self.metric, n_params, self.data.x_val)]
        if self.spec.training.patience:
            callbacks.append(keras.callbacks.EarlyStopping(monitor=self.metric.name, mode=self.metric.direction[:3],
                                                           patience=self.spec.training.patience))
        try:
            model = build_model(hp, self.data.n_features, self.data.n_outputs, self.data.task,
                                self.spec.training.optimizer, self.data.shape)
            history = fit(model, self.data, hp, self.spec.training.epochs, callbacks, seed=seed)
        except (tf.errors.ResourceExhaustedError, MemoryError) as exc:
            raise TrialFailed(f"out of memory: {str(exc).splitlines()[0][:200]}") from None
        except optuna.TrialPruned:
            trial.set_user_attr("epochs_run", guard.epochs)
            raise
        _check_finite(history)
        if self.watch is not None:
            self.watch.trained(trial, model, history)
        return history

    def _results(self, history: dict[str, list[float]]) -> tuple[float, dict[str, Any]]:
        """The trial's value (its best epoch's metric) and the attributes that describe how it trained."""
        values = history[self.metric.name]
        best = self.metric.best_index(values)
        train_key, val_key = self.metric.base, self.metric.validation
        train_value, val_value = history[train_key][best], history[val_key][best]
        gap = train_value - val_value if self.metric.direction == "maximize" else val_value - train_value
        return values[best], {"epochs_run": len(values), "best_epoch": best, f"train_{train_key}": train_value,
                              val_key: val_value, "overfit_gap": gap}


def _since(start: float) -> float:
    return round(time.perf_counter() - start, 3)


def _check_finite(history: dict[str, list[float]]) -> None:
    for key, values in history.items():
        for epoch, value in enumerate(values):
            if not math.isfinite(value):
                raise TrialFailed(f"{key} became {value} at epoch {epoch}; lower the learning rate or L2 range")
