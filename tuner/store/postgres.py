"""One PostgreSQL connection that a worker keeps for the short statements of every trial (tuner.store.schema's
PostgreSQL texts).

Going through SQLAlchemy costs more than the round trip itself for a one-row statement (a connection checked out and
back in, its isolation level set and reset, the statement's parameters processed, a result object built): ~0.3 ms
against ~0.1 ms on psycopg's connection directly, prepared. Here the thread that first uses the connection keeps it,
in autocommit; other threads check one out of the engine's pool for each call. In a worker's storage, whose pool
holds one connection (tuner.store.database.engine_kwargs), nothing is kept (`keep=False`): each call checks that
connection out and gives it back (~7 us), so the worker's statements, its budget lock and its heartbeats take turns
on one session. A psycopg error is raised as the SQLAlchemy error it would have been (so retries and reconnects treat
it alike). After any error, Ctrl-C included, the connection is dropped (the server then ends its session, and with it
any lock or transaction it held): the next call opens another.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

Statement = tuple[str, Any]  # SQL with psycopg's %(name)s / %s placeholders, and its parameters


class DirectConnection:
    """psycopg statements on a connection of `engine`'s pool, held by the thread that used it first (by any
    thread with `any_thread`, for statements that never open a transaction: a session's advisory lock); with
    `keep` False, checked out for each call only."""

    def __init__(self, engine: Any, any_thread: bool = False, keep: bool = True) -> None:
        self.engine = engine
        self.any_thread = any_thread
        self.keep = keep
        self._held: Any = None  # the pool's connection record, checked out for good
        self._owner: int | None = None
        self._lock = threading.Lock()

    def rows(self, sql: str, params: Any = None) -> list[tuple]:
        """All rows of one statement (none for a statement that returns none)."""
        return self.pipeline([(sql, params)])[0]

    def pipeline(self, statements: Sequence[Statement]) -> list[list[tuple]]:
        """Run `statements` in order, sent together (one round trip); each one's rows. An error in one skips
        the rest; with BEGIN among them, nothing of the open transaction is kept."""
        with self._connection() as conn:
            if len(statements) == 1:
                sql, params = statements[0]
                return [_fetch(conn.execute(sql, params, prepare=params is not None))]
            with conn.pipeline():
                cursors = [conn.cursor().execute(sql, params, prepare=params is not None)
                           for sql, params in statements]
            return [_fetch(cursor) for cursor in cursors]

    def close(self) -> None:
        with self._lock:
            held, self._held, self._owner = self._held, None, None
        if held is not None:
            _give_back(held)

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Any]:
        import psycopg

        me = threading.get_ident()
        with self._lock:
            if self._owner is None:
                self._owner = me
            mine = self.keep and (self.any_thread or self._owner == me)
            if mine and self._held is None:
                self._held = _checkout(self.engine)
            record = self._held
        if not mine:
            record = _checkout(self.engine)
        try:
            yield record.driver_connection
        except BaseException as exc:  # a lost connection, a failed transaction, Ctrl-C mid-statement: not reused
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
