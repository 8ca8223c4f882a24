"""The store: everything that knows Optuna's storage and SQL. A URL becomes a `Database` (Optuna's RDB storage, made
to ride out restarts), a run wraps it in `BufferedStorage` (write-back for the trials it runs), and what tuner needs
beyond Optuna's BaseStorage is the `TunerStorage` interface, reached through `of(storage)`."""

from tuner.store.database import (DB_ERRORS, DEFAULT_URL, Database, caused_by_database, connections_per_worker,
                                  default_url, engine_kwargs, heartbeat_settings, mask, open_storage, reason,
                                  wait_seconds)
from tuner.store.interface import OptunaStorage, TunerStorage, flush, of, set_user_attrs
from tuner.store.lock import BudgetLock
from tuner.store.writeback import BufferedStorage, buffered

__all__ = ["DB_ERRORS", "DEFAULT_URL", "BudgetLock", "BufferedStorage", "Database", "OptunaStorage", "TunerStorage",
           "buffered", "caused_by_database", "connections_per_worker", "default_url", "engine_kwargs", "flush",
           "heartbeat_settings", "mask", "of", "open_storage", "reason", "set_user_attrs", "wait_seconds"]
