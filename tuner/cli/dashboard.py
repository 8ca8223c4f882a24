"""`tuner dashboard`: optuna-dashboard on tuner's store, with the artifact store so best models download."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from tuner.cli._common import StorageOption, console, err_console, quiet_libraries, user_errors

ArtifactsOption = Annotated[str | None, typer.Option(
    "--artifacts", envvar="TUNER_ARTIFACTS", show_envvar=True,
    help="Folder of the artifact store (best models); default: artifacts/ beside the SQLite file, else ./artifacts.")]


def register(app: typer.Typer) -> None:
    app.command()(dashboard)


@user_errors
def dashboard(
    storage: StorageOption = None,
    host: Annotated[str, typer.Option(help="Address to bind; anything but 127.0.0.1 exposes an unauthenticated "
                                           "dashboard.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on (0 picks a free one).")] = 8080,
    artifacts: ArtifactsOption = None,
) -> None:
    """Serve optuna-dashboard on the store: learning curves, trial notes and the best model of every study."""
    quiet_libraries()
    from tuner.views import dashboard as board
    from tuner.views.artifacts import resolve_dir
    from tuner.store import default_url, mask

    url = storage or default_url()
    folder = resolve_dir(artifacts, url)
    server = board.make(url, folder, host, port)
    if not board.is_local(host):
        err_console.print(f"[bold yellow]{board.no_auth_warning(host, server.server_address[1])}[/]",
                          highlight=False, soft_wrap=True)
    console.print(f"dashboard for {mask(url)} (artifacts in {os.path.relpath(folder)}) at "
                      f"{board.address(server)}; Ctrl-C stops it", highlight=False, soft_wrap=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
