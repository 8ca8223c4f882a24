"""Dashboard: optuna-dashboard served on tuner's store.

The server is optuna-dashboard's own WSGI app (`optuna_dashboard.wsgi`) on a threaded wsgiref server, with tuner's
file-system artifact store so the best model can be downloaded. What each trial leaves there for it to show is
written by the objective's hook (tuner.search.watch) and tuner.views.notes.
"""

from __future__ import annotations

import ipaddress
import threading
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from tuner.errors import TunerError
from tuner.store import open_storage
from tuner.views.artifacts import open_store

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


class DashboardError(TunerError):
    """The dashboard cannot be served (port taken, address unknown)."""


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
