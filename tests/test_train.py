"""tuner's training path on its own Dense stacks against plain `model.fit`: same results within tolerance, same
callbacks, same failures.

Tolerance: the two paths sum in different orders, so curves are not identical. After a few epochs
(20 on iris, whose 38 validation rows make one row worth 0.026)
on the same architecture, seed and initial weights, the final validation metric agrees within 0.05 (accuracy) or
15% (regression MAE), and every epoch's training and validation loss within 15% + 0.05 (small losses late in training differ
more in relative terms).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest

from tuner.backend import load_keras
from tuner.data import load_data
from tuner.search.metric import resolve_metric
from tuner.search.objective import Objective
from tuner.spec import DataSpec, load_spec
from tuner.record import Hyperparams, Layer

load_keras()
import keras  # noqa: E402

from tuner.training import sharedfit  # noqa: E402
from tuner.training.model import build_model  # noqa: E402
from tuner.training.fit import fit, fit_keras  # noqa: E402


def _model(hp: Hyperparams, data: Any, seed: int, optimizer: str = "adam") -> keras.Model:
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    return build_model(hp, data.n_features, data.n_outputs, data.task, optimizer)


def _close(a: list[float], b: list[float], rel: float) -> bool:
    return all(abs(x - y) <= rel * max(abs(x), abs(y)) + 0.05 for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize(("bundled", "task", "metric", "tolerance", "epochs"), [
    ("digits", "classification", "val_accuracy", 0.05, 5),
    ("iris", "classification", "val_accuracy", 0.05, 20),  # 38 validation rows: wait until both have converged
    ("diabetes", "regression", "val_mae", None, 5),
])
def test_tuners_path_agrees_with_model_fit(bundled: str, task: str, metric: str, tolerance: float | None,
                                         epochs: int) -> None:
    data = load_data(DataSpec(bundled=bundled, seed=0, scale="minmax", test_split=0), task)  # every row, as before
    hp = Hyperparams((Layer(64, 0.2, 1e-4), Layer(32, 0.0, 1e-4)), "relu", 1e-2, 32)
    fast_model = _model(hp, data, seed=3)
    assert sharedfit.plan(fast_model, data.task) is not None
    fast = fit(fast_model, data, hp, epochs, [], seed=3)
    plain = fit_keras(_model(hp, data, seed=3), data, hp, epochs, [])

    assert set(fast) == set(plain)
    assert all(len(values) == epochs for values in fast.values())
    limit = tolerance if tolerance is not None else 0.15 * plain[metric][-1]
    assert abs(fast[metric][-1] - plain[metric][-1]) <= limit, (fast[metric], plain[metric])
    assert _close(fast["loss"], plain["loss"], 0.15), (fast["loss"], plain["loss"])
    assert _close(fast["val_loss"], plain["val_loss"], 0.15), (fast["val_loss"], plain["val_loss"])


def test_trained_weights_are_written_back_into_the_model() -> None:
    data = load_data(DataSpec(bundled="iris", seed=0), "classification")
    hp = Hyperparams((Layer(16, 0.0, 1e-3),), "tanh", 1e-2, 16)
    model = _model(hp, data, seed=1)
    before = [w.copy() for w in model.get_weights()]
    history = fit(model, data, hp, 3, [], seed=1)
    assert any((a != b).any() for a, b in zip(before, model.get_weights(), strict=True))
    loss, accuracy = model.evaluate(data.x_val, data.y_val, verbose=0)
    assert loss == pytest.approx(history["val_loss"][-1], rel=1e-3)
    assert accuracy == pytest.approx(history["val_accuracy"][-1], abs=1e-6)
    assert int(model.optimizer.iterations.numpy()) == 3 * -(-len(data.x_train) // 16)


def test_unsupported_models_fall_back_to_model_fit_with_the_same_results() -> None:
    data = load_data(DataSpec(bundled="iris", seed=0), "classification")
    hp = Hyperparams((Layer(8, 0.0, 1e-4),), "relu", 1e-2, 16)
    for optimizer in ("rmsprop", "adamw"):
        assert sharedfit.plan(_model(hp, data, 0, optimizer), data.task) is None

    via_fit = fit(_model(hp, data, 5, "rmsprop"), data, hp, 3, [], seed=5)
    direct = fit_keras(_model(hp, data, 5, "rmsprop"), data, hp, 3, [], seed=5)
    assert via_fit.keys() == direct.keys()
    for key in direct:
        assert via_fit[key] == pytest.approx(direct[key], rel=1e-5)


class PruneAt(optuna.pruners.BasePruner):
    """Prunes every trial once it has reported `step`."""

    def __init__(self, step: int) -> None:
        self.step = step

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return trial.last_step is not None and trial.last_step >= self.step


def _objective(write_study, changes: dict[str, Any]) -> Objective:
    path = write_study("t", changes)
    spec = load_spec(Path(path))
    data = load_data(spec.data, spec.task, Path(path).parent)
    return Objective(spec, data, resolve_metric(spec.training, data.task), seed=0)


def test_pruning_goes_through_the_keras_callback(write_study, workdir: Path) -> None:
    objective = _objective(write_study, {"training": {"epochs": 6, "batch_size": 32}})
    study = optuna.create_study(storage=f"sqlite:///{workdir / 'p.db'}", study_name="p", direction="maximize",
                                pruner=PruneAt(2))
    study.optimize(objective, n_trials=2)
    for trial in study.trials:
        assert trial.state == optuna.trial.TrialState.PRUNED
        assert trial.user_attrs["epochs_run"] == 3
        assert sorted(trial.intermediate_values) == [0, 1, 2]


def test_early_stopping_is_honoured(write_study, workdir: Path) -> None:
    objective = _objective(write_study, {"training": {"epochs": 40, "batch_size": 32, "patience": 1,
                                                      "learning_rate": 1e-5}})
    study = optuna.create_study(storage=f"sqlite:///{workdir / 'e.db'}", study_name="e", direction="maximize")
    study.optimize(objective, n_trials=1)
    assert study.trials[0].state == optuna.trial.TrialState.COMPLETE
    assert study.trials[0].user_attrs["epochs_run"] < 40


def test_nan_loss_fails_the_trial_with_the_reason(write_study, workdir: Path) -> None:
    from tuner.errors import TrialFailed

    objective = _objective(write_study, {"training": {"epochs": 3, "batch_size": 32, "learning_rate": 1e35}})
    study = optuna.create_study(storage=f"sqlite:///{workdir / 'n.db'}", study_name="n", direction="maximize")
    study.optimize(objective, n_trials=1, catch=(TrialFailed,))
    trial = study.trials[0]
    assert trial.state == optuna.trial.TrialState.FAIL
    assert "became nan" in trial.user_attrs["fail_reason"]
