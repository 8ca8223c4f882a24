"""`tuner worker`: join a study from the store alone (its definition is stored with it) and run its trials."""

from __future__ import annotations

import os
import sys
import time
from typing import Annotated

import typer

from tuner.cli._common import StorageOption, err_console, quiet_libraries, user_errors


def register(app: typer.Typer) -> None:
    app.command()(worker)


@user_errors
def worker(
    study: Annotated[str, typer.Argument(help="Name of a study in the store (created by `tuner start`).")],
    storage: StorageOption = None,
    trials: Annotated[int | None, typer.Option(min=1, help="Trial budget for the whole study [default: the stored one].")] = None,
    timeout: Annotated[float | None, typer.Option(min=0, help="Stop starting trials after this many seconds.")] = None,
    data_dir: Annotated[str | None, typer.Option(help="Folder holding the study's data files on this machine.")] = None,
    seed: Annotated[int | None, typer.Option(help="Base seed for the sampler and the trials [default: the stored one].")] = None,
    wait: Annotated[float, typer.Option(min=0, help="Wait up to this many seconds for the study to be created.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress display.")] = False,
    go_on_stdin: Annotated[bool, typer.Option("--go-on-stdin", hidden=True,
                                              help="Import everything, then join once stdin says `go` "
                                                   "(`tuner start --workers`).")] = False,
) -> None:
    """Join a running (or finished) study and run its trials until the study's budget is used up."""
    quiet_libraries()
    from tuner.run.session import join_session
    from tuner.store.studies import stored_budget
    from tuner.run.workers import WORKER_VAR
    from tuner.backend import limit_threads

    if go_on_stdin:
        from tuner.backend import load_keras

        load_keras()
        limit_threads()
        if sys.stdin.readline().strip() != "go":  # `tuner start` stopped before the study was ready
            return
    index = os.environ.get(WORKER_VAR)
    session = join_session(study, storage=storage, data_dir=data_dir, seed=seed,
                           worker=int(index) if index else None, wait=wait)
    limit_threads()
    budget = trials if trials is not None else stored_budget(session.study, session.spec)
    timeout = timeout if timeout is not None else session.spec.budget.timeout
    try:
        _run(session, budget, timeout, quiet)
    except KeyboardInterrupt:
        err_console.print("interrupted: the running trial is recorded as failed and will be redone", highlight=False)
        raise typer.Exit(130) from None


def _run(session, budget: int | None, timeout: float | None, quiet: bool) -> None:
    from tuner.store import mask

    if quiet:
        session.run(budget, timeout)
        return
    err_console.print(f"worker on study [bold]{session.study.study_name}[/] in {mask(session.url)}: "
                      f"{session.data.name}, budget {budget} trials for the whole study", highlight=False)
    from tuner.cli._progress import StudyProgress
    from tuner.cli.inspect import print_counts

    started = time.monotonic()
    with StudyProgress(session.study, budget, err_console) as progress:
        session.run(budget, timeout, on_trial=progress.update)
    print_counts(session.study, time.monotonic() - started)
