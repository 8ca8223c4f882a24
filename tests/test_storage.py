"""Storage URLs, masking, SQLite set up for several processes, heartbeat settings and the budget lock (no TF)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from tuner.errors import StorageError
from tuner.store import BudgetLock
from tuner.store import engine_kwargs, heartbeat_settings, mask, open_storage

pytestmark = pytest.mark.zones  # run again west and east of UTC (make test)


@pytest.mark.parametrize("url, shown", [
    ("postgresql+psycopg://tuner:s3cr:et@db/tuner", "postgresql+psycopg://tuner:***@db/tuner"),
    ("mysql+pymysql://root:pw@127.0.0.1:3306/x", "mysql+pymysql://root:***@127.0.0.1:3306/x"),
    ("could not connect to postgresql://u:hunter2@h/d (refused)", "could not connect to postgresql://u:***@h/d (refused)"),
    ("sqlite:///tuner.db", "sqlite:///tuner.db"),
    ("postgresql://tuner@db/tuner", "postgresql://tuner@db/tuner"),
])
def test_mask_hides_passwords(url: str, shown: str) -> None:
    assert mask(url) == shown


def test_server_engines_keep_small_pools_with_timeouts() -> None:
    for url in ("postgresql+psycopg://u@h/d", "mysql+pymysql://u@h/d"):
        kwargs = engine_kwargs(url)
        assert kwargs["pool_size"] + kwargs["max_overflow"] <= 5
        assert kwargs["connect_args"]["connect_timeout"] > 0


def test_sqlite_store_uses_wal_and_a_busy_timeout(workdir: Path) -> None:
    storage = open_storage("sqlite:///tuner.db")
    with storage.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
    raw = sqlite3.connect(workdir / "tuner.db")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_sqlite_pragmas_are_set_on_tuner_engines_only(workdir: Path) -> None:
    import pickle

    from sqlalchemy import create_engine

    storage = open_storage("sqlite:///tuner.db")
    other = create_engine(f"sqlite:///{workdir / 'other.db'}")  # someone else's engine in the same process
    with other.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "delete"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # SQLite's default, FULL
    for engine in (storage.engine, pickle.loads(pickle.dumps(storage)).engine):  # also after unpickling
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 60_000


def test_unreachable_server_error_is_masked(workdir: Path) -> None:
    with pytest.raises(StorageError) as err:
        open_storage("postgresql+psycopg://tuner:topsecret@127.0.0.1:1/tuner")
    assert "topsecret" not in str(err.value) and "***" in str(err.value)


def test_heartbeat_settings_from_environment(monkeypatch: pytest.MonkeyPatch, workdir: Path) -> None:
    monkeypatch.setenv("TUNER_HEARTBEAT_INTERVAL", "1")
    monkeypatch.setenv("TUNER_GRACE_PERIOD", "3")
    assert heartbeat_settings() == (1, 3)
    storage = open_storage("sqlite:///tuner.db")
    assert storage.get_heartbeat_interval() == 1 and storage.grace_period == 3
    monkeypatch.setenv("TUNER_GRACE_PERIOD", "1")
    with pytest.raises(StorageError, match="longer than"):
        heartbeat_settings()
    monkeypatch.setenv("TUNER_GRACE_PERIOD", "soon")
    with pytest.raises(StorageError, match="TUNER_GRACE_PERIOD"):
        heartbeat_settings()


def test_sqlite_budget_lock_excludes_a_second_holder(workdir: Path) -> None:
    storage = open_storage("sqlite:///tuner.db", heartbeat=False)
    first, second = BudgetLock(storage, "s"), BudgetLock(storage, "s")
    order: list[str] = []
    first.acquire()
    thread = threading.Thread(target=lambda: (second.acquire(), order.append("second"), second.release()))
    thread.start()
    thread.join(timeout=0.5)
    assert thread.is_alive() and order == []  # blocked while the first holds it
    order.append("first released")
    first.release()
    first.release()  # idempotent
    thread.join()
    assert order == ["first released", "second"]


@pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")
def test_running_trial_without_any_heartbeat_is_failed_and_retried(workdir: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that lost the database between creating a trial and its first heartbeat leaves such a trial."""
    import time

    import optuna

    from tuner.run.runner import fail_stale

    monkeypatch.setenv("TUNER_HEARTBEAT_INTERVAL", "1")
    monkeypatch.setenv("TUNER_GRACE_PERIOD", "2")
    study = optuna.create_study(study_name="o", storage=open_storage("sqlite:///tuner.db"))
    trial = study.ask()  # RUNNING, and ask() records no heartbeat
    trial.suggest_float("x", 0, 1)
    fail_stale(study)
    assert [t.state.name for t in study.get_trials()] == ["RUNNING"]  # within the grace period: left alone
    time.sleep(3)
    fail_stale(study)
    failed, retry = study.get_trials()
    assert (failed.state.name, retry.state.name) == ("FAIL", "WAITING") and retry.params == failed.params


@pytest.mark.parametrize("url", ["sqlite:///attrs.db", "postgresql+psycopg://postgres@127.0.0.1:5432/test"])
def test_user_attributes_written_together_are_stored_and_seen_by_the_trial(workdir: Path, url: str) -> None:
    import uuid

    import optuna

    from tuner.store import set_user_attrs

    study = optuna.create_study(storage=open_storage(url, heartbeat=False), study_name=f"attrs-{uuid.uuid4().hex}")
    trial = study.ask()
    set_user_attrs(trial, {"units": [64, 32], "n_params": 6698, "note": "x"})
    set_user_attrs(trial, {"n_params": 7000})  # an existing key is overwritten
    assert trial.user_attrs == {"units": [64, 32], "n_params": 7000, "note": "x"}
    study.tell(trial, 0.5)
    stored = optuna.load_study(study_name=study.study_name, storage=url).trials[0].user_attrs
    assert stored == {"units": [64, 32], "n_params": 7000, "note": "x"}
    with pytest.raises(RuntimeError):  # a finished trial cannot change, as with trial.set_user_attr
        set_user_attrs(trial, {"late": 1})
    optuna.delete_study(study_name=study.study_name, storage=url)
