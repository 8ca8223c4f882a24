"""Dashboard: optuna-dashboard served on tuner's store, and what each trial leaves there for it to show.

The server is optuna-dashboard's own WSGI app (`optuna_dashboard.wsgi`) on a threaded wsgiref server, with tuner's
file-system artifact store so the best model can be downloaded. `TrialWatch` is what the objective calls: it writes
each trial's architecture note and hands trained models to the best-model keeper.
"""

from __future__ import annotations

import ipaddress
import threading
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import optuna

from tuner import notes
from tuner.artifacts import BestModelKeeper, open_store
from tuner.errors import TunerError
from tuner.storage import open_storage

if TYPE_CHECKING:
    import keras

    from tuner.space import Hyperparams

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


class DashboardError(TunerError):
    """The dashboard cannot be served (port taken, address unknown)."""


class TrialWatch:
    """Called by the objective: a trial's note when it starts, its model when it trains."""

    def __init__(self, keeper: BestModelKeeper | None = None) -> None:
        self.keeper = keeper

    def started(self, trial: optuna.Trial, hp: Hyperparams, architecture: list[dict[str, Any]]) -> None:
        notes.save_trial_note(trial, notes.trial_note(trial.number, architecture, hp))

    def trained(self, trial: optuna.Trial, model: keras.Model, history: dict[str, list[float]]) -> None:
        if self.keeper is None:
            return
        values = history[self.keeper.metric.name]
        self.keeper.offer(trial, model, values[self.keeper.metric.best_index(values)])


def describe_study(study: optuna.Study, note: str, metric_names: list[str]) -> None:
    """The study note (unless the study has one) and the objectives' names on the dashboard's axes."""
    notes.save_study_note(study, note)
    study.set_metric_names(metric_names)


class _ThreadedServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        pass


def is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def no_auth_warning(host: str, port: int) -> str:
    return (f"warning: the dashboard has no authentication and its API can delete studies; anyone who can reach "
            f"{host}:{port} can use it. Bind {DEFAULT_HOST} (the default) and reach it through an SSH tunnel instead.")


def make(url: str, artifacts: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> WSGIServer:
    """optuna-dashboard's WSGI app on `url`'s store, bound to host:port (0 picks a free port); not yet serving."""
    from optuna_dashboard import wsgi

    app = wsgi(open_storage(url, heartbeat=False), artifact_store=open_store(artifacts))
    try:
        return make_server(host, port, app, server_class=_ThreadedServer, handler_class=_QuietHandler)
    except OSError as exc:
        raise DashboardError(f"dashboard: cannot listen on {host}:{port} ({exc.strerror or exc}); "
                             f"choose another --port, or stop what is using it") from None


def address(server: WSGIServer, study_id: int | None = None) -> str:
    """The URL a browser opens: the study list, or one study's page."""
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in str(host) else host
    return f"http://{shown}:{port}/dashboard" + (f"/studies/{study_id}" if study_id is not None else "")


def serve_in_background(server: WSGIServer) -> threading.Thread:
    """Serve from a daemon thread (it ends with the process); `server.shutdown()` stops it earlier."""
    thread = threading.Thread(target=server.serve_forever, name="tuner-dashboard", daemon=True)
    thread.start()
    return thread
