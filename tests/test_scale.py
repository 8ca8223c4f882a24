"""Many workers on one PostgreSQL study, through tuner's own runner and run storage, with no TensorFlow: 64 worker
processes share a 320-trial budget, and every one of them is connected at once. The budget is met exactly, trial
numbers are 0..n-1, nothing is left running or waiting, every worker exits, and the connections to the database stay
within what the workers' pools allow (docs/scaling.md, "How far it scales")."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState
from sqlalchemy import text

from tests.test_postgres import _server, assert_finished_exactly, pg_url  # noqa: F401 - fixture
from tuner.run import runner
from tuner.store import buffered, connections_per_worker, flush, open_storage

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WORKERS, BUDGET = 64, 320
STEPS, SLEEP = 3, 0.02  # a trial reports three epochs, each after a short sleep
STARTED = 60  # seconds for all workers to be connected and ready
FINISHED = 90  # seconds for the whole study once they are: past that, a worker is stuck (a deadlock)


def objective(trial: optuna.Trial) -> float:
    """A trial as tuner's objective runs one, without training: parameters stored before its epochs (which lets the
    budget lock go), a reported value per epoch."""
    x = trial.suggest_float("x", 0.0, 1.0)
    flush(trial)
    for step in range(STEPS):
        time.sleep(SLEEP)
        trial.report(x * (step + 1), step)
    return x


def work(url: str, name: str, budget: int, ready: Any) -> None:
    """One worker process: the storage a study run builds (write-back, heartbeats on), the study loaded, and
    tuner's runner on the shared budget once every worker is ready."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    storage = buffered(open_storage(url))
    study = optuna.load_study(study_name=name, storage=storage,
                              sampler=optuna.samplers.RandomSampler(seed=os.getpid()))
    storage.trials_from(study._study_id, 0)  # connected: the study read once
    ready.wait(STARTED)
    runner.run(study, objective, trials=budget, timeout=None)


class Peak:
    """The most connections to one database seen in pg_stat_activity, sampled from a thread of its own (its own
    connection goes to the server's maintenance database, so it is not counted)."""

    def __init__(self, database: str, every: float = 0.01) -> None:
        self.database, self.every, self.peak, self.samples = database, every, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        with _server("postgres") as admin:
            while not self._stop.is_set():
                count = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                                      [self.database]).fetchone()[0]
                self.peak, self.samples = max(self.peak, count), self.samples + 1
                self._stop.wait(self.every)

    def __enter__(self) -> Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def start(count: int, target: Callable[..., None], *args: Any) -> list[multiprocessing.process.BaseProcess]:
    """`count` processes forked from a server that has imported tuner's store and runner once (64 interpreters
    importing Optuna and SQLAlchemy would take longer than the study on two cores); none of them shares a
    connection, as the server never opens one."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tuner.store", "tuner.run.runner", "tests.test_scale"])
    procs = [context.Process(target=target, args=args) for _ in range(count)]
    for proc in procs:
        proc.start()
    return procs


def settle(procs: list[multiprocessing.process.BaseProcess], seconds: float) -> list[int | None]:
    """Every process's exit code, waiting at most `seconds` in all; those still running are killed (None)."""
    deadline = time.monotonic() + seconds
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
    stuck = [proc for proc in procs if proc.is_alive()]
    for proc in stuck:
        proc.kill()
        proc.join()
    return [None if proc in stuck else proc.exitcode for proc in procs]


@pytest.fixture
def database(pg_url: str) -> Iterator[tuple[str, int]]:
    """The study's database, and the server's max_connections."""
    with _server("postgres") as admin:
        limit = int(admin.execute("SHOW max_connections").fetchone()[0])
    yield pg_url, limit


def test_64_workers_share_one_budget_within_the_connection_bound(database: tuple[str, int]) -> None:
    url, limit = database
    per_worker = connections_per_worker(url)
    bound = WORKERS * per_worker
    assert bound < limit, f"{WORKERS} workers may open {bound} connections: over the server's {limit}"

    created = open_storage(url, heartbeat=False)
    optuna.create_study(study_name="scale", storage=created)
    created.engine.dispose()  # the workers' connections alone are counted

    ready = multiprocessing.get_context("forkserver").Event()
    with Peak(url.rsplit("/", 1)[1]) as seen:
        procs = start(WORKERS, work, url, "scale", BUDGET, ready)
        connected = time.monotonic() + STARTED
        while seen.peak < WORKERS and time.monotonic() < connected and all(p.exitcode in (None, 0) for p in procs):
            time.sleep(0.05)
        ready.set()
        codes = settle(procs, FINISHED)
    assert codes == [0] * WORKERS, f"workers stuck (None) or failed: {codes}"

    trials = optuna.load_study(study_name="scale", storage=open_storage(url, heartbeat=False)).get_trials()
    assert_finished_exactly(trials, BUDGET)
    assert len(trials) == BUDGET and all(t.state == TrialState.COMPLETE for t in trials)
    assert sorted(t.number for t in trials) == list(range(BUDGET))
    assert all(len(t.intermediate_values) == STEPS for t in trials)
    assert seen.samples > 10
    assert WORKERS <= seen.peak <= bound, f"peak {seen.peak} connections, bound {bound} ({per_worker} a worker)"


def test_a_worker_takes_turns_on_one_connection(database: tuple[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    """One worker whose trials outlast several heartbeat intervals: its heartbeat thread, the trials' writes and the
    budget lock share its one connection, and the heartbeats still arrive while a trial runs."""
    url, _ = database
    monkeypatch.setenv("TUNER_HEARTBEAT_INTERVAL", "1")
    monkeypatch.setenv("TUNER_GRACE_PERIOD", "3")
    created = open_storage(url, heartbeat=False)
    optuna.create_study(study_name="turns", storage=created)
    created.engine.dispose()
    storage = buffered(open_storage(url))
    study = optuna.load_study(study_name="turns", storage=storage)
    beats: list[list[Any]] = []

    def heartbeat(trial: optuna.Trial) -> Any:  # read on the worker's own connection, as the trial runs
        with storage.engine.connect() as conn:
            return conn.execute(text("SELECT heartbeat FROM trial_heartbeats WHERE trial_id = :t"),
                                {"t": trial._trial_id}).scalar()

    def long(trial: optuna.Trial) -> float:
        flush(trial)  # the first heartbeat goes with it
        seen = [heartbeat(trial)]
        for step in range(50):  # 2.5 s of reports, each stored within a second
            time.sleep(0.05)
            trial.report(float(step), step)
        beats.append(seen + [heartbeat(trial)])
        return 1.0

    with Peak(url.rsplit("/", 1)[1]) as seen:
        runner.run(study, long, trials=2, timeout=None)
    assert [t.state for t in study.get_trials()] == [TrialState.COMPLETE] * 2
    assert all(len(t.intermediate_values) == 50 for t in study.get_trials())
    assert len(beats) == 2 and all(first is not None and last > first for first, last in beats), beats
    assert seen.samples > 10 and seen.peak == connections_per_worker(url) == 1
