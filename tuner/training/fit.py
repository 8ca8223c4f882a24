"""Training: fit one model on the study's data, with callbacks, and return its per-epoch history."""

from __future__ import annotations

from typing import Any

from tuner.data import Dataset
from tuner.record import Hyperparams


def fit(model: Any, data: Dataset, hp: Hyperparams, epochs: int, callbacks: list[Any],
        seed: int = 0, fast: bool = True) -> dict[str, list[float]]:
    """Train with validation after every epoch; the callbacks see every epoch's logs.

    Models the fast path recognises (tuner's Dense MLPs with Adam or SGD) are trained by tuner.training.fastfit;
    anything else, or `fast=False`, goes through plain `model.fit`.
    """
    if fast:
        from tuner.training import fastfit

        how = fastfit.plan(model, hp, data.task)
        if how is not None:
            return fastfit.fit(model, data, hp, epochs, callbacks, seed, how)
    return fit_keras(model, data, hp, epochs, callbacks, seed)


def fit_keras(model: Any, data: Dataset, hp: Hyperparams, epochs: int, callbacks: list[Any],
              seed: int = 0) -> dict[str, list[float]]:
    """Plain `model.fit` with validation after every epoch, its shuffling seeded by TensorFlow's global seed."""
    import tensorflow as tf

    tf.random.set_seed(seed)
    history = model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=epochs,
                        batch_size=hp.batch_size, verbose=0, callbacks=callbacks, shuffle=True)
    return {key: [float(v) for v in values] for key, values in history.history.items()}
