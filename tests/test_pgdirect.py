"""The direct PostgreSQL connection the budget lock uses (tuner.store.postgres), and the trial insert and state listing
(tuner.store.schema), on the real server: errors arrive as SQLAlchemy's, a terminated or failed connection is
replaced, the kept connection is shared by every thread, a worker's borrowed one is given back (no TensorFlow)."""

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


def test_a_failed_statement_drops_the_connection(direct: DirectConnection) -> None:
    pid = backend_pid(direct)
    with pytest.raises(ProgrammingError):
        direct.rows("SELECT * FROM missing WHERE x = %s", [1])
    assert backend_pid(direct) != pid  # a connection after an error is not reused
    assert direct.rows("SELECT %s", [2]) == [(2,)]


def test_every_thread_shares_the_kept_connection(direct: DirectConnection) -> None:
    mine = backend_pid(direct)
    seen: list[int] = []
    thread = threading.Thread(target=lambda: seen.append(backend_pid(direct)))
    thread.start()
    thread.join()
    assert seen == [mine]


def test_a_borrowed_connection_is_given_back_after_each_statement(pg_url: str) -> None:
    engine = open_storage(pg_url, heartbeat=False).engine
    borrowed = DirectConnection(engine, keep=False)
    borrowed.rows("SELECT 1")
    assert engine.pool.checkedout() == 0
    borrowed.close()


def test_new_trials_are_numbered_in_order_and_a_deleted_study_is_a_key_error(pg_url: str) -> None:
    storage = open_storage(pg_url, heartbeat=False)
    study = optuna.create_study(study_name="numbered", storage=storage)
    study.optimize(lambda t: 1.0, n_trials=2)  # two trials stored by Optuna itself
    now = datetime.datetime.now()
    made = [schema.insert_trial(storage.engine, study._study_id, now) for _ in range(3)]
    assert [number for _, number in made] == [2, 3, 4]
    trials = optuna.load_study(study_name="numbered", storage=pg_url).get_trials()
    assert [(t.number, t.state) for t in trials[2:]] == [(n, TrialState.RUNNING) for n in (2, 3, 4)]
    with storage.engine.connect() as conn:
        assert sorted(schema.trial_states(conn, study._study_id, made[0][0], [made[0][0]])) == \
            [(trial_id, TrialState.RUNNING) for trial_id, _ in made]
    optuna.delete_study(study_name="numbered", storage=pg_url)
    with pytest.raises(KeyError):
        schema.insert_trial(storage.engine, study._study_id, now)


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
