"""The shared training path for the user's models (tuner.training.sharedfit): the same histories and weights as
`model.fit`, one trace for every width of an architecture, and `model.fit` for what it does not cover."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from tuner.data import load_data
from tuner.backend import load_keras
from tuner.spec import DataSpec

load_keras()
import keras  # noqa: E402

from tuner.training import sharedfit  # noqa: E402
from tuner.training import fit as training  # noqa: E402
from tuner.training.fit import fit, fit_keras  # noqa: E402
from tuner.training.usermodels import compiled  # noqa: E402

CNN = Path(__file__).resolve().parents[1] / "studies" / "models" / "cnn.py"
_spec = importlib.util.spec_from_file_location("residual_cnn", CNN)
residual_cnn = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(residual_cnn)


def _digits(test_split: float = 0.0) -> Any:
    return load_data(DataSpec(bundled="digits", seed=0, scale="minmax", test_split=test_split), "classification")


def _cnn(conv: int, head: int, l2: float = 0.0, dropout: float = 0.0, seed: int = 0,
         optimizer: str = "adam") -> keras.Model:
    keras.utils.set_random_seed(seed)
    hp = SimpleNamespace(units={"conv_1": conv, "dense_head": head}, l2=l2, dropout=dropout, input_shape=(8, 8, 1),
                         n_outputs=10)
    return compiled(residual_cnn.build(hp), "classification", optimizer, 1e-3, "val_accuracy", "model.build")


def _dense(data: Any, units: int, seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((data.n_features,))
    x = keras.layers.Dense(units, activation="relu", kernel_regularizer=keras.regularizers.L1L2(1e-4, 1e-3))(inputs)
    x = keras.layers.Dropout(0.2)(x)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    return compiled(model, "regression", "sgd", 1e-2, "val_mae", "model.build")


@pytest.mark.parametrize(("l2", "dropout"), [(0.0, 0.0), (1e-3, 0.3)])
def test_shared_path_agrees_with_model_fit(l2: float, dropout: float) -> None:
    data = _digits()
    hp = SimpleNamespace(batch_size=64)
    shared_model = _cnn(16, 32, l2, dropout, seed=4)
    assert sharedfit.plan(shared_model, data.task) is not None
    shared = fit(shared_model, data, hp, 3, [], seed=4)
    plain_model = _cnn(16, 32, l2, dropout, seed=4)
    plain = fit_keras(plain_model, data, hp, 3, [], seed=4)

    assert shared.keys() == plain.keys() == {"loss", "accuracy", "val_loss", "val_accuracy"}
    # the same batches, dropout masks and arithmetic: the first epoch agrees to rounding, later ones drift apart
    # only as far as the order of floating-point sums takes them
    assert shared["loss"][0] == pytest.approx(plain["loss"][0], rel=1e-4)
    assert shared["accuracy"][0] == pytest.approx(plain["accuracy"][0], abs=1e-3)
    for key in ("loss", "val_loss"):
        assert shared[key] == pytest.approx(plain[key], rel=0.02), (key, shared[key], plain[key])
    for key in ("accuracy", "val_accuracy"):
        assert shared[key] == pytest.approx(plain[key], abs=0.04), (key, shared[key], plain[key])
    for mine, theirs in zip(shared_model.get_weights(), plain_model.get_weights(), strict=True):
        assert np.allclose(mine, theirs, atol=0.02, rtol=0.02)


def test_regression_with_l1l2_dropout_and_sgd_agrees_with_model_fit() -> None:
    data = load_data(DataSpec(bundled="diabetes", seed=0, test_split=0), "regression")
    hp = SimpleNamespace(batch_size=32)
    model = _dense(data, 24, seed=2)
    assert sharedfit.plan(model, data.task) is not None
    shared = fit(model, data, hp, 4, [], seed=2)
    plain = fit_keras(_dense(data, 24, seed=2), data, hp, 4, [], seed=2)
    for key in plain:
        assert shared[key] == pytest.approx(plain[key], rel=0.02), (key, shared[key], plain[key])


def test_one_trace_serves_every_width_l2_and_dropout_of_an_architecture() -> None:
    data = _digits()
    hp = SimpleNamespace(batch_size=64)
    widths = [(8, 16, 1e-4, 0.1), (16, 32, 1e-3, 0.2), (32, 8, 1e-5, 0.4), (12, 24, 1e-2, 0.3)]
    counts = [sharedfit.traces]
    for conv, head, l2, dropout in widths:
        history = fit(_cnn(conv, head, l2, dropout), data, hp, 2, [], seed=1)
        assert len(history["val_accuracy"]) == 2
        counts.append(sharedfit.traces)
    # the first model traces its epoch and evaluation (unless an earlier test did), its widths unknown from the
    # start; every later one runs those traces
    assert counts[4] == counts[3] == counts[2] == counts[1] <= counts[0] + 2, counts


def test_trained_weights_and_batch_statistics_are_written_back_into_the_model() -> None:
    data = _digits(test_split=0.2)
    model = _cnn(16, 16, 1e-4, 0.2, seed=3)
    before = [w.copy() for w in model.get_weights()]
    history = fit(model, data, SimpleNamespace(batch_size=32), 3, [], seed=3)
    after = model.get_weights()
    assert all((a != b).any() for a, b in zip(before, after, strict=True))  # kernels, biases, BN's moving stats
    loss, accuracy = model.evaluate(data.x_val.reshape(-1, 8, 8, 1), data.y_val, verbose=0)
    assert loss == pytest.approx(history["val_loss"][-1], rel=1e-4)
    assert accuracy == pytest.approx(history["val_accuracy"][-1], abs=1e-6)
    assert int(model.optimizer.iterations.numpy()) == 3 * -(-len(data.x_train) // 32)
    tested = training.test_scores(model, data, None)
    loss, accuracy = model.evaluate(data.x_test.reshape(-1, 8, 8, 1), data.y_test, verbose=0)
    assert tested == pytest.approx({"test_loss": loss, "test_accuracy": accuracy}, rel=1e-4)


def test_models_it_does_not_cover_go_through_model_fit() -> None:
    data = _digits()
    assert sharedfit.plan(_cnn(8, 8, optimizer="rmsprop"), data.task) is None
    inputs = keras.Input((8, 8))
    recurrent = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(keras.layers.LSTM(8)(inputs)))
    assert sharedfit.plan(compiled(recurrent, "classification", "adam", 1e-3, "val_accuracy", "k"), "classification") \
        is None  # an LSTM's call reads its own width
    extra = _cnn(8, 8)
    extra.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy", "top_k_categorical_accuracy"])
    assert sharedfit.plan(extra, data.task) is None
    noisy = keras.Sequential([keras.Input((64,)), keras.layers.Dense(8, activity_regularizer="l2"),
                              keras.layers.Dense(10, activation="softmax")])
    assert sharedfit.plan(compiled(noisy, "classification", "adam", 1e-3, "val_accuracy", "k"), data.task) is None

    model, again = _cnn(8, 8, optimizer="rmsprop", seed=5), _cnn(8, 8, optimizer="rmsprop", seed=5)
    via_fit = fit(model, data, SimpleNamespace(batch_size=64), 2, [], seed=5)
    direct = fit_keras(again, data, SimpleNamespace(batch_size=64), 2, [], seed=5)
    for key in direct:
        assert via_fit[key] == pytest.approx(direct[key], rel=1e-5)


def test_a_changed_architecture_is_traced_apart() -> None:
    plain, other = _cnn(8, 8), _cnn(8, 8)
    deeper = keras.Sequential([keras.Input((64,)), keras.layers.Dense(8), keras.layers.Dense(10, activation="softmax")])
    deeper2 = keras.Sequential([keras.Input((64,)), keras.layers.Dense(8), keras.layers.Dense(8),
                                keras.layers.Dense(10, activation="softmax")])
    task = "classification"
    key = sharedfit.plan(plain, task).key
    assert sharedfit.plan(other, task).key == key
    assert sharedfit.plan(_cnn(32, 64, l2=1e-3, dropout=0.2), task).key != key  # L2 and dropout layers where none
    assert sharedfit.plan(_cnn(32, 64, l2=1e-4, dropout=0.1), task).key == sharedfit.plan(
        _cnn(16, 8, l2=1e-2, dropout=0.4), task).key
    shallow = sharedfit.plan(compiled(deeper, task, "adam", 1e-3, "val_accuracy", "k"), task)
    deep = sharedfit.plan(compiled(deeper2, task, "adam", 1e-3, "val_accuracy", "k"), task)
    assert shallow.key != deep.key
