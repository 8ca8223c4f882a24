"""How far workers on one PostgreSQL study scale: trials per second for 1, 4, 16 and 64 worker processes, and where
the budget lock saturates. No TensorFlow: each trial reports a few epochs with a short sleep, run through tuner's own
runner on a worker's storage (write-back, heartbeats, the budget lock), as `tuner worker` runs it.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_scale.py                  # a fresh database on 127.0.0.1:5432
    PYTHONPATH=. .venv/bin/python benchmarks/bench_scale.py --storage postgresql+psycopg://tuner:PW@db-host/bench
    PYTHONPATH=. .venv/bin/python benchmarks/bench_scale.py --workers 1,4 --trials 100
    PYTHONPATH=. .venv/bin/python benchmarks/bench_scale.py --workers 16,64 --store tuner,optuna

`--store optuna` gives the workers Optuna's own `_CachedStorage` over the same database in place of tuner's
write-back (tuner.store.writeback), each write going to the database when it is made; rows of both, side by side,
say what the write-back is worth where many workers share one database. `--store optuna-insert` (and the other
names of benchmarks/store_pieces.py) keeps the write-back but turns off one piece of it.

Each row is a study of its own in the same database. Throughput is counted from the first trial's start to the last
trial's end as stored (process start-up left out). The lock columns come from timing each worker's acquire and
release: how long the lock is held per trial (counting the study, creating the trial, storing its parameters), what
share of the row's time (from the start signal to the last worker's end) some worker held it, the ceiling that hold
time puts on any number of workers, and how long a worker waited for it. `counting`: the part of a hold spent
counting the budget, `counted`: the trials each count went through (the finished ones at the front are counted once
and skipped after). `worker CPU`: the workers' own CPU time per trial (the database server's is not in it).
`db time` and `commits`: the database's active time and committed transactions per trial (pg_stat_database, the
server's side of what every worker shares).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import threading
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import store_pieces  # noqa: E402

STEPS, SLEEP = 3, 0.02  # a trial: three reported epochs, each after this sleep
ADMIN = "host=127.0.0.1 port=5432 dbname=postgres user=postgres"  # the local server, for the default database


def objective(trial: Any) -> float:
    from tuner.store import flush

    x = trial.suggest_float("x", 0.0, 1.0)
    flush(trial)  # as tuner's objective does before training: the budget lock is released here
    for step in range(STEPS):
        time.sleep(SLEEP)
        trial.report(x * (step + 1), step)
    return x


class TimedLock:
    """A worker's budget lock, with the time each hold lasts and each wait for it. A hold runs from the moment
    acquire() returns to the moment release() is called: two workers' holds never overlap, so their sum is at most
    the time that passed."""

    def __init__(self, lock: Any) -> None:
        self.lock, self.holds, self.waits, self._at = lock, [], [], None

    def acquire(self) -> None:
        asked = time.perf_counter()
        self.lock.acquire()
        self._at = time.perf_counter()
        self.waits.append(self._at - asked)

    def release(self) -> None:
        if self._at is not None:
            self.holds.append(time.perf_counter() - self._at)
            self._at = None
        self.lock.release()

    def close(self) -> None:
        self.release()
        self.lock.close()


def work(url: str, name: str, budget: int, store: str, ready: Any, results: Any) -> None:
    """One worker process: tuner's run storage (or Optuna's, `store` "optuna") and runner on the shared budget, once
    every worker is ready."""
    import optuna

    from tuner.run import runner
    from tuner.store import buffered, open_storage
    from tuner.store.interface import OptunaStorage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    if store == "optuna":  # the runner reaches it through tuner.store.of: an OptunaStorage made at each call
        storage, target = optuna.storages._CachedStorage(open_storage(url)), OptunaStorage
    else:
        store_pieces.apply(store)
        storage = target = buffered(open_storage(url))
    study = optuna.load_study(study_name=name, storage=storage,
                              sampler=optuna.samplers.RandomSampler(seed=os.getpid()))
    storage.get_all_trials(study._study_id, deepcopy=False)  # connected before the start
    timed: list[TimedLock] = []
    untimed = target.budget_lock

    def budget_lock(*args: Any) -> TimedLock:  # the runner's lock, timed ((self, name) on the class)
        timed.append(TimedLock(untimed(*args)))
        return timed[-1]

    target.budget_lock = budget_lock
    counting = [0.0, 0]  # seconds in the runner's count of the budget (under the lock), trials it went through
    listed = target.trials_from

    def trials_from(*args: Any) -> list[Any]:
        started = time.perf_counter()
        trials = listed(*args)
        counting[0] += time.perf_counter() - started
        counting[1] += len(trials)
        return trials

    target.trials_from = trials_from
    ready.wait(120)
    cpu = time.process_time()
    runner.run(study, objective, trials=budget, timeout=None)
    lock = timed[0]
    results.put((sum(lock.holds), len(lock.holds), sum(lock.waits), time.process_time() - cpu, *counting))


class Peak:
    """The most connections to the study's database seen in pg_stat_activity, sampled from a thread (its own
    connection left out)."""

    def __init__(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        given = make_url(url)
        self.connect = {"host": given.host or "127.0.0.1", "port": given.port or 5432, "user": given.username,
                        "password": given.password, "dbname": given.database, "autocommit": True}
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psycopg

        with psycopg.connect(**{k: v for k, v in self.connect.items() if v is not None}) as conn:
            while not self._stop.is_set():
                count = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                     "AND pid <> pg_backend_pid()").fetchone()[0]
                self.peak = max(self.peak, count)
                self._stop.wait(0.01)

    def __enter__(self) -> Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def database_totals(url: str) -> tuple[float, int]:
    """The study database's active time (ms) and committed transactions so far (pg_stat_database)."""
    import psycopg

    name = url.rsplit("/", 1)[-1].split("?")[0]
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute("SELECT pg_stat_force_next_flush()")
        active, commits = admin.execute("SELECT active_time, xact_commit FROM pg_stat_database WHERE datname = %s",
                                        (name,)).fetchone()
    return float(active), int(commits)


def row(url: str, workers: int, budget: int, store: str = "tuner") -> dict[str, float]:
    """One study worked on by `workers` processes until `budget` trials are complete."""
    import optuna

    from tuner.store import open_storage

    name = f"scale-{workers}-{uuid.uuid4().hex[:6]}"
    created = open_storage(url, heartbeat=False)
    optuna.create_study(study_name=name, storage=created)
    created.engine.dispose()
    context = multiprocessing.get_context("forkserver")
    ready, results = context.Event(), context.Queue()
    with Peak(url) as seen:
        procs = [context.Process(target=work, args=(url, name, budget, store, ready, results))
                 for _ in range(workers)]
        for proc in procs:
            proc.start()
        deadline = time.monotonic() + 120
        while seen.peak < workers and time.monotonic() < deadline:
            time.sleep(0.05)
        db_before = database_totals(url)
        ready.set()
        went = time.monotonic()
        stats = [results.get(timeout=600) for _ in procs]
        wall = time.monotonic() - went
        for proc in procs:
            proc.join(60)
    time.sleep(1.0)  # the workers' last statistics reach the server's view
    db_after = database_totals(url)
    if any(proc.exitcode != 0 for proc in procs):
        raise SystemExit(f"a worker failed: exit codes {[proc.exitcode for proc in procs]}")
    reader = open_storage(url, heartbeat=False)
    trials = optuna.load_study(study_name=name, storage=reader).get_trials(deepcopy=False)
    reader.engine.dispose()
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == budget == len(trials), (len(complete), len(trials), budget)
    span = (max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)).total_seconds()
    held, holds = sum(s[0] for s in stats), sum(s[1] for s in stats)
    return {"store": store, "db_ms": (db_after[0] - db_before[0]) / budget,
            "commits": (db_after[1] - db_before[1]) / budget, "workers": workers, "trials": budget, "seconds": span, "rate": budget / span,
            "sleep_ceiling": workers / (STEPS * SLEEP), "hold_ms": 1000 * held / budget, "busy": held / wall,
            "lock_ceiling": budget / held, "wait_ms": 1000 * sum(s[2] for s in stats) / holds,
            "cpu_ms": 1000 * sum(s[3] for s in stats) / budget, "count_ms": 1000 * sum(s[4] for s in stats) / holds,
            "counted": sum(s[5] for s in stats) / holds, "peak": seen.peak}


def fresh_database() -> tuple[str, str]:
    import psycopg

    name = f"tuner_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", help="a PostgreSQL URL (default: a fresh database on 127.0.0.1:5432, dropped "
                                          "afterwards)")
    parser.add_argument("--workers", default="1,4,16,64", help="worker counts, one row each (default 1,4,16,64)")
    parser.add_argument("--trials", type=int, default=320, help="trials per row (default 320)")
    parser.add_argument("--store", default="tuner", help="tuner (its write-back), optuna (Optuna's _CachedStorage), "
                                                         "a piece of benchmarks/store_pieces.py turned off, or "
                                                         "several, comma-separated: a row of each, side by side")
    args = parser.parse_args()
    import optuna

    from tuner.store import connections_per_worker, mask

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    multiprocessing.get_context("forkserver").set_forkserver_preload(["tuner.store", "tuner.run.runner", "optuna"])
    created, url = fresh_database() if args.storage is None else (None, args.storage)
    try:
        rows = [row(url, int(n), args.trials, store) for n in args.workers.split(",")
                for store in args.store.split(",")]
    finally:
        if created is not None:
            drop_database(created)
    print(f"store: {mask(url)}{' (created and dropped)' if created else ''}, cores: {os.cpu_count()}, "
          f"trial: {STEPS} reports after {SLEEP * 1000:.0f} ms sleeps each ({STEPS * SLEEP * 1000:.0f} ms a trial), "
          f"{connections_per_worker(url)} connection(s) a worker")
    print(f"{'store':>17} {'workers':>7} {'trials':>6} {'time':>7} {'trials/s':>9} {'sleep ceiling':>14} {'lock held':>10} "
          f"{'lock busy':>9} {'lock ceiling':>13} {'lock wait':>10} {'counting':>9} {'counted':>8} "
          f"{'worker CPU':>11} {'db time':>8} {'commits':>7} {'connections':>11}")
    for r in rows:
        print(f"{r['store']:>17} {r['workers']:>7} {r['trials']:>6} {r['seconds']:>6.2f}s {r['rate']:>9.1f} "
              f"{r['sleep_ceiling']:>12.0f}/s {r['hold_ms']:>8.2f}ms {100 * r['busy']:>8.0f}% "
              f"{r['lock_ceiling']:>11.0f}/s {r['wait_ms']:>8.1f}ms {r['count_ms']:>7.2f}ms {r['counted']:>8.0f} "
              f"{r['cpu_ms']:>9.1f}ms {r['db_ms']:>6.2f}ms {r['commits']:>7.1f} {r['peak']:>11}")
    alone, most = min(rows, key=lambda r: r["workers"]), max(rows, key=lambda r: r["workers"])
    print(f"lock held {alone['hold_ms']:.2f} ms a trial with {alone['workers']} worker(s): a ceiling of "
          f"~{alone['lock_ceiling']:.0f} trials/s on one study however many workers; with {most['workers']} it is "
          f"held {most['hold_ms']:.2f} ms a trial and busy {100 * most['busy']:.0f}% of the time")

if __name__ == "__main__":
    main()
