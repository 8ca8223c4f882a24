"""Local workers on a real SQLite file: `tuner start --workers`, and `tuner worker` joining from the store alone."""

from __future__ import annotations

import csv
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from tests.conftest import TINY, merge
from tests.test_postgres import ROOT, assert_finished_exactly, create, pg_url, trials_of, worker  # noqa: F401
from tuner.run.workers import threads_per_worker, worker_command

pytestmark = pytest.mark.zones  # run again west and east of UTC (make test)

EPOCH = {"training": {"epochs": 1}}


def test_threads_are_divided_between_workers() -> None:
    assert threads_per_worker(2, cores=16) == 8
    assert threads_per_worker(4, cores=2) == 1
    assert threads_per_worker(3, cores=8) == 2


def test_worker_command_is_a_real_cli_command(cli) -> None:
    cmd = worker_command("digits", trials=5, timeout=60.0, seed=1)
    assert cmd[1:4] == ["-m", "tuner", "worker"]
    help_text = cli("worker", "--help").output
    for option in (part for part in cmd if part.startswith("--")):
        assert option in help_text


@pytest.mark.slow
def test_start_with_two_workers_on_sqlite(cli, write_study, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    write_study("tiny", EPOCH)
    result = cli("start", "tiny", "--workers", "2", "--trials", "5")
    assert result.exit_code == 0, result.output
    assert "locked" not in result.output
    trials = optuna.load_study(study_name="tiny", storage="sqlite:///tuner.db").get_trials()
    assert_finished_exactly(trials, 5)
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert sqlite3.connect(workdir / "tuner.db").execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.slow
def test_a_grid_is_covered_once_by_two_workers_and_a_resume(cli, write_study, workdir: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Every process orders the grid the same way (workers' and resumed runs' seeds differ only for the other
    samplers), so the cells are split between them, never repeated."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    write_study("grid", {"sampler": "grid", "training": {"epochs": 1}, "budget": {"trials": 12},
                         "space": {"layers": [1, 2], "units": {"choices": [4, 8, 16], "per_layer": False},
                                   "dropout": {"choices": [0.0, 0.2], "per_layer": False}, "l2": 0}})
    assert cli("start", "grid", "--trials", "3").exit_code == 0
    result = cli("start", "grid", "--workers", "2")
    assert result.exit_code == 0, result.output
    trials = optuna.load_study(study_name="grid", storage="sqlite:///tuner.db").get_trials()
    cells = [tuple(sorted(t.params.items())) for t in trials]
    assert len(trials) == 12 and len(set(cells)) == 12


def _worker_processes(name: str) -> list[str]:
    found = subprocess.run(["pgrep", "-af", f"tuner worker {name} "], capture_output=True, text=True).stdout
    return [line for line in found.splitlines() if "pgrep" not in line]


@pytest.mark.slow
def test_start_with_workers_refused_leaves_the_study_and_no_worker_behind(cli, write_study, workdir: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The other workers start before the study file is checked against the store, but wait for a go."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    write_study("tiny", EPOCH)
    assert cli("start", "tiny", "--trials", "1").exit_code == 0
    write_study("tiny", {"training": {"epochs": 2}})  # a different definition under the same name
    result = cli("start", "tiny", "--workers", "2", "--trials", "4")
    assert result.exit_code != 0 and "different definition" in result.output and "Traceback" not in result.output
    assert len(optuna.load_study(study_name="tiny", storage="sqlite:///tuner.db").trials) == 1
    assert _worker_processes("tiny") == []


@pytest.mark.slow
def test_a_held_worker_leaves_quietly_without_a_go(workdir: Path) -> None:
    cmd = worker_command("tiny", trials=2, timeout=None, seed=None) + ["--go-on-stdin"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TUNER_STORAGE": f"sqlite:///{workdir / 'tuner.db'}"}
    done = subprocess.run(cmd, env=env, input="", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (workdir / "tuner.db").exists()  # it never opened the store


def test_worker_for_an_unknown_study_says_so(cli, workdir: Path) -> None:
    create_result = cli("worker", "nope", "--storage", f"sqlite:///{workdir / 'tuner.db'}")
    assert create_result.exit_code == 2
    assert "study 'nope' not found" in create_result.output and "Traceback" not in create_result.output


def _iris_csv(path: Path) -> None:
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["a", "b", "c", "d", "species"])
        out.writerows([*row, int(label)] for row, label in zip(x, y))


@pytest.mark.slow
def test_worker_joins_from_the_store_alone(cli, write_study, workdir: Path, tmp_path_factory,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _iris_csv(workdir / "studies" / "data" / "iris.csv")
    url = f"sqlite:///{workdir / 'tuner.db'}"
    study = {**merge(TINY, EPOCH), "data": {"csv": "data/iris.csv", "target": "species"}, "budget": {"trials": 2}}
    name = create(write_study("flowers", text=yaml.safe_dump(study)), url)
    elsewhere = tmp_path_factory.mktemp("other-machine")  # no study file, no data next to it
    (workdir / "studies" / "data" / "iris.csv").rename(elsewhere / "iris.csv")
    monkeypatch.chdir(elsewhere.parent)

    def worker(*args: str) -> subprocess.CompletedProcess:  # a fresh process, as on another machine
        return subprocess.run([sys.executable, "-m", "tuner", "worker", name, *args], capture_output=True,
                              text=True, env={**os.environ, "PYTHONPATH": str(ROOT), "TUNER_STORAGE": url})

    queued = [(t.number, t.state) for t in optuna.load_study(study_name=name, storage=url).trials]  # warm start
    missing = worker()
    assert missing.returncode == 2
    assert "data/iris.csv not found on this machine" in missing.stderr and "--data-dir" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert [(t.number, t.state) for t in optuna.load_study(study_name=name, storage=url).trials] == queued

    (elsewhere / "data").mkdir()
    (elsewhere / "iris.csv").rename(elsewhere / "data" / "iris.csv")
    joined = worker("--data-dir", str(elsewhere), "--quiet")
    assert joined.returncode == 0, joined.stderr
    trials = optuna.load_study(study_name=name, storage=url).get_trials()
    assert_finished_exactly(trials, 2)  # the stored budget


@pytest.mark.slow
def test_worker_follows_the_budget_start_set(cli, write_study, workdir: Path) -> None:
    write_study("tiny", EPOCH)
    assert cli("start", "tiny", "--trials", "1").exit_code == 0
    result = cli("worker", "tiny")  # the file says 3, but the study's budget is now 1: nothing left to run
    assert result.exit_code == 0, result.output
    assert len(optuna.load_study(study_name="tiny", storage="sqlite:///tuner.db").trials) == 1
    assert cli("start", "tiny", "--trials", "2").exit_code == 0
    assert len(optuna.load_study(study_name="tiny", storage="sqlite:///tuner.db").trials) == 2


@pytest.mark.postgres
@pytest.mark.slow
def test_worker_whose_database_is_dropped_stops_with_a_message(pg_url: str, write_study) -> None:
    """A database gone for good (dropped, its server gone) is waited for TUNER_DB_WAIT seconds, not for ever."""
    import psycopg

    study = {**merge(TINY, {"training": {"epochs": 150, "batch_size": 8}}), "data": {"bundled": "digits"},
             "warm_start": False, "budget": {"trials": 20}}
    name = create(write_study("doomed", text=yaml.safe_dump(study)), pg_url)
    proc = worker(name, pg_url, TUNER_DB_WAIT="3", TUNER_HEARTBEAT_INTERVAL="1", TUNER_GRACE_PERIOD="3")
    deadline = time.monotonic() + 120
    while not any(t.state == TrialState.RUNNING for t in trials_of(pg_url, name)):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    with psycopg.connect("host=127.0.0.1 port=5432 dbname=postgres user=postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{pg_url.rsplit("/", 1)[1]}" WITH (FORCE)')
    dropped = time.monotonic()
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2, out[-2000:]
    assert "its database has been unreachable for 3 s" in out and "this worker stops" in out
    assert "Traceback" not in out
    assert time.monotonic() - dropped < 60  # a few waits of 3 s, not the default minute, not for ever
