"""Write-back of running trials (tuner.store.writeback) on real SQLite, PostgreSQL and MariaDB: what ends up stored is
what Optuna's own storage stores, other workers see a trial's writes once flushed, and a trial failed meanwhile by
another worker is never written to (no TensorFlow)."""

from __future__ import annotations

import threading
import time
import warnings

import optuna
import pytest
from optuna.trial import TrialState

from tests.test_postgres import mysql_url, pg_url, url  # noqa: F401 - fixtures
from tuner.store import writeback
from tuner.store import open_storage
from tuner.store.writeback import BufferedStorage, buffered

pytestmark = pytest.mark.zones  # run again west and east of UTC (make test)

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)


def objective(trial: optuna.Trial) -> float:
    units = trial.suggest_int("units", 4, 512, log=True)
    dropout = trial.suggest_float("dropout", 0.0, 0.5)
    kind = trial.suggest_categorical("kind", ["dense", "conv"])
    trial.set_user_attr("architecture", [{"units": units, "params": units * 65}])
    trial.storage.set_trial_system_attr(trial._trial_id, "tag", {"kind": kind})
    if isinstance(trial.storage, BufferedStorage):
        trial.storage.flush(trial._trial_id)
    for step in range(5):
        trial.report(1.0 / (step + 1) + dropout, step)
    trial.report(float("nan"), 5)
    trial.set_user_attr("epochs_run", 6)
    return units / 512 + dropout


def stored(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    """The study's trials as a fresh, plain Optuna storage reads them from the database."""
    return optuna.load_study(study_name=name, storage=open_storage(url, heartbeat=False)).get_trials()


def comparable(trial: optuna.trial.FrozenTrial) -> tuple:
    nan_free = {k: ("nan" if v != v else v) for k, v in trial.intermediate_values.items()}
    return (trial.number, trial.state, trial.values, trial.params, trial.distributions, trial.user_attrs,
            trial.system_attrs, nan_free)


def test_stored_trials_equal_what_optuna_stores(url: str) -> None:
    plain = optuna.create_study(study_name="plain", storage=open_storage(url),
                                sampler=optuna.samplers.RandomSampler(seed=3))
    plain.optimize(objective, n_trials=4)
    mine = optuna.create_study(study_name="mine", storage=buffered(open_storage(url)),
                               sampler=optuna.samplers.RandomSampler(seed=3))
    mine.optimize(objective, n_trials=4)
    expected, got = stored(url, "plain"), stored(url, "mine")
    assert [comparable(t) for t in got] == [comparable(t) for t in expected]
    assert all(t.datetime_complete >= t.datetime_start for t in got)
    assert [comparable(t) for t in mine.get_trials()] == [comparable(t) for t in got]  # memory agrees with disk


def test_flush_makes_a_running_trials_writes_visible_to_other_workers(url: str) -> None:
    storage = buffered(open_storage(url, heartbeat=False))
    study = optuna.create_study(study_name="s", storage=storage)
    trial = study.ask()
    trial.suggest_int("units", 4, 64)
    trial.set_user_attr("seed", 7)
    seen = stored(url, "s")[0]
    assert seen.state == TrialState.RUNNING and seen.params == {} and seen.user_attrs == {}
    released = []
    storage.on_flush(trial._trial_id, lambda: released.append(True))
    storage.flush(trial._trial_id)
    seen = stored(url, "s")[0]
    assert released == [True]
    assert seen.params == trial.params and seen.user_attrs == {"seed": 7}
    study.tell(trial, 1.0)
    assert stored(url, "s")[0].state == TrialState.COMPLETE


def test_trials_created_by_concurrent_workers_are_numbered_once_each(url: str) -> None:
    optuna.create_study(study_name="s", storage=open_storage(url, heartbeat=False))
    studies = [optuna.load_study(study_name="s", storage=buffered(open_storage(url, heartbeat=False)))
               for _ in range(3)]
    made: list[int] = []

    def create(study: optuna.Study) -> None:
        for _ in range(8):
            made.append(study.ask().number)

    workers = [threading.Thread(target=create, args=(study,)) for study in studies]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seen = stored(url, "s")
    assert sorted(made) == sorted(t.number for t in seen) == list(range(24))
    assert all(t.state == TrialState.RUNNING and t.datetime_start is not None for t in seen)


def test_trials_from_a_number_are_the_tail_of_the_study_including_other_workers(url: str) -> None:
    mine = optuna.create_study(study_name="s", storage=buffered(open_storage(url, heartbeat=False)))
    mine.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    other = optuna.load_study(study_name="s", storage=buffered(open_storage(url, heartbeat=False)))
    other.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    mine._storage.expire(mine._study_id)
    tail = mine._storage.trials_from(mine._study_id, 2)
    assert [(t.number, t.state, t.params) for t in tail] == \
        [(t.number, t.state, t.params) for t in stored(url, "s")[2:]]
    assert mine._storage.trials_from(mine._study_id, 5) == []


def heartbeats(url: str) -> dict[int, object]:
    from optuna.storages._rdb import models

    table = models.TrialHeartbeatModel.__table__
    with open_storage(url, heartbeat=False).engine.connect() as conn:
        return dict(conn.execute(table.select().with_only_columns(table.c.trial_id, table.c.heartbeat)).all())


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")  # study.ask(), not optimize(): beats sent by hand
def test_the_first_heartbeat_is_stored_with_the_first_flush_and_later_ones_at_once(url: str) -> None:
    storage = buffered(open_storage(url))
    study = optuna.create_study(study_name="s", storage=storage)
    trial, other = study.ask(), study.ask()
    storage.record_heartbeat(trial._trial_id)
    assert heartbeats(url) == {}
    storage.flush(trial._trial_id)
    assert list(heartbeats(url)) == [trial._trial_id]
    storage.record_heartbeat(other._trial_id)
    storage.record_heartbeat(other._trial_id)  # a second beat before any flush: not held back
    assert sorted(heartbeats(url)) == [trial._trial_id, other._trial_id]
    first = heartbeats(url)[trial._trial_id]
    time.sleep(1.1)
    storage.record_heartbeat(trial._trial_id)
    assert heartbeats(url)[trial._trial_id] > first
    assert not storage._get_stale_trial_ids(study._study_id)


def test_reported_values_reach_the_database_while_the_trial_runs(url: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writeback, "FLUSH_SECONDS", 0.0)
    study = optuna.create_study(study_name="s", storage=buffered(open_storage(url, heartbeat=False)))
    trial = study.ask()
    trial.report(0.5, 0)
    trial.report(0.75, 1)
    assert stored(url, "s")[0].intermediate_values == {0: 0.5, 1: 0.75}


def test_a_trial_failed_by_another_worker_is_not_written(url: str) -> None:
    study = optuna.create_study(study_name="s", storage=buffered(open_storage(url, heartbeat=False)))
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    other = open_storage(url, heartbeat=False)
    other.set_trial_state_values(trial._trial_id, TrialState.FAIL)  # as a stale-trial check would
    with pytest.raises((optuna.exceptions.UpdateFinishedTrialError, ValueError)):
        study.tell(trial, 0.5)
    seen = stored(url, "s")[0]
    assert seen.state == TrialState.FAIL and seen.values is None and seen.params == {}


def test_other_workers_trials_are_seen_and_incompatible_parameters_refused(url: str) -> None:
    mine = buffered(open_storage(url))
    study = optuna.create_study(study_name="s", storage=mine)
    study.optimize(lambda t: t.suggest_int("units", 4, 64), n_trials=1)
    theirs = optuna.load_study(study_name="s", storage=open_storage(url, heartbeat=False))
    theirs.optimize(lambda t: t.suggest_int("units", 4, 64), n_trials=2)
    mine.expire(study._study_id)
    assert [t.number for t in study.get_trials()] == [0, 1, 2]
    assert all(t.state == TrialState.COMPLETE and "units" in t.params for t in study.get_trials())
    trial = optuna.load_study(study_name="s", storage=buffered(open_storage(url, heartbeat=False))).ask()
    with pytest.raises(ValueError):
        trial.suggest_float("units", 0.0, 1.0)  # stored by other trials as an integer parameter
