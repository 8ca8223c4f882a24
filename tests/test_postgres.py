"""Several workers on the real PostgreSQL (127.0.0.1:5432), each test in its own database: an exact budget, a
SIGKILLed worker, the server's connections terminated mid-study; and a smoke test on MariaDB/MySQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.storages import RetryFailedTrialCallback
from optuna.trial import TrialState

from tuner.views.summary import counts_toward_budget

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.zones]
ROOT = Path(__file__).resolve().parents[1]
# Crash-safety tests start from sampled trials only (no enqueued warm-start trial), so the trial a worker is killed
# in is an ordinary one.
# seconds per trial, however fast training gets: time to catch two workers mid-trial and kill one
LONG = {"data": {"bundled": "digits"}, "training": {"epochs": 40, "batch_size": 8}, "warm_start": False}


def _server(kind: str):
    """A connection to the server's maintenance database; skip when it is down, except PostgreSQL in CI
    (`.ci/run` starts PostgreSQL; MariaDB is optional)."""
    try:
        if kind == "postgres":
            import psycopg

            return psycopg.connect("host=127.0.0.1 port=5432 dbname=postgres user=postgres", autocommit=True,
                                   connect_timeout=5)
        import pymysql

        return pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True, connect_timeout=5)
    except Exception as exc:
        if os.environ.get("CI") and kind == "postgres":
            raise
        pytest.skip(f"{kind} server on 127.0.0.1 is not running: {str(exc).splitlines()[0]}")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh database tuner_test_<random> on the local PostgreSQL, dropped afterwards."""
    name = f"tuner_test_{uuid.uuid4().hex[:10]}"
    with _server("postgres") as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with _server("postgres") as admin:  # a new connection: the test may have restarted the server
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def mysql_url() -> Iterator[str]:
    name = f"tuner_test_{uuid.uuid4().hex[:10]}"
    admin = _server("mysql")
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
    try:
        yield f"mysql+pymysql://root@127.0.0.1:3306/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store on each backend in turn: a SQLite file, a PostgreSQL database, a MariaDB database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tuner.db'}"
    else:
        yield request.getfixturevalue("pg_url" if request.param == "postgres" else "mysql_url")


def env(url: str, **extra: str) -> dict[str, str]:
    """The environment of a CLI subprocess: the store in TUNER_STORAGE, this checkout on PYTHONPATH."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "TUNER_STORAGE": url, "TF_CPP_MIN_LOG_LEVEL": "3",
            "TUNER_THREADS": "1", **extra}


def create(path: Path, url: str) -> str:
    """Create the study a study file describes in the store, without running a trial."""
    from tuner.run.session import open_session

    return open_session(str(path), storage=url).study.study_name


def worker(name: str, url: str, *args: str, **extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tuner", "worker", name, "--quiet", *args],
                            env=env(url, **extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def trials_of(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)


def training(url: str, name: str) -> int:
    """Running trials whose parameters are all sampled (the objective records `seed` right after sampling)."""
    return sum(t.state == TrialState.RUNNING and "seed" in t.user_attrs for t in trials_of(url, name))


def assert_finished_exactly(trials: list[optuna.trial.FrozenTrial], budget: int) -> None:
    """Exactly `budget` counted trials, all finished, none stuck in RUNNING or WAITING, no number twice."""
    assert sum(counts_toward_budget(t) for t in trials) == budget
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL) for t in trials)
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers)) == max(numbers) + 1


def finish(procs: list[subprocess.Popen], timeout: float = 400) -> None:
    for proc in procs:
        out, _ = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, out[-2000:]


def test_three_workers_finish_an_exact_budget(pg_url: str, write_study) -> None:
    name = create(write_study("tiny", {"training": {"epochs": 1}}), pg_url)
    procs = [worker(name, pg_url, "--trials", "7", TUNER_WORKER_INDEX=str(i)) for i in range(3)]
    finish(procs)
    trials = trials_of(pg_url, name)
    assert_finished_exactly(trials, 7)
    assert len(trials) == 7 and all(t.state == TrialState.COMPLETE for t in trials)
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 7  # workers' samplers differ


def test_start_with_workers_on_postgres(cli, write_study, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    write_study("tiny", {"training": {"epochs": 1}})
    secret = pg_url.replace("postgres@", "postgres:hunter2@")  # trust auth here: any password is accepted
    result = cli("start", "tiny", "--workers", "2", "--trials", "4", "--storage", secret)
    assert result.exit_code == 0, result.output
    assert_finished_exactly(trials_of(pg_url, "tiny"), 4)
    assert "4 counted toward the budget" in result.output
    assert "hunter2" not in result.output and "postgres:***@" in result.output
    joined = cli("worker", "tiny", env={"TUNER_STORAGE": secret})
    assert joined.exit_code == 0 and "hunter2" not in joined.output and "postgres:***@" in joined.output


def test_sigkilled_worker_trial_is_failed_and_retried(pg_url: str, write_study) -> None:
    name = create(write_study("tiny", LONG), pg_url)
    fast = {"TUNER_HEARTBEAT_INTERVAL": "1", "TUNER_GRACE_PERIOD": "3"}
    victim = worker(name, pg_url, "--trials", "4", TUNER_WORKER_INDEX="1", **fast)
    survivor = worker(name, pg_url, "--trials", "4", TUNER_WORKER_INDEX="2", **fast)
    deadline = time.monotonic() + 300
    while training(pg_url, name) < 2:  # both workers mid-trial, past sampling
        assert time.monotonic() < deadline and victim.poll() is None and survivor.poll() is None
        time.sleep(0.2)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    finish([survivor])

    trials = trials_of(pg_url, name)
    assert_finished_exactly(trials, 4)
    killed = [t for t in trials if t.state == TrialState.FAIL and "fail_reason" not in t.user_attrs]
    assert len(killed) == 1  # the trial in flight when the worker died, and nothing else
    retries = [t for t in trials if RetryFailedTrialCallback.retried_trial_number(t) == killed[0].number]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
    assert retries[0].params == killed[0].params


def test_restarted_worker_cleans_up_stale_trials_first(pg_url: str, write_study) -> None:
    name = create(write_study("tiny", LONG), pg_url)
    fast = {"TUNER_HEARTBEAT_INTERVAL": "1", "TUNER_GRACE_PERIOD": "3"}
    victim = worker(name, pg_url, "--trials", "2", **fast)
    while not any(t.state == TrialState.RUNNING for t in trials_of(pg_url, name)):
        assert victim.poll() is None
        time.sleep(0.2)
    victim.send_signal(signal.SIGKILL)  # every worker is dead now: a trial is left RUNNING
    victim.wait()
    assert [t.state for t in trials_of(pg_url, name)] == [TrialState.RUNNING]
    finish([worker(name, pg_url, "--trials", "2", "--seed", "5", **fast)])
    trials = trials_of(pg_url, name)
    assert_finished_exactly(trials, 2)
    assert trials[0].state == TrialState.FAIL and RetryFailedTrialCallback.retried_trial_number(trials[1]) == 0


def test_workers_survive_terminated_connections(pg_url: str, write_study) -> None:
    name = create(write_study("tiny", LONG), pg_url)
    fast = {"TUNER_HEARTBEAT_INTERVAL": "1", "TUNER_GRACE_PERIOD": "4"}
    procs = [worker(name, pg_url, "--trials", "6", TUNER_WORKER_INDEX=str(i), **fast) for i in range(2)]
    database = pg_url.rsplit("/", 1)[1]
    admin = _server("postgres")
    terminated = 0
    for _ in range(2):  # twice, while trials are running
        deadline = time.monotonic() + 300
        while not any(t.state == TrialState.RUNNING for t in trials_of(pg_url, name)):
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
            time.sleep(0.2)
        time.sleep(1)
        terminated += len(admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,)).fetchall())
    admin.close()
    assert terminated > 0
    finish(procs)
    trials = trials_of(pg_url, name)
    assert_finished_exactly(trials, 6)
    lost = [t for t in trials if t.state == TrialState.FAIL]
    assert len(lost) <= 4  # at most the trials in flight at each of the two cuts
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 6


@pytest.mark.skipif(not (os.environ.get("CI") or os.environ.get("TUNER_TEST_PG_RESTART")),
                    reason="restarts the machine's PostgreSQL (disturbs others using it); runs in CI or with "
                           "TUNER_TEST_PG_RESTART=1")
def test_workers_survive_a_postgres_restart_and_a_killed_worker(pg_url: str, write_study) -> None:
    """The whole story: two workers, the server restarts mid-study, then one worker is SIGKILLed mid-trial.
    Trials three times LONG's: both workers must still be training after the restart."""
    name = create(write_study("tiny", {**LONG, "training": {**LONG["training"], "epochs": 120}}), pg_url)
    fast = {"TUNER_HEARTBEAT_INTERVAL": "1", "TUNER_GRACE_PERIOD": "4"}
    procs = [worker(name, pg_url, "--trials", "8", TUNER_WORKER_INDEX=str(i), **fast) for i in range(2)]
    while not any(t.state == TrialState.RUNNING for t in trials_of(pg_url, name)):
        assert all(p.poll() is None for p in procs)
        time.sleep(0.2)
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    try:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True)
    finally:
        for _ in range(60):
            if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"]).returncode == 0:
                break
            time.sleep(1)
    deadline = time.monotonic() + 300
    while training(pg_url, name) < 2:
        assert time.monotonic() < deadline
        ended = [p for p in procs if p.poll() is not None]
        assert not ended, ended[0].communicate()[0][-2000:]
        time.sleep(0.2)
    procs[0].send_signal(signal.SIGKILL)
    procs[0].wait()
    finish(procs[1:])
    trials = trials_of(pg_url, name)
    assert_finished_exactly(trials, 8)
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 8  # nothing lost, nothing stuck


def test_tiny_study_on_mysql_with_two_workers(cli, write_study, mysql_url: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    write_study("tiny", {"training": {"epochs": 1}})
    result = cli("start", "tiny", "--workers", "2", "--trials", "3", "--storage", mysql_url)
    assert result.exit_code == 0, result.output
    assert_finished_exactly(trials_of(mysql_url, "tiny"), 3)
