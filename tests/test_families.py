"""Conv2D and LSTM/GRU width tuning: parameter counts match Keras, data shapes are checked, studies run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tuner.data import load_data
from tuner.training.model import build_model, count_params
from tuner.spec import DataSpec
from tuner.record import Hyperparams, Layer

REPO = Path(__file__).resolve().parents[1]
LOAD_CSV = str(REPO / "studies" / "data" / "load.csv")


def _hp(family: str, units: list[int], l2: float = 1e-4) -> Hyperparams:
    return Hyperparams(layers=tuple(Layer(u, 0.1, l2) for u in units), activation="relu", learning_rate=1e-3,
                       batch_size=32, family=family)


@pytest.mark.parametrize("family, shape, units", [("conv2d", (8, 8, 1), [6]), ("conv2d", (8, 8, 1), [5, 7]),
                                                  ("lstm", (6, 2), [3]), ("lstm", (6, 2), [4, 3]),
                                                  ("gru", (6, 2), [5, 2])])
def test_counted_parameters_match_the_built_model(family: str, shape: tuple, units: list[int]) -> None:
    n_features = int(np.prod(shape))
    hp = _hp(family, units)
    model = build_model(hp, n_features, 3, "classification", shape=shape)
    assert model.count_params() == count_params(hp, n_features, 3, shape)
    assert any(layer.name == f"{family}_0" for layer in model.layers)
    out = model(np.zeros((2, n_features), dtype="float32"))
    assert tuple(out.shape) == (2, 3)


def test_windows_of_a_series_predict_the_next_row() -> None:
    spec = DataSpec(csv=LOAD_CSV, target="load", window=5, scale="none", scale_target=False,
                    validation_split=0.25)
    data = load_data(spec, "regression")
    raw = np.genfromtxt(LOAD_CSV, delimiter=",", names=True)
    assert data.shape == (5, 2) and data.n_features == 10
    assert len(data.x_train) + len(data.x_val) + len(data.x_test) == len(raw) - 5
    # the latest windows are the test set, the ones before them validation; a window's rows are the 5 hours
    # before its target
    assert data.y_test[-1] == pytest.approx(raw["load"][-1])
    assert data.x_test[-1].reshape(5, 2)[:, 1] == pytest.approx(raw["load"][-6:-1])
    assert data.y_val[-1] == pytest.approx(raw["load"][-1 - len(data.x_test)])


def test_a_family_without_a_matching_shape_is_refused(cli, write_study) -> None:
    write_study("tiny", {"space": {"family": "conv2d"}})
    result = cli("validate", "tiny")
    assert result.exit_code == 2 and "data.shape" in result.output
    write_study("tiny", {"data": {"bundled": "digits", "shape": [8, 7, 1]}})
    result = cli("validate", "tiny")
    assert result.exit_code == 2 and "holds 56 values but each row has 64" in result.output


@pytest.mark.slow
@pytest.mark.parametrize("changes, family", [
    ({"data": {"bundled": "digits", "shape": [8, 8, 1]}, "space": {"family": "conv2d"}}, "conv2d"),
    ({"data": {"bundled": None, "csv": LOAD_CSV, "target": "load", "window": 8}, "task": "regression",
      "space": {"family": "lstm"}}, "lstm"),
    ({"data": {"bundled": None, "csv": LOAD_CSV, "target": "load", "window": 8}, "task": "regression",
      "space": {"family": "gru"}}, "gru"),
])
def test_study_files_run_for_each_family(cli, write_study, changes: dict, family: str) -> None:
    write_study("tiny", {**changes, "training": {"epochs": 1}, "budget": {"trials": 2}})
    result = cli("start", "tiny")
    assert result.exit_code == 0, result.output
    best = json.loads(cli("best", "tiny", "--json").output)
    assert best["architecture"][0]["layer"] == f"{family}_0"
    assert best["attrs"]["n_params"] == sum(row["params"] for row in best["architecture"])


@pytest.mark.parametrize("name", ["digits_conv", "load_lstm"])
def test_shipped_study_files_validate(cli, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = cli("validate", name)
    assert result.exit_code == 0, result.output
