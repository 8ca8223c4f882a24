"""The oracle: a zoo model trained with plain `model.fit` on the loader's own rows, one run per seed, as a user
who never heard of tuner would train it (the hyperparameters tuner would give, the model compiled as tuner's
docs/your-model.md says when it comes uncompiled)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from tests.zoo import ZooModel, data, models


@dataclass(frozen=True)
class Runs:
    """Each seed's value (its best epoch's metric) and learning curve (the metric after every epoch)."""

    seeds: tuple[int, ...]
    values: tuple[float, ...]
    curves: tuple[tuple[float, ...], ...]


def start_worker() -> None:
    """TensorFlow imported quietly, one thread per op as in tuner's trials (in this process or a worker)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    import keras  # noqa: F401


def splits(entry: ZooModel) -> dict[str, Any]:
    return getattr(data, entry.loader)()


def arrays(part: Any) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of a split given as arrays or as a tf.data.Dataset."""
    if isinstance(part, tuple):
        return part
    xs, ys = zip(*[(np.asarray(x), np.asarray(y)) for x, y in part], strict=True)
    return np.concatenate(xs), np.concatenate(ys)


def hyperparams(entry: ZooModel, l2: float, dropout: float) -> Any:
    """What tuner gives the build function for the entry's fixed configuration."""
    from tuner.record import ModelParams

    given = splits(entry)
    x_train, y_train = arrays(given["train"])
    n_outputs = len(np.unique(y_train)) if entry.task == "classification" else 1
    shape = tuple(x_train.shape[1:])
    if entry.build is None:
        layer = SimpleNamespace(units=entry.units, l2=l2, dropout=dropout)
        return SimpleNamespace(layers=[layer] * entry.layers, activation="relu", learning_rate=entry.learning_rate,
                               input_shape=shape, n_outputs=n_outputs, task=entry.task)
    return ModelParams(units=dict(entry.units), l2=l2, dropout=dropout, learning_rate=entry.learning_rate,
                       batch_size=entry.batch_size, activation="relu", input_shape=shape, n_outputs=n_outputs,
                       task=entry.task)


def build(entry: ZooModel, hp: Any) -> Any:
    """The entry's model, compiled: its own compile, else the one docs/your-model.md gives (Adam at the study's
    learning rate; sparse cross-entropy and accuracy, or for one output unit binary cross-entropy and binary
    accuracy, each from logits when the last layer has no activation; MSE and MAE for regression)."""
    import keras

    model = getattr(models, entry.build or "dense_stack")(hp)
    if model.compiled:
        return model
    last = getattr(model.layers[-1], "activation", None)
    logits = last is None or last.__name__ == "linear"
    if entry.task == "regression":
        loss, metric = "mse", "mae"
    elif model.outputs[0].shape[-1] == 1:
        loss = keras.losses.BinaryCrossentropy(from_logits=logits)
        metric = keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0 if logits else 0.5)
    else:
        loss, metric = keras.losses.SparseCategoricalCrossentropy(from_logits=logits), "accuracy"
    model.compile(optimizer=keras.optimizers.Adam(entry.learning_rate), loss=loss, metrics=[metric])
    return model


def fit(entry: ZooModel, seeds: tuple[int, ...], l2: float, dropout: float) -> Runs:
    """`model.fit` once per seed (`keras.utils.set_random_seed`), validated on the loader's validation rows after
    every epoch."""
    import keras

    given = splits(entry)
    hp = hyperparams(entry, l2, dropout)
    values, curves = [], []
    keras.backend.clear_session()
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        model = build(entry, hp)
        if isinstance(given["train"], tuple):
            (x_train, y_train), validation = given["train"], given["validation"]
            history = model.fit(x_train, y_train, batch_size=entry.batch_size, epochs=entry.epochs,
                                validation_data=validation, shuffle=True, verbose=0)
        else:
            history = model.fit(given["train"], epochs=entry.epochs, validation_data=given["validation"],
                                verbose=0)
        curve = [float(v) for v in history.history[entry.metric]]
        values.append(max(curve) if maximized(entry.metric) else min(curve))
        curves.append(tuple(curve))
    return Runs(tuple(seeds), tuple(values), tuple(curves))


def maximized(metric: str) -> bool:
    return "loss" not in metric and "mae" not in metric
