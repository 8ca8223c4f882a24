"""Runner: trials one after another until the study's budget or this run's time is used up.

Any number of runners (processes, machines) may share one study: counting the budget and creating the next trial
happen under the study's budget lock, so the study ends with exactly `trials` counted trials.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable

import optuna

from tuner import record
from tuner.errors import StorageError, TrialFailed
from tuner.store import caused_by_database, internals, of, reason, wait_seconds
from tuner.run.budget import BudgetTally

log = logging.getLogger("tuner.run")
POLL_SECONDS = 0.2  # how often a runner with nothing left to start looks at other workers' running trials
RECONNECT_SECONDS = 3.0  # pause after the database went away before trying again


def fail_stale(study: optuna.Study) -> None:
    """Fail the running trials of dead workers (their heartbeat is older than the grace period); each is retried."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def run(study: optuna.Study, objective: Callable[[optuna.Trial], float], *, trials: int | None,
        timeout: float | None, on_trial: Callable[[optuna.Study], None] = lambda s: None,
        worker: str | None = None) -> None:
    """Run trials until the study holds `trials` that count (a total for the study) or `timeout` seconds pass.

    When the budget is used up but other workers' trials are still running, wait for them: a trial whose worker
    died is failed after the grace period and its retry is run here. A failed trial (TrialFailed) is recorded with
    its reason and the run goes on; a lost database connection costs at most the trial in flight, and a database
    still gone after tuner.store.wait_seconds() stops the run with a StorageError; KeyboardInterrupt propagates
    after Optuna has recorded the interrupted trial. Each trial records `worker` (who ran it) as an attribute.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    patience = wait_seconds()
    down_since: float | None = None  # when the database went away, while it stays away
    storage = of(internals.storage_of(study))
    lock = storage.budget_lock(study.study_name)
    tally = BudgetTally()

    def first_released(trial: optuna.Trial) -> float:
        # The trial exists now: other workers may count it once what it wrote so far (a grid cell, its parameters)
        # is stored, at the objective's first flush; at once where the storage writes everything straight away.
        storage.on_flush(internals.trial_id(trial), lock.release)
        if worker is not None:
            trial.set_user_attr(record.WORKER, worker)
        return objective(trial)

    try:
        while deadline is None or time.monotonic() < deadline:
            try:
                lock.acquire()
                try:
                    fail_stale(study)
                    storage.expire(internals.study_id(study))  # count what the other workers did up to now
                    look = tally.look(lambda number: storage.trials_from(internals.study_id(study), number))
                    if look.waiting or trials is None or look.used < trials:
                        study.optimize(first_released, n_trials=1, catch=(TrialFailed,))
                        ran = True
                    else:
                        ran = False
                        running = look.running
                finally:
                    lock.release()
            except optuna.exceptions.UpdateFinishedTrialError:
                log.warning("trial was failed by another worker while running (no heartbeat in time); it is retried")
            except ValueError as exc:  # the same, seen by Optuna's tell
                if not str(exc).startswith("Cannot tell a"):
                    raise
                log.warning("trial was failed by another worker while running (no heartbeat in time); it is retried")
            except Exception as exc:  # a lost connection, raw or under an error Optuna raised on top of it
                if not caused_by_database(exc):
                    raise
                down_since = time.monotonic() if down_since is None else down_since
                if time.monotonic() - down_since >= patience:
                    raise StorageError(
                        f"study {study.study_name!r}: its database has been unreachable for {patience:.0f} s "
                        f"({reason(exc)}); this worker stops. Check the server and the database, then run the same "
                        f"command again (TUNER_DB_WAIT sets the wait)") from None
                log.warning("database error, retrying in %.0f s: %s", RECONNECT_SECONDS, reason(exc))
                time.sleep(RECONNECT_SECONDS)
            else:
                down_since = None
                if ran:
                    on_trial(study)
                elif not running:
                    return
                else:
                    time.sleep(POLL_SECONDS)
                    on_trial(study)
    finally:
        lock.close()
