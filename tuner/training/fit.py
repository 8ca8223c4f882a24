"""Training: fit one model on the study's data, with callbacks, and return its per-epoch history.

A regression target standardized for training is given back in its own units: every epoch's mean absolute error
(training and validation) is multiplied by the target's standard deviation before any callback, the pruner or the
history sees it. The loss stays the training loss (on the standardized target, with the L2 penalty).
"""

from __future__ import annotations

import functools
from typing import Any

from tuner.data import Dataset
from tuner.record import Hyperparams


def fit(model: Any, data: Dataset, hp: Hyperparams, epochs: int, callbacks: list[Any],
        seed: int = 0, fast: bool = True) -> dict[str, list[float]]:
    """Train with validation after every epoch; the callbacks see every epoch's logs.

    Models of width-free layers (tuner's Dense and Conv2D stacks, most of the user's) are trained by
    tuner.training.sharedfit; anything else, or `fast=False`, goes through plain `model.fit`.
    """
    if fast:
        from tuner.training import sharedfit

        how = sharedfit.plan(model, data.task)
        if how is not None:
            return sharedfit.fit(model, data, hp.batch_size, epochs, [*_in_units(data), *callbacks], seed, how)
    return fit_keras(model, data, hp, epochs, callbacks, seed)


def test_scores(model: Any, data: Dataset, hp: Hyperparams) -> dict[str, float]:
    """The trained model's loss and metric on the test rows, as `test_loss` and `test_<metric>` (MAE in the
    target's units); nothing without test rows. Nothing before this looked at them."""
    if not data.n_test:
        return {}
    from tuner.training import sharedfit

    how = sharedfit.plan(model, data.task)
    if how is not None:
        scores = sharedfit.evaluate(model, data, how)
    else:
        from tuner.training import pipelines

        scores = model.evaluate(pipelines.evaluation(data, input_shape(model, data), "test"), verbose=0,
                                return_dict=True)
    std = data.target_scaling.std if data.target_scaling is not None else 1.0
    return {f"test_{key}": float(value) * (std if key in UNIT_METRICS else 1.0) for key, value in scores.items()}


def fit_keras(model: Any, data: Dataset, hp: Hyperparams, epochs: int, callbacks: list[Any],
              seed: int = 0) -> dict[str, list[float]]:
    """`model.fit` with validation after every epoch, on tf.data pipelines made from tensors kept for the process
    (tuner.training.pipelines); the shuffling follows `seed`."""
    import tensorflow as tf

    from tuner.training import pipelines

    tf.random.set_seed(seed)
    shape = input_shape(model, data)
    batches, per_epoch = pipelines.training(data, shape, hp.batch_size, seed)
    history = model.fit(batches, steps_per_epoch=per_epoch, epochs=epochs, verbose=0, shuffle=False,
                        validation_data=pipelines.evaluation(data, shape, "val"),
                        callbacks=[*_in_units(data), *callbacks])
    return {key: [float(v) for v in values] for key, values in history.history.items()}


def input_shape(model: Any, data: Dataset) -> tuple[int, ...]:
    """The shape of one row as the model takes it: its own input shape, else the data's rows (flat or shaped)."""
    inputs = getattr(model, "inputs", None)
    if inputs and len(inputs) == 1 and None not in tuple(inputs[0].shape[1:]):
        return tuple(inputs[0].shape[1:])
    return (data.n_features,)


def as_input(model: Any, x: Any) -> Any:
    """Flat rows reshaped to the model's input shape (an image, a sequence) where it has one of its own."""
    inputs = getattr(model, "inputs", None)
    if not inputs or len(inputs) != 1:
        return x
    shape = tuple(inputs[0].shape[1:])
    if None in shape or shape == tuple(x.shape[1:]):
        return x
    return x.reshape((len(x), *shape))


UNIT_METRICS = ("mae", "val_mae")  # metrics linear in the target: multiplied by its standard deviation


def _in_units(data: Dataset) -> list[Any]:
    """The callback that gives a standardized target's metrics back in its units (first of all callbacks)."""
    return [] if data.target_scaling is None else [_target_units()(data.target_scaling.std)]


@functools.cache
def _target_units() -> type:
    import keras

    class TargetUnits(keras.callbacks.Callback):
        """Epoch logs in the target's own units (the first callback: every other one sees them so)."""

        def __init__(self, std: float) -> None:
            super().__init__()
            self.std = std

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            for key in UNIT_METRICS:
                if logs is not None and key in logs:
                    logs[key] = float(logs[key]) * self.std

    return TargetUnits
