"""A run of a study: everything is checked (study file, data, metric, storage) before the study is touched."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import optuna

from tuner import interrupt
from tuner.data import Dataset, load_data
from tuner.errors import DataError, SpecError
from tuner.run import runner
from tuner.search import constraints, multiobjective, space, warmstart
from tuner.search.metric import Metric, resolve_metric
from tuner.search.objective import Objective
from tuner.search.pruning import make_pruner
from tuner.search.sampler import make_sampler
from tuner.search.watch import TrialWatch
from tuner.spec import GridSpec, StudySpec, load_spec
from tuner.spec.files import find_study_file
from tuner.store import buffered, open_storage, studies
from tuner.training import families
from tuner.views import notes
from tuner.views.artifacts import BestModelKeeper, resolve_dir


@dataclass
class Session:
    """A study opened for running, with its data loaded and its objective ready."""

    study: optuna.Study
    spec: StudySpec
    data: Dataset
    metric: Metric
    objective: Objective
    url: str
    artifacts: Path | None = None  # the artifact store folder (best model), None when not kept

    def budget(self, trials: int | None = None) -> int | None:
        return trial_budget(self.spec, trials)

    def run(self, trials: int | None, timeout: float | None, on_trial=lambda s: None) -> None:
        """Run until the budget or timeout; Ctrl-C ends the running trial (recorded) and raises KeyboardInterrupt."""
        interrupt.install()

        def after_trial(study: optuna.Study) -> None:
            on_trial(study)
            interrupt.check()

        runner.run(self.study, self.objective, trials=trials, timeout=timeout, on_trial=after_trial)


def trial_budget(spec: StudySpec, trials: int | None = None) -> int | None:
    """The trial budget: the command line's, else the study file's; a grid holds at most its cell count."""
    budget = trials if trials is not None else spec.budget.trials
    if isinstance(spec.sampler, GridSpec):
        cells = math.prod(len(values) for values in space.grid(spec.space, spec.training).values())
        budget = cells if budget is None else min(budget, cells)
    return budget


def check(path: Path) -> tuple[StudySpec, Dataset, Metric]:
    """Validate a study file and its data without touching any store."""
    spec = load_spec(path)
    data = load_data(spec.data, spec.task, path.parent)
    families.check(spec.space.family, data.shape)
    _check_budget(spec, data)
    warmstart.first_trials(spec, data.n_features, data.n_outputs, f"{path}: warm_start")  # they fit the space
    return spec, data, resolve_metric(spec.training, data.task)


def _check_budget(spec: StudySpec, data: Dataset) -> None:
    from tuner.training.model import count_params

    if spec.max_params is not None:
        small = constraints.smallest(spec.space.family, int(spec.space.layers.bounds()[0]),
                                     int(spec.space.units.bounds()[0]))
        constraints.check_reachable(small, count_params(small, data.n_features, data.n_outputs, data.shape),
                                    spec.max_params)


def open_session(study: str, *, storage: str | None = None, name: str | None = None,
                 seed: int | None = None, worker: int = 0, artifacts: str | Path | None = None) -> Session:
    """Open (create or resume) the study a study file describes; nothing is written until all checks pass."""
    path = find_study_file(study)
    spec, data, metric = check(path)
    store = buffered(open_storage(storage))
    name = name or path.stem
    existing = len(studies.load(store, name).trials) if name in studies.names(store) else 0
    base_seed = spec.sampler.seed if seed is None else seed
    sampler_seed = _sampler_seed(base_seed, existing, worker)
    first = warmstart.first_trials(spec, data.n_features, data.n_outputs)
    opened = studies.create_or_resume(
        store, name, spec, path.parent, data.describe(), metric.name, metric.direction,
        sampler=make_sampler(spec, sampler_seed), pruner=make_pruner(spec),
        directions=multiobjective.directions(spec, metric) if spec.multi_objective else None)
    warmstart.enqueue(opened, first)
    names = [metric.name if objective == "metric" else objective for objective in spec.objectives]
    notes.describe_study(opened, notes.study_note(spec, data.describe(), metric, name), names)
    return _session(opened, spec, data, metric, base_seed, store.url, artifacts)


def join_session(name: str, *, storage: str | None = None, data_dir: str | Path | None = None,
                 seed: int | None = None, worker: int | None = None, wait: float = 0,
                 artifacts: str | Path | None = None) -> Session:
    """Open an existing study from its stored definition alone (no study file), as a worker on any machine.

    A relative data path is looked up under the stored base folder, then `data_dir`, then the working folder.
    `worker` makes this process's sampler seed differ from the other workers' (default: the process id);
    `wait` is how many seconds to wait for the study to be created.
    """
    import os

    store = buffered(open_storage(storage))
    studies.wait_for(store, name, wait)
    found = studies.load(store, name)
    stored = studies.definition(found)
    spec = stored.spec
    data = _load_stored_data(spec, stored.base_dir, data_dir, name)
    metric = resolve_metric(spec.training, data.task)
    base_seed = spec.sampler.seed if seed is None else seed
    sampler_seed = _sampler_seed(base_seed, len(found.trials), os.getpid() if worker is None else worker)
    opened = studies.load(store, name, sampler=make_sampler(spec, sampler_seed), pruner=make_pruner(spec))
    return _session(opened, spec, data, metric, base_seed, store.url, artifacts)


def _session(study: optuna.Study, spec: StudySpec, data: Dataset, metric: Metric, seed: int | None, url: str,
             artifacts: str | Path | None) -> Session:
    """A session whose objective keeps the trial notes and the best model current."""
    from tuner.training.raw_inputs import raw_inputs

    folder = resolve_dir(artifacts, url)
    keeper = BestModelKeeper(folder, metric, prepare=lambda model: raw_inputs(model, data))  # it takes raw rows
    objective = Objective(spec, data, metric, seed=seed or 0, watch=TrialWatch(keeper))
    return Session(study, spec, data, metric, objective, url, folder)


def _sampler_seed(base: int | None, existing: int, worker: int) -> int | None:
    """Offset so that a resumed run does not replay its trials and parallel workers do not propose the same ones."""
    return None if base is None else (base + existing + 1000 * worker) % 2**32


def _load_stored_data(spec: StudySpec, base_dir: Path, data_dir: str | Path | None, name: str) -> Dataset:
    roots = [base_dir] + ([Path(data_dir)] if data_dir is not None else []) + [Path.cwd()]
    for root in roots:
        try:
            return load_data(spec.data, spec.task, root)
        except DataError as exc:
            if "not found" not in str(exc):
                raise
    relative = spec.data.csv or spec.data.npz
    raise DataError(f"study {name!r}: data file {relative} not found on this machine (looked in "
                    f"{', '.join(str(r) for r in dict.fromkeys(roots))}); copy it there or pass --data-dir")
