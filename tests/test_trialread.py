"""Whole trials read as plain rows (tuner.store.trialread) on real SQLite, PostgreSQL and MariaDB: the same trials as
Optuna's ORM reads, for every listing Optuna asks for (no TensorFlow)."""

from __future__ import annotations

import warnings

import optuna
import pytest
from optuna.storages import RDBStorage
from optuna.trial import TrialState

from tests.test_postgres import mysql_url, pg_url, url  # noqa: F401 - fixtures
from tuner.store import open_storage

pytestmark = pytest.mark.zones  # run again west and east of UTC (make test)

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)


def objective(trial: optuna.Trial) -> tuple[float, float]:
    units = trial.suggest_int("units", 4, 512, log=True)
    trial.suggest_int("layers", 1, 5, step=2)
    dropout = trial.suggest_float("dropout", 0.0, 0.5, step=0.1)
    trial.suggest_float("l2", 1e-6, 1e-1, log=True)
    kind = trial.suggest_categorical("kind", ["dense", None, 3, 2.5, True])
    trial.set_user_attr("architecture", [{"units": units, "params": units * 65}])
    trial.storage.set_trial_system_attr(trial._trial_id, "tag", {"kind": kind})
    for step, value in enumerate((0.5, float("nan"), float("inf"), float("-inf"), 0.75)):
        trial.storage.set_trial_intermediate_value(trial._trial_id, step, value)  # report() is single-objective
    if trial.number % 4 == 1:
        raise optuna.TrialPruned()
    if trial.number % 4 == 2:
        raise ValueError("a failed trial")
    return (float("inf") if trial.number == 3 else dropout, -units)


def comparable(trial: optuna.trial.FrozenTrial) -> tuple:
    """Every field of the trial, NaN made comparable."""
    steps = {k: "nan" if v != v else v for k, v in trial.intermediate_values.items()}
    return (trial._trial_id, trial.number, trial.state, trial.values, trial.datetime_start, trial.datetime_complete,
            trial.params, trial.distributions, trial.user_attrs, trial.system_attrs, steps)


def test_every_listing_reads_the_trials_optuna_reads(url: str) -> None:
    storage = open_storage(url, heartbeat=False)
    study = optuna.create_study(study_name="s", storage=storage, directions=["maximize", "minimize"],
                                sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(objective, n_trials=12, catch=(ValueError,))
    running = study.ask()
    running.set_user_attr("epochs_run", 2)
    study.enqueue_trial({"units": 64}, user_attrs={"warm_start": "other"})
    other = optuna.create_study(study_name="other", storage=storage)
    other.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)

    ids = [t._trial_id for t in study.get_trials(deepcopy=False)]
    listings = [(None, set(), -1), ({TrialState.COMPLETE}, set(), -1), ({TrialState.WAITING, TrialState.RUNNING},
                set(), -1), (None, {ids[1], ids[4]}, ids[6]), (None, set(), ids[10]), (None, {ids[13]}, ids[-1])]
    for states, included, greater in listings:
        ours = storage._get_trials(study._study_id, states, included, greater)
        optunas = RDBStorage._get_trials(storage, study._study_id, states, included, greater)
        assert optunas, (states, included, greater)
        assert [comparable(t) for t in ours] == [comparable(t) for t in optunas], (states, included, greater)
        assert [list(t.params) for t in ours] == [list(t.params) for t in optunas]  # in the order suggested
    everything = storage._get_trials(study._study_id, None, set(), -1)
    assert len(everything) == 14 and {t.state for t in everything} == set(TrialState)
    assert everything[3].values == [float("inf"), -everything[3].params["units"]]
    assert everything[0].intermediate_values[2] == float("inf")
    assert everything[0].intermediate_values[1] != everything[0].intermediate_values[1]  # NaN


def test_a_study_that_does_not_exist_is_an_error_as_in_optuna(url: str) -> None:
    storage = open_storage(url, heartbeat=False)
    empty = optuna.create_study(study_name="empty", storage=storage)
    assert storage._get_trials(empty._study_id, None, set(), -1) == []
    with pytest.raises(KeyError):
        storage._get_trials(empty._study_id + 100, None, set(), -1)
    with pytest.raises(KeyError):
        RDBStorage._get_trials(storage, empty._study_id + 100, None, set(), -1)
