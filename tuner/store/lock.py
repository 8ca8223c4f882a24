"""The budget lock: held from counting a study's trials until the next trial exists, so that workers on any
number of machines never start more trials than the budget allows.

PostgreSQL uses a session advisory lock (one round trip to take it, one to release it), MySQL/MariaDB `GET_LOCK`,
SQLite a file lock beside the database file. Release is idempotent: the objective releases it at its first flush,
the runner again after the trial.

On PostgreSQL the lock keeps a connection of its own, except in a worker's storage, which has one connection
(tuner.store.database.engine_kwargs): the lock is then taken on that connection's session, which every statement of
the worker shares. Its pool never opens a second connection while the first lives, so the release reaches the session
that took the lock; a lost connection ends the session, and the lock with it, as before. The session would let a
second lock object of this process take the lock again (advisory locks are re-entrant), so locks of one storage and
study also take a lock of this process first.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import threading
import weakref
from pathlib import Path
from typing import Any

from optuna.storages import RDBStorage
from sqlalchemy import text

from tuner.store import schema
from tuner.store.database import Database
from tuner.store.postgres import DirectConnection

# engine -> study key -> this process's lock, for the locks that share their storage's one session
_TURNS: weakref.WeakKeyDictionary[Any, dict[str, threading.Lock]] = weakref.WeakKeyDictionary()
_TURNS_GUARD = threading.Lock()


class BudgetLock:
    """A lock shared by every worker of one study; `acquire()` blocks, `release()` may be called twice.

    Without a database (`storage` None) it is a lock of this process only."""

    def __init__(self, storage: RDBStorage | None, study_name: str) -> None:
        self.engine = storage.engine if storage is not None else None
        self.dialect = self.engine.dialect.name if self.engine is not None else ""
        self.key = "tuner:" + hashlib.sha1(study_name.encode()).hexdigest()[:32]
        self._held: Any = None
        self._local = threading.Lock()
        self._direct: DirectConnection | None = None
        self._turn: threading.Lock | None = None  # this process's lock, where the session is shared
        if self.dialect == "postgresql":
            shared = isinstance(storage, Database) and storage.one_connection
            self._direct = DirectConnection(self.engine, keep=not shared)
            self._turn = _turn(self.engine, self.key) if shared else None

    def acquire(self) -> None:
        if self._direct is not None:  # a session lock: no transaction needed
            if self._turn is not None:
                self._turn.acquire()
            try:
                self._direct.rows(schema.PG_LOCK, [_bigint(self.key)])
            except BaseException:
                if self._turn is not None:
                    self._turn.release()
                raise
            conn = self._direct
        elif self.dialect in ("mysql", "mariadb"):
            conn = self.engine.connect()
            while conn.execute(text(schema.MYSQL_LOCK), {"k": self.key}).scalar() != 1:
                pass
        elif self.dialect == "sqlite" and self.engine.url.database not in (None, "", ":memory:"):
            conn = open(Path(self.engine.url.database).with_suffix(".budget.lock"), "a+")
            fcntl.flock(conn.fileno(), fcntl.LOCK_EX)
        else:
            conn = None
            self._local.acquire()
        self._held = conn

    def release(self) -> None:
        conn, self._held = self._held, None
        if conn is None:
            if self._local.locked():
                self._local.release()
            return
        if conn is self._direct:  # a lost connection has released the lock with its session, and is dropped
            try:
                with contextlib.suppress(Exception):
                    conn.rows(schema.PG_UNLOCK, [_bigint(self.key)])
            finally:
                if self._turn is not None:
                    self._turn.release()
            return
        try:
            if self.dialect in ("mysql", "mariadb"):
                conn.execute(text(schema.MYSQL_UNLOCK), {"k": self.key})
            else:
                fcntl.flock(conn.fileno(), fcntl.LOCK_UN)
        except Exception:  # the server went away: it released the lock with the session; drop the connection
            if hasattr(conn, "invalidate"):
                conn.invalidate()
        finally:
            conn.close()

    def close(self) -> None:
        """Release, and give back the connection kept for the lock."""
        self.release()
        if self._direct is not None:
            self._direct.close()

    def __enter__(self) -> BudgetLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _turn(engine: Any, key: str) -> threading.Lock:
    """The process's lock for `key` on `engine`, shared by every BudgetLock of that storage and study."""
    with _TURNS_GUARD:
        return _TURNS.setdefault(engine, {}).setdefault(key, threading.Lock())


def _bigint(key: str) -> int:
    return int.from_bytes(hashlib.sha1(key.encode()).digest()[:8], "big", signed=True)
