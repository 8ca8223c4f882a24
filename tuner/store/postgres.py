"""The PostgreSQL connection the budget lock (tuner.store.lock) sends its two statements on: psycopg's own, prepared.

Going through SQLAlchemy costs more than the round trip itself for a one-row statement (a connection checked out and
back in, its isolation level set and reset, the statement's parameters processed, a result object built): ~0.3 ms
against ~0.1 ms on psycopg's connection directly, prepared. The connection is kept, in autocommit, and used by any
thread (a session's advisory lock opens no transaction). In a worker's storage, whose pool holds one connection
(tuner.store.database.engine_kwargs), nothing is kept (`keep=False`): each call checks that connection out and gives
it back (~7 us), so the worker's statements, its budget lock and its heartbeats take turns on one session. A psycopg
error is raised as the SQLAlchemy error it would have been (so retries and reconnects treat it alike). After any
error, Ctrl-C included, the connection is dropped (the server then ends its session, and with it any lock it held):
the next call opens another.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any


class DirectConnection:
    """psycopg statements that open no transaction, on a connection of `engine`'s pool: kept and shared by every
    thread, or with `keep` False checked out for each call only."""

    def __init__(self, engine: Any, keep: bool = True) -> None:
        self.engine = engine
        self.keep = keep
        self._held: Any = None  # the pool's connection record, checked out for good
        self._lock = threading.Lock()

    def rows(self, sql: str, params: Any = None) -> list[tuple]:
        """All rows of one statement (SQL with psycopg's %s placeholders; none for a statement that returns none),
        prepared when it has parameters."""
        with self._connection() as conn:
            return _fetch(conn.execute(sql, params, prepare=params is not None))

    def close(self) -> None:
        with self._lock:
            held, self._held = self._held, None
        if held is not None:
            _give_back(held)

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Any]:
        import psycopg

        mine = self.keep
        with self._lock:
            if mine and self._held is None:
                self._held = _checkout(self.engine)
            record = self._held
        if not mine:
            record = _checkout(self.engine)
        try:
            yield record.driver_connection
        except BaseException as exc:  # a lost connection, a failed statement, Ctrl-C mid-statement: not reused
            if mine:
                with self._lock:
                    self._held = None
            record.invalidate()
            if isinstance(exc, psycopg.Error):
                raise _as_sqlalchemy(exc) from exc
            raise
        finally:
            if not mine:
                _give_back(record)


def _checkout(engine: Any) -> Any:
    """A connection of the pool, in autocommit; a failed connect (the server or the database gone) is raised as the
    SQLAlchemy error it is through an engine, so that the runner's reconnect and its bounded wait see it."""
    import psycopg

    try:
        record = engine.raw_connection()
    except psycopg.Error as exc:
        raise _as_sqlalchemy(exc) from exc
    record.driver_connection.autocommit = True
    return record


def _give_back(record: Any) -> None:
    if record.is_valid:
        try:
            record.driver_connection.autocommit = False  # as the pool hands connections out
        except Exception:  # noqa: BLE001 - broken: the pool replaces it
            record.invalidate()
    record.close()


def _fetch(cursor: Any) -> list[tuple]:
    return cursor.fetchall() if cursor.description is not None else []


def _as_sqlalchemy(exc: Exception) -> Exception:
    import psycopg
    from sqlalchemy.exc import DBAPIError

    return DBAPIError.instance(None, None, exc, psycopg.Error)
