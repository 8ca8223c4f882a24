"""The objective against a real SQLite study: pruning through the Keras callback, completion, NaN failures."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from tuner.data import load_data
from tuner.errors import TrialFailed
from tuner.search.metric import resolve_metric
from tuner.search.objective import Objective
from tuner.spec import parse_spec
from tests.conftest import TINY, merge

pytestmark = pytest.mark.slow


class PruneAt(optuna.pruners.BasePruner):
    """Prunes every trial once it has reported `step` (None: never prunes)."""

    def __init__(self, step: int | None) -> None:
        self.step = step

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return self.step is not None and trial.last_step is not None and trial.last_step >= self.step


def run_one(tmp_path: Path, changes: dict, pruner: optuna.pruners.BasePruner) -> optuna.trial.FrozenTrial:
    spec = parse_spec(merge(TINY, changes))
    data = load_data(spec.data, spec.task)
    metric = resolve_metric(spec.training, data.task)
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}", direction=metric.direction,
                                pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(Objective(spec, data, metric, seed=0), n_trials=1, catch=(TrialFailed,))
    return study.trials[0]


def test_deterministic_pruner_prunes_through_the_callback(tmp_path: Path) -> None:
    trial = run_one(tmp_path, {"training": {"epochs": 5}}, PruneAt(1))
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert sorted(trial.intermediate_values) == [0, 1]
    assert trial.user_attrs["epochs_run"] == 2


def test_complete_trial_records_its_story(tmp_path: Path) -> None:
    trial = run_one(tmp_path, {"training": {"epochs": 4}}, PruneAt(None))
    assert trial.state == optuna.trial.TrialState.COMPLETE
    attrs = trial.user_attrs
    assert sorted(trial.intermediate_values) == [0, 1, 2, 3]
    assert attrs["epochs_run"] == 4
    assert trial.value == max(trial.intermediate_values.values())
    assert trial.value == attrs["val_accuracy"]
    assert attrs["overfit_gap"] == pytest.approx(attrs["train_accuracy"] - attrs["val_accuracy"])
    assert len(attrs["units"]) == trial.params["n_layers"]
    assert attrs["n_params"] == sum(row["params"] for row in attrs["architecture"])
    assert attrs["train_seconds"] > 0


def test_nan_loss_fails_the_trial_with_its_reason(tmp_path: Path) -> None:
    changes = {"data": {"bundled": "diabetes"}, "task": "regression",
               "space": {"layers": 2, "units": 64, "l2": 0, "dropout": 0},
               "training": {"epochs": 5, "optimizer": "sgd", "learning_rate": 50.0, "metric": "val_mae"}}
    trial = run_one(tmp_path, changes, PruneAt(None))
    assert trial.state == optuna.trial.TrialState.FAIL
    reason = trial.user_attrs["fail_reason"]
    assert "became nan" in reason or "became inf" in reason


def test_regression_minimizes_val_mae(tmp_path: Path) -> None:
    changes = {"data": {"bundled": "diabetes"}, "task": "regression", "training": {"epochs": 3, "metric": "val_mae"}}
    trial = run_one(tmp_path, changes, PruneAt(None))
    assert trial.state == optuna.trial.TrialState.COMPLETE
    assert trial.value == min(trial.intermediate_values.values())
    assert "train_mae" in trial.user_attrs
