"""The direct PostgreSQL connection (tuner.store.postgres) and the statements sent on it (tuner.store.schema), on the real
server: errors arrive as SQLAlchemy's, a terminated connection is replaced, a pipeline is one transaction, other
threads use connections of their own (no TensorFlow)."""

from __future__ import annotations

import datetime
import threading
import warnings
from collections.abc import Iterator

import optuna
import pytest
from optuna.trial import TrialState
from sqlalchemy.exc import OperationalError, ProgrammingError

from tests.test_postgres import _server, pg_url  # noqa: F401 - fixture
from tuner.store import schema
from tuner.store import BudgetLock
from tuner.store.postgres import DirectConnection
from tuner.store import open_storage

pytestmark = [pytest.mark.postgres, pytest.mark.zones]
optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)


@pytest.fixture
def direct(pg_url: str) -> Iterator[DirectConnection]:
    conn = DirectConnection(open_storage(pg_url, heartbeat=False).engine)
    yield conn
    conn.close()


def backend_pid(conn: DirectConnection) -> int:
    return conn.rows("SELECT pg_backend_pid()")[0][0]


def test_the_connection_is_kept_and_replaced_after_the_server_ends_it(direct: DirectConnection) -> None:
    pid = backend_pid(direct)
    assert backend_pid(direct) == pid  # the same session, statement after statement
    admin = _server("postgres")
    assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
    admin.close()
    with pytest.raises(OperationalError):  # what SQLAlchemy raises for a lost connection: retried by the callers
        direct.rows("SELECT 1")
    assert backend_pid(direct) not in (pid, None)


def test_an_error_in_a_pipeline_keeps_nothing_of_its_transaction(direct: DirectConnection) -> None:
    direct.rows("CREATE TEMPORARY TABLE IF NOT EXISTS kept (x int)")  # lives as long as the session
    direct.rows("INSERT INTO kept VALUES (1)")
    pid = backend_pid(direct)
    with pytest.raises(ProgrammingError):
        direct.pipeline([("BEGIN", None), ("INSERT INTO kept VALUES (%s)", [2]), ("SELECT * FROM missing", None),
                         ("COMMIT", None)])
    assert backend_pid(direct) != pid  # a connection left in a failed transaction is not reused
    assert direct.pipeline([("SELECT 1", None), ("SELECT 2", None)]) == [[(1,)], [(2,)]]


def test_other_threads_use_connections_of_their_own(direct: DirectConnection) -> None:
    mine = backend_pid(direct)
    seen: list[int] = []
    thread = threading.Thread(target=lambda: seen.append(backend_pid(direct)))
    thread.start()
    thread.join()
    assert seen and seen[0] != mine
    assert backend_pid(direct) == mine


def test_new_trials_are_numbered_in_order_and_a_deleted_study_is_a_key_error(pg_url: str,
                                                                           direct: DirectConnection) -> None:
    storage = open_storage(pg_url, heartbeat=False)
    study = optuna.create_study(study_name="numbered", storage=storage)
    study.optimize(lambda t: 1.0, n_trials=2)  # two trials stored by Optuna itself
    now = datetime.datetime.now()
    made = [schema.pg_insert_trial(direct, study._study_id, now) for _ in range(3)]
    assert [number for _, number in made] == [2, 3, 4]
    trials = optuna.load_study(study_name="numbered", storage=pg_url).get_trials()
    assert [(t.number, t.state) for t in trials[2:]] == [(n, TrialState.RUNNING) for n in (2, 3, 4)]
    assert schema.pg_trial_states(direct, study._study_id, made[0][0], [made[0][0]]) == \
        [(trial_id, TrialState.RUNNING) for trial_id, _ in made]
    optuna.delete_study(study_name="numbered", storage=pg_url)
    with pytest.raises(KeyError):
        schema.pg_insert_trial(direct, study._study_id, now)


def test_the_budget_lock_is_released_from_any_thread_and_survives_a_lost_session(pg_url: str) -> None:
    storage = open_storage(pg_url, heartbeat=False)
    first, second = BudgetLock(storage, "s"), BudgetLock(storage, "s")
    first.acquire()
    got = threading.Event()
    waiter = threading.Thread(target=lambda: (second.acquire(), got.set()))
    waiter.start()
    assert not got.wait(0.5)  # held by `first`
    threading.Thread(target=first.release).start()  # released from another thread than the one that took it
    assert got.wait(10)
    waiter.join()
    pid = second._direct.rows("SELECT pg_backend_pid()")[0][0]
    admin = _server("postgres")
    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))  # the server drops the session, and its lock
    admin.close()
    second.release()  # nothing to raise: the lock went with the session
    first.acquire()  # and is free
    first.close()
    second.close()
