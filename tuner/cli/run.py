"""`tuner start`: run a study from its study file, with a live progress display and a summary at the end."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from tuner import record
from tuner.cli._common import RefitOption, StorageOption, console, err_console, quiet_libraries, user_errors
from tuner.cli.dashboard import ArtifactsOption
from tuner.cli.inspect import print_best, print_counts


def register(app: typer.Typer) -> None:
    app.command()(start)


@user_errors
def start(
    study: Annotated[str, typer.Argument(help="Study name (studies/NAME.yaml) or path to a study file.")],
    trials: Annotated[int | None, typer.Option(min=1, help="Trial budget for the whole study (overrides the file).")] = None,
    timeout: Annotated[float | None, typer.Option(min=0, help="Stop starting trials after this many seconds.")] = None,
    storage: StorageOption = None,
    name: Annotated[str | None, typer.Option(help="Study name in the store [default: the file's stem].")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for the sampler and the trials (overrides the file).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Run N local worker processes on the study "
                                                "(TensorFlow threads divided between them), or N Ray actors "
                                                "with --ray.")] = None,
    artifacts: ArtifactsOption = None,
    dashboard: Annotated[bool, typer.Option("--dashboard", help="Serve optuna-dashboard on 127.0.0.1 while the "
                                                                "study runs, and print its URL.")] = False,
    one_shot: Annotated[bool, typer.Option("--one-shot", help="Every width from one training first (a slimmable "
                                           "network), then only the best few retrained: docs/one-shot.md.")] = False,
    dashboard_port: Annotated[int, typer.Option(min=0, max=65535, help="Port for --dashboard.")] = 8080,
    refit: RefitOption = None,
    ray: Annotated[str | None, typer.Option(
        "--ray", metavar="ADDRESS", help="Run the workers (--workers N, default as many as fit) as actors on the Ray "
        "cluster at ADDRESS (auto: the one `ray start --head` started here); needs a PostgreSQL or MariaDB "
        "store.")] = None,
) -> None:
    """Run (or resume) a study until its trial budget or the timeout is used up."""
    quiet_libraries()
    from tuner.api import open as open_study
    from tuner.store import internals, mask

    cluster = _connect_ray(study, storage, ray, workers) if ray else None  # checked before anything is written
    server = _bind_dashboard(storage, artifacts, dashboard_port) if dashboard else None
    local_workers = workers and workers > 1 and cluster is None
    others = _spawn_early(study, name, storage, trials, timeout, seed, workers) if local_workers else []
    try:
        session = open_study(study, storage=storage, name=name, seed=seed, artifacts=artifacts,
                             gpus_here=cluster is None, one_shot=one_shot)
    except BaseException:  # bad input: the workers never touched the study
        from tuner.run import workers as local

        local.stop(others, grace=0)
        if cluster is not None:
            cluster.close()
        raise
    budget, timeout = session.limits(trials, timeout)
    err_console.print(f"study [bold]{session.study.study_name}[/] in {mask(session.url)}: "
                      f"{session.data.name} ({session.data.task}), optimizing {session.metric.name} "
                      f"({session.metric.direction})", highlight=False)
    if server is not None:
        _serve_dashboard(server, internals.study_id(session.study))
    from tuner.cli._progress import StudyProgress

    started = time.monotonic()
    interrupted = False
    with StudyProgress(session.study, budget, err_console) as progress:
        try:
            session.work(budget, timeout, seed, workers=workers, others=others, cluster=cluster,
                         on_trial=progress.update, say=lambda line: err_console.print(line, highlight=False))
        except KeyboardInterrupt:
            interrupted = True
        if workers or cluster is not None:
            progress.update(session.study, force=True)
    elapsed = time.monotonic() - started
    if interrupted:
        staged = session.spec.one_shot is not None and record.ONE_SHOT_STAGE not in session.study.user_attrs
        err_console.print("interrupted in the one-shot stage: no estimate is written, the networks it trained are "
                          "kept; run the same command to resume" if staged else
                          "interrupted: the running trial is recorded as failed and will be redone; "
                          "run the same command to resume", highlight=False)
    print_counts(session.study, elapsed)
    print_best(session.study)
    if not interrupted:
        _refit(session, refit)
    _print_best_model(session)
    if server is not None:
        server.shutdown()
        server.server_close()
        err_console.print("dashboard stopped with the run; `tuner dashboard` serves it again", highlight=False)
    if interrupted:
        raise typer.Exit(130)


def _spawn_early(study: str, name: str | None, storage: str | None, trials: int | None, timeout: float | None,
                 seed: int | None, workers: int) -> list:
    """The other N-1 local workers, started before this process checks and opens the study: their start-up
    (Python's imports, TensorFlow's) runs beside this one's, and they join once told the study is ready."""
    from tuner.run import workers as local
    from tuner.run.session import trial_budget
    from tuner.spec.files import find_study_file
    from tuner.spec import load_spec
    from tuner.store import default_url

    path = find_study_file(study)
    spec = load_spec(path)
    return local.spawn(name or path.stem, workers, url=storage or default_url(), trials=trial_budget(spec, trials),
                       timeout=timeout if timeout is not None else spec.budget.timeout, seed=seed, held=True)


def _refit(session, refit: str | None) -> None:
    target = session.refit_target(refit)
    if target is not None:
        mode, trial = target
        err_console.print(f"retraining trial {trial.number} on the {record.REFIT_ROWS[mode]} rows for the best "
                          f"model (--refit no keeps the trial's own)...", highlight=False)
        session.refit(refit)


def _connect_ray(study: str, storage: str | None, address: str, workers: int | None):
    from tuner.run.cluster import connect_for

    cluster = connect_for(study, address=address, storage=storage, workers=workers)
    err_console.print(cluster.describe(), highlight=False)
    return cluster


def _print_best_model(session) -> None:
    from tuner.views.artifacts import best_model_info
    from tuner.views.summary import best_model_line

    info = best_model_info(session.study)
    if info is not None:
        console.print(f"{best_model_line(session.study, info)} kept as {session.artifacts / info['artifact_id']}; "
                      f"download it from `tuner dashboard`", highlight=False)


def _bind_dashboard(storage: str | None, artifacts: str | None, port: int):
    """Bind optuna-dashboard's server on 127.0.0.1 before the study is touched (a taken port stops nothing half-done)."""
    from tuner.views import dashboard as board
    from tuner.views.artifacts import resolve_dir
    from tuner.store import default_url

    url = storage or default_url()
    return board.make(url, resolve_dir(artifacts, url), board.DEFAULT_HOST, port)


def _serve_dashboard(server, study_id: int) -> None:
    from tuner.views import dashboard as board

    board.serve_in_background(server)
    err_console.print(f"dashboard: {board.address(server, study_id)} (stops when the run ends)", highlight=False)
