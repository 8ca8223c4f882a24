"""Model building: layers, units, L2, dropout and the n*m+m parameter count match the hyperparameters."""

from __future__ import annotations

import optuna
import pytest

from tuner.training.model import architecture, build_model, count_params
from tuner.record import Hyperparams, Layer
from tuner.search.space import from_params, grid, sample
from tuner.spec import parse_spec
from tests.conftest import TINY, merge


@pytest.mark.parametrize("layers", [
    (Layer(16, 0.0, 0.0),),
    (Layer(64, 0.25, 1e-3), Layer(8, 0.0, 1e-3)),
    (Layer(5, 0.1, 0.0), Layer(7, 0.2, 0.01), Layer(3, 0.3, 0.5)),
])
def test_built_model_matches_hyperparams(layers: tuple[Layer, ...]) -> None:
    hp = Hyperparams(layers=layers, activation="relu", learning_rate=1e-3, batch_size=32)
    model = build_model(hp, n_features=13, n_outputs=3, task="classification")
    dense = [layer for layer in model.layers if layer.__class__.__name__ == "Dense"]
    dropout = [layer for layer in model.layers if layer.__class__.__name__ == "Dropout"]
    assert [d.units for d in dense] == [layer.units for layer in layers] + [3]
    assert [d.rate for d in dropout] == pytest.approx([layer.dropout for layer in layers if layer.dropout > 0])
    for d, layer in zip(dense, layers):
        if layer.l2 > 0:
            assert float(d.kernel_regularizer.l2) == pytest.approx(layer.l2)
        else:
            assert d.kernel_regularizer is None
    expected, fan_in = 0, 13
    for units in [layer.units for layer in layers] + [3]:
        expected += fan_in * units + units
        fan_in = units
    assert model.count_params() == expected == count_params(hp, 13, 3)
    assert [row.params for row in architecture(hp, 13, 3)] == [d.count_params() for d in dense]


def test_regression_head_is_linear_with_one_output() -> None:
    hp = Hyperparams(layers=(Layer(8, 0.0, 0.0),), activation="tanh", learning_rate=1e-2, batch_size=16)
    model = build_model(hp, n_features=10, n_outputs=1, task="regression")
    assert model.layers[-1].units == 1
    assert model.layers[-1].activation.__name__ == "linear"
    assert model.loss == "mse"


def test_sampled_trial_has_no_values_for_missing_layers() -> None:
    spec = parse_spec(merge(TINY, {"space": {"layers": {"low": 1, "high": 3}}}))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    seen = set()
    for _ in range(20):
        trial = study.ask()
        hp = sample(trial, spec.space, spec.training)
        n = trial.params["n_layers"]
        seen.add(n)
        assert len(hp.layers) == n
        assert sorted(k for k in trial.params if k.startswith("units_")) == [f"units_{i}" for i in range(n)]
        study.tell(trial, 0.0)
        assert from_params(trial.params, spec.space, spec.training) == hp
    assert seen == {1, 2, 3}


def test_shared_dimensions_are_one_param() -> None:
    spec = parse_spec(merge(TINY, {"space": {"layers": 3, "units": {"choices": [8, 16], "per_layer": False},
                                             "dropout": 0.2}}))
    trial = optuna.create_study().ask()
    hp = sample(trial, spec.space, spec.training)
    assert set(trial.params) == {"units", "l2"}
    assert len({layer.units for layer in hp.layers}) == 1
    assert all(layer.dropout == 0.2 for layer in hp.layers)


def test_grid_lists_only_sampled_dimensions() -> None:
    spec = parse_spec(merge(TINY, {"sampler": "grid", "space": {
        "layers": [1, 2], "units": {"choices": [16, 64], "per_layer": False}, "l2": [1e-5, 1e-3],
        "dropout": {"choices": [0.0, 0.3], "per_layer": False}}}))
    assert grid(spec.space) == {"n_layers": [1, 2], "units": [16, 64], "dropout": [0.0, 0.3], "l2": [1e-5, 1e-3]}
