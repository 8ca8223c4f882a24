"""tuner from Python (a notebook, a script): run a study from a study file or a dict, get the study, its best trial
and its best model. The CLI works through these same functions.

    import tuner
    result = tuner.start("studies/digits_images.yaml", trials=12)
    print(result.best.value, result.best.params)
    model = tuner.best_model(result.study)        # retrained from its seed; takes raw inputs
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras
    import optuna
    from optuna.trial import FrozenTrial

    from tuner.run.session import Session


@dataclass(frozen=True)
class Result:
    """A finished run: the study (an optuna.Study in tuner's store) and its best trial (None: none completed)."""

    study: optuna.Study
    best: FrozenTrial | None
    session: Session


def open(study: str | Path | dict[str, Any], *, storage: str | None = None, name: str | None = None,  # noqa: A001
         seed: int | None = None, artifacts: str | Path | None = None, base_dir: str | Path | None = None,
         worker: int = 0, gpus_here: bool = True, one_shot: bool | dict[str, Any] = False) -> Session:
    """Open (create or resume) a study: a study file's name or path, or its definition as a dict (then `name` is
    needed, and relative paths in it start at `base_dir`, default the working folder). Everything is checked
    first; a mistake is a TunerError and nothing is written. `gpus_here` False: the trials run elsewhere (a Ray
    cluster's workers), so this machine needs no GPU for a study that asks for one. `one_shot`: run the one-shot
    stage first, as `one_shot: true` (or the mapping given, e.g. {"estimates": 1000}) in the study file would."""
    from tuner.run.session import open_session
    from tuner.spec import parse_spec

    quiet()
    if isinstance(study, dict):
        spec = parse_spec(study, f"study {name or '(unnamed)'}")
        return open_session(spec, storage=storage, name=name, seed=seed, artifacts=artifacts, worker=worker,
                            base_dir=Path(base_dir) if base_dir is not None else None, gpus_here=gpus_here,
                            one_shot=one_shot)
    return open_session(study, storage=storage, name=name, seed=seed, artifacts=artifacts, worker=worker,
                        gpus_here=gpus_here, one_shot=one_shot)


def start(study: str | Path | dict[str, Any], *, trials: int | None = None, timeout: float | None = None,
        storage: str | None = None, name: str | None = None, seed: int | None = None,
        artifacts: str | Path | None = None, base_dir: str | Path | None = None,
        refit: str | bool | None = None, ray: str | None = None, workers: int | None = None,
        one_shot: bool | dict[str, Any] = False) -> Result:
    """Open a study (see `open`) and run it until its trial budget (`trials` overrides the study file's, as a
    total for the study) or `timeout` seconds; then the best trial, retrained on the training and validation rows
    (`refit`: "yes", "no" for the trial's own model, "all" for every row; default the study file's), becomes the
    study's best-model artifact.

    `ray`: run `workers` workers (default: as many as fit) as actors on the Ray cluster at that address ("auto":
    the one `ray start --head` started on this machine), on a PostgreSQL or MariaDB `storage`; see docs/ray.md.
    `one_shot`: every width from one training first, then the best few retrained (docs/one-shot.md)."""

    cluster = _ray_cluster(study, ray, storage, workers, base_dir)
    try:
        session = open(study, storage=storage, name=name, seed=seed, artifacts=artifacts, base_dir=base_dir,
                       gpus_here=cluster is None, one_shot=one_shot)
    except BaseException:
        if cluster is not None:
            cluster.close()
        raise
    budget, timeout = session.limits(trials, timeout)
    session.work(budget, timeout, seed, workers=workers, cluster=cluster)
    session.refit(refit)
    return Result(session.study, best(session.study), session)


def _ray_cluster(study: str | Path | dict[str, Any], ray: str | None, storage: str | None, workers: int | None,
                 base_dir: str | Path | None):
    """The Ray cluster `start` runs on, connected and checked, or None for a run in this process."""
    from tuner.errors import TunerError
    from tuner.run.cluster import connect_for

    if ray is None:
        if workers is not None:
            raise TunerError("workers= runs workers on a Ray cluster: pass ray='auto' or its address too (for "
                             "local worker processes use `tuner start --workers N`)")
        return None
    quiet()
    return connect_for(study, address=ray, storage=storage, workers=workers, base_dir=base_dir)


def load(name: str, storage: str | None = None) -> optuna.Study:
    """A study in the store, by name (default store: TUNER_STORAGE, else sqlite:///tuner.db)."""
    from tuner.store import open_storage, studies

    return studies.load(open_storage(storage, heartbeat=False), name)


def best(study: optuna.Study) -> FrozenTrial | None:
    """The best complete trial (a study with several objectives: the Pareto front's most accurate), read whole."""
    from tuner.views.summary import best_trial_whole

    return best_trial_whole(study)


def best_model(study: optuna.Study, out: str | Path | None = None, trial: int | None = None,
               refit: str | bool | None = None) -> keras.Model:
    """The best (or a chosen) trial retrained from its seed, as `tuner export` saves it (it takes raw inputs):
    on the training and validation rows (`refit`: "no" for the trial's own rows, "all" for every row; default
    the study file's `refit`); the files are written to `out` (default a temporary folder)."""
    import keras

    from tuner.run.export import export_model
    from tuner.views.export import MODEL_FILE

    folder = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="tuner-model-"))
    export_model(study, folder, trial, refit)
    return keras.models.load_model(folder / MODEL_FILE)


def quiet() -> None:
    """Keep TensorFlow's start-up noise, Optuna's per-trial lines and its experimental-feature warnings out of the
    output (tuner uses heartbeats and metric names on purpose)."""
    import os
    import warnings

    import optuna

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
