"""Storage: a SQL URL turned into Optuna's RDB storage, with settings that suit long-running workers."""

from __future__ import annotations

import os
import re
from typing import Any

import optuna
from optuna.storages import RDBStorage

from tuner.errors import StorageError

DEFAULT_URL = "sqlite:///tuner.db"
HEARTBEAT_INTERVAL = 10
GRACE_PERIOD = 30


def default_url() -> str:
    return os.environ.get("TUNER_STORAGE") or DEFAULT_URL


def mask(url: str) -> str:
    """The URL with its password replaced by ***, safe to print or log."""
    return re.sub(r"(://[^:/@]+:)([^@]*)(@)", r"\1***\3", url)


def engine_kwargs(url: str) -> dict[str, Any]:
    """Small pools with connection checks for servers; a busy timeout for SQLite."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 60}}
    return {"pool_pre_ping": True, "pool_size": 2, "max_overflow": 2, "pool_recycle": 1800,
            "pool_timeout": 30, "connect_args": _connect_timeout(url)}


def _connect_timeout(url: str) -> dict[str, Any]:
    if url.startswith("postgresql"):
        return {"connect_timeout": 10}
    if url.startswith("mysql"):
        return {"connect_timeout": 10}
    return {}


def open_storage(url: str | None = None, *, heartbeat: bool = True, retries: int = 1) -> RDBStorage:
    """Connect (creating Optuna's tables when needed); a clear StorageError when it cannot."""
    url = url or default_url()
    if "://" not in url:
        raise StorageError(f"storage {url!r} is not a URL; use e.g. sqlite:///tuner.db or "
                           f"postgresql+psycopg://user:password@host/db")
    kwargs: dict[str, Any] = {}
    if heartbeat:
        from optuna.storages import RetryHeartbeatStaleTrialCallback

        kwargs = {"heartbeat_interval": HEARTBEAT_INTERVAL, "grace_period": GRACE_PERIOD,
                  "heartbeat_stale_trial_callback": RetryHeartbeatStaleTrialCallback(max_retry=retries)}
    try:
        return RDBStorage(url, engine_kwargs=engine_kwargs(url), **kwargs)
    except Exception as exc:  # SQLAlchemy and driver errors vary by backend; all mean "cannot use this URL".
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StorageError(f"storage {mask(url)}: cannot connect ({mask(reason)[:200]}); "
                           f"check the URL, that the server is up, and --storage / TUNER_STORAGE") from None


def quiet() -> None:
    """Keep Optuna's per-trial INFO lines out of the CLI's output."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
