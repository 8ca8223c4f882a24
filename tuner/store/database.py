"""The database: a SQL URL turned into Optuna's RDB storage, with settings that suit long-running workers."""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

import optuna
from optuna.storages import RDBStorage
from sqlalchemy import create_engine, event, orm
from sqlalchemy.exc import SQLAlchemyError

from tuner.errors import StorageError
from tuner.store import internals, schema

log = logging.getLogger("tuner.store")
T = TypeVar("T")
# A lost or refused database connection, raw or as Optuna wraps it: the operation can be tried again later.
DB_ERRORS = (SQLAlchemyError, optuna.exceptions.StorageInternalError)
STARTING_UP_SECONDS = 60.0  # how long a new connection waits for a PostgreSQL server that is starting up
DEFAULT_URL = "sqlite:///tuner.db"
HEARTBEAT_INTERVAL = 10  # seconds between a running trial's heartbeats (TUNER_HEARTBEAT_INTERVAL)
GRACE_PERIOD = 30  # seconds without a heartbeat before a running trial counts as dead (TUNER_GRACE_PERIOD)
SQLITE_BUSY_MS = 60_000
# A worker on PostgreSQL: one connection, not recycled (a new one would drop the budget lock its session holds).
ONE_CONNECTION = {"pool_size": 1, "max_overflow": 0, "pool_recycle": -1}
POOL = {"pool_size": 3, "max_overflow": 2, "pool_recycle": 1800}  # every other storage on a server


def default_url() -> str:
    return os.environ.get("TUNER_STORAGE") or DEFAULT_URL


def mask(url: str) -> str:
    """The URL (or any text holding one) with passwords replaced by ***, safe to print or log."""
    return re.sub(r"(://[^:/@\s]+:)([^@\s]*)(@)", r"\1***\3", url)


def engine_kwargs(url: str, worker: bool = False) -> dict[str, Any]:
    """Small pools for servers; a busy timeout for SQLite.

    A worker's storage on PostgreSQL (`worker`) keeps one connection, never recycled: its statements, its budget
    lock and its heartbeats take it in turn (tuner.store.postgres), so N workers hold N connections. Other storages
    (the dashboard's threads, `list`, a worker on MySQL, whose budget lock keeps a connection of its own while
    held) keep three, with two more at busy times, recycled after 30 minutes.

    Connections are not pinged before each use (that is a round trip on every transaction, ~10% of a small trial's
    storage time): a connection the server dropped fails its next statement, SQLAlchemy then discards the whole pool,
    and the caller's retry (_retrying, the runner's reconnect, the next heartbeat) gets a new one."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": SQLITE_BUSY_MS / 1000}}
    pool = ONE_CONNECTION if worker and url.startswith("postgresql") else POOL
    return {"pool_pre_ping": False, **pool, "pool_timeout": 30, "connect_args": _connect_args(url)}


def _keeps_one(kwargs: dict[str, Any]) -> bool:
    return kwargs.get("pool_size") == 1 and kwargs.get("max_overflow") == 0


def _set_up(kept: dict[str, Any]) -> dict[str, Any]:
    """What Optuna's set-up of a storage that keeps one connection runs with instead (Database._own_engine): a
    second connection allowed, Optuna's schema check left to tuner. Nothing for other storages."""
    if not _keeps_one(kept):
        return {}
    return {"engine_kwargs": {**kept, "max_overflow": 1}, "skip_compatibility_check": True}


def connections_per_worker(url: str) -> int:
    """The most connections one worker's storage (`open_storage(url)`) opens to the server; 0 for SQLite."""
    kwargs = engine_kwargs(url, worker=True)
    return kwargs.get("pool_size", 0) + kwargs.get("max_overflow", 0)


def _connect_args(url: str) -> dict[str, Any]:
    if url.startswith("postgresql"):
        return {"connect_timeout": 10, "options": _postgres_options(url)}
    if url.startswith("mysql"):
        return {"connect_timeout": 10}
    return {}


def _postgres_options(url: str) -> str:
    """Commits on PostgreSQL do not wait for their disk flush (`synchronous_commit=off`), as SQLite's
    `synchronous=NORMAL` in WAL mode: a crashed worker still loses nothing, and a crashed server loses at most its
    last fraction of a second of trial writes (a trial left running is failed by its heartbeat and retried).
    Options in the URL come after, so `?options=-csynchronous_commit%3Don` restores waiting."""
    from sqlalchemy.engine import make_url

    given = make_url(url).query.get("options", "")
    return " ".join(["-c synchronous_commit=off", *([given] if isinstance(given, str) else given)]).strip()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL and a busy timeout on every connection of a SQLite database's engine, so a few local workers never see
    "database is locked"."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
    if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() not in ("wal", "memory"):
        cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def heartbeat_settings() -> tuple[int, int]:
    """(interval, grace period) in seconds, from TUNER_HEARTBEAT_INTERVAL / TUNER_GRACE_PERIOD or the defaults."""
    values = []
    for var, default in (("TUNER_HEARTBEAT_INTERVAL", HEARTBEAT_INTERVAL), ("TUNER_GRACE_PERIOD", GRACE_PERIOD)):
        raw = os.environ.get(var, "").strip()
        try:
            value = int(raw) if raw else default
        except ValueError:
            raise StorageError(f"{var}={raw!r} is not a whole number of seconds; set e.g. {var}={default}") from None
        if value < 1:
            raise StorageError(f"{var}={raw!r} must be at least 1 second")
        values.append(value)
    interval, grace = values
    if grace <= interval:
        raise StorageError(f"TUNER_GRACE_PERIOD ({grace}) must be longer than TUNER_HEARTBEAT_INTERVAL ({interval})")
    return interval, grace


def caused_by_database(exc: BaseException) -> bool:
    """Whether a lost database connection is behind `exc` (Optuna sometimes raises another error on top)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DB_ERRORS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class Database(RDBStorage):
    """Optuna's RDB storage made to ride out a database restart while a trial runs.

    Optuna's heartbeat thread dies on its first database error, after which the trial would be failed as stale
    although its worker is alive: here a failed heartbeat is skipped and the next one tries again. A trial's
    per-epoch writes (intermediate values, attributes) are idempotent and are retried for up to RETRY_SECONDS.
    SQLite's pragmas are set on this storage's own engine only. A worker's storage on PostgreSQL keeps one
    connection (ONE_CONNECTION).
    """

    def __init__(self, url: str, **kwargs: Any) -> None:
        kept = kwargs.get("engine_kwargs") or {}
        check = not kwargs.get("skip_compatibility_check", False)
        super().__init__(url, **{**kwargs, **_set_up(kept)})
        self._own_engine(kept, check)

    def __setstate__(self, state: dict[Any, Any]) -> None:
        kept, check = state["engine_kwargs"], not state.get("skip_compatibility_check", False)
        super().__setstate__({**state, **_set_up(kept)})
        self._own_engine(kept, check)

    def _own_engine(self, kept: dict[str, Any], check: bool) -> None:
        """The engine this storage keeps, once Optuna has set the storage up (tables, schema version).

        Optuna's schema check holds two connections at once, and so does the creation of a new database's version
        rows: a storage that keeps one connection is set up on an engine that may open a second, checks the schema
        one connection at a time, and then gets the engine it keeps. On SQLite, every connection the engine opens
        from now on gets the pragmas; the ones opened while Optuna created its tables are closed."""
        if _set_up(kept):
            self.skip_compatibility_check = not check
            if check:
                self._check_schema()
            self.engine.dispose()
            self.engine_kwargs = kept
            self.engine = create_engine(self.url, **kept)
            self.scoped_session = orm.scoped_session(orm.sessionmaker(bind=self.engine))
            self._version_manager.engine, self._version_manager.scoped_session = self.engine, self.scoped_session
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            self.engine.dispose()

    def _check_schema(self) -> None:
        """Optuna's check that the database's schema is the one this Optuna writes, one connection at a time."""
        versions = self._version_manager
        current, head = versions.get_current_version(), versions.get_head_version()
        if current != head:
            fix = ("run `optuna storage upgrade --storage URL`" if current in versions.get_all_versions()
                   else "update Optuna")
            raise RuntimeError(f"the database's Optuna schema is version {current}, Optuna {optuna.__version__} "
                               f"needs {head}: {fix}")

    @property
    def one_connection(self) -> bool:
        """Whether this storage keeps a single connection that every statement takes in turn (a worker's, on
        PostgreSQL): the budget lock then borrows it rather than keep its own."""
        return self.engine.dialect.name == "postgresql" and _keeps_one(self.engine_kwargs)

    def record_heartbeat(self, trial_id: int) -> None:
        try:
            super().record_heartbeat(trial_id)
        except DB_ERRORS as exc:
            log.warning("heartbeat not recorded (%s); trying again in %s s", reason(exc), self.heartbeat_interval)

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        """Optuna's stale trials, plus running trials that never recorded a heartbeat and started longer than the
        grace period ago: their worker lost the database (or died) between creating the trial and its first
        heartbeat, and Optuna alone would leave them RUNNING for ever."""
        import datetime

        stale = super()._get_stale_trial_ids(study_id)
        cutoff = schema.utc_now() - datetime.timedelta(seconds=self.grace_period or 2 * (self.heartbeat_interval or 0))
        with self.engine.connect() as conn:
            orphans = schema.orphan_trial_ids(conn, study_id, cutoff)
        return stale + [t for t in orphans if t not in stale]

    def _get_trials(self, study_id: int, states: Any, included_trial_ids: set[int],
                    trial_id_greater_than: int) -> list[optuna.trial.FrozenTrial]:
        """Optuna's whole-trial listing, its rows read as plain tuples (tuner.store.trialread): 10,000 trials of 30
        reported epochs in ~1 s instead of ~8 s."""
        from tuner.store import trialread

        with self.engine.connect() as conn:
            trials = trialread.read_trials(conn, study_id, states, included_trial_ids, trial_id_greater_than)
            if not trials and not schema.study_exists(conn, study_id):  # as Optuna does: an error, not []
                raise KeyError(schema.NOT_FOUND_MSG)
        return trials

    def set_trial_intermediate_value(self, trial_id: int, step: int, intermediate_value: float) -> None:
        _retrying(lambda: super(Database, self).set_trial_intermediate_value(trial_id, step, intermediate_value))

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        _retrying(lambda: super(Database, self).set_trial_user_attr(trial_id, key, value))

    def set_trial_user_attrs(self, trial_id: int, attrs: dict[str, Any]) -> None:
        """Several user attributes of one trial in one transaction: one commit (and one round of retries) for all."""

        def write() -> None:
            with internals.scoped_session(self.scoped_session, True) as session:
                for key, value in attrs.items():
                    self._set_trial_attr_without_commit(session, internals.models.TrialUserAttributeModel, trial_id,
                                                        key, value)

        _retrying(write)


RETRY_SECONDS = 60  # how long a worker waits for a database that went away (TUNER_DB_WAIT) before it gives up


def wait_seconds() -> float:
    """How long a worker keeps trying a database that went away before it stops: TUNER_DB_WAIT, else
    RETRY_SECONDS. A restart takes seconds; a database dropped or a server gone for good would be retried for ever."""
    raw = os.environ.get("TUNER_DB_WAIT", "").strip()
    try:
        value = float(raw) if raw else RETRY_SECONDS
    except ValueError:
        raise StorageError(f"TUNER_DB_WAIT={raw!r} is not a number of seconds; set e.g. TUNER_DB_WAIT=60") from None
    if not 0 < value < float("inf"):
        raise StorageError(f"TUNER_DB_WAIT={raw!r} must be a positive number of seconds")
    return value


def _retrying(write: Callable[[], T]) -> T:
    """`write()`, tried again on database errors for up to wait_seconds()."""
    deadline = time.monotonic() + wait_seconds()
    pause = 0.5
    while True:
        try:
            return write()
        except DB_ERRORS as exc:
            if time.monotonic() + pause > deadline:
                raise
            log.warning("database write failed (%s); retrying in %.1f s", reason(exc), pause)
            time.sleep(pause)
            pause = min(pause * 2, 5)


def open_storage(url: str | None = None, *, heartbeat: bool = True, retries: int = 1) -> Database:
    """Connect (creating Optuna's tables when needed); a clear StorageError when it cannot.

    With `heartbeat` it is a worker's storage: running trials send heartbeats, a trial whose worker died is failed
    after the grace period and retried `retries` times, and on PostgreSQL it keeps one connection (engine_kwargs).
    Readers (`list`, the dashboard) pass heartbeat=False.
    """
    url = url or default_url()
    if "://" not in url:
        raise StorageError(f"storage {mask(url)!r} is not a URL; use e.g. sqlite:///tuner.db or "
                           f"postgresql+psycopg://user:password@host/db")
    kwargs: dict[str, Any] = {}
    if heartbeat:
        from optuna.storages import RetryHeartbeatStaleTrialCallback

        interval, grace = heartbeat_settings()
        kwargs = {"heartbeat_interval": interval, "grace_period": grace,
                  "heartbeat_stale_trial_callback": RetryHeartbeatStaleTrialCallback(max_retry=retries)}
    deadline = time.monotonic() + STARTING_UP_SECONDS
    while True:
        try:
            return Database(url, engine_kwargs=engine_kwargs(url, worker=heartbeat), **kwargs)
        except Exception as exc:  # SQLAlchemy and driver errors vary by backend; all mean "cannot use this URL",
            if "starting up" in str(exc) and time.monotonic() < deadline:  # but a server restarting is waited for
                time.sleep(1.0)
                continue
            raise StorageError(f"storage {mask(url)}: cannot connect ({reason(exc)}); "
                               f"check the URL, that the server is up, and --storage / TUNER_STORAGE") from None


def reason(exc: BaseException) -> str:
    """The first line of an error, passwords masked, short enough for one line of output."""
    text = str(exc).strip()
    return mask(text.splitlines()[0] if text else type(exc).__name__)[:200]
