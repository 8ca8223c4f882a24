"""A run of a study: everything is checked (study file, data, metric, storage) before the study is touched."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import optuna

from tuner import constraints, families, objectives, runner, strategy, study as studies, warmstart
from tuner.data import Dataset, load_data
from tuner.errors import SpecError
from tuner.metric import Metric, resolve_metric
from tuner.objective import Objective
from tuner.spec import StudySpec, load_spec
from tuner.storage import open_storage


@dataclass
class Session:
    """A study opened for running, with its data loaded and its objective ready."""

    study: optuna.Study
    spec: StudySpec
    data: Dataset
    metric: Metric
    objective: Objective
    url: str

    def run(self, trials: int | None, timeout: float | None, on_trial=lambda s: None) -> None:
        runner.run(self.study, self.objective, trials=trials, timeout=timeout, on_trial=on_trial)


def find_study_file(study: str) -> Path:
    """`digits`, `studies/digits.yaml` or any path: the study file it names."""
    path = Path(study)
    if path.suffix in (".yaml", ".yml"):
        return path
    for candidate in (Path("studies") / f"{study}.yaml", Path("studies") / f"{study}.yml", Path(f"{study}.yaml")):
        if candidate.is_file():
            return candidate
    raise SpecError(f"no study file for {study!r} (looked for studies/{study}.yaml); "
                    f"give a path to a .yaml file or create studies/{study}.yaml")


def check(path: Path) -> tuple[StudySpec, Dataset, Metric]:
    """Validate a study file and its data without touching any store."""
    spec = load_spec(path)
    data = load_data(spec.data, spec.task, path.parent)
    families.check(spec.space.family, data.shape)
    _check_budget(spec, data)
    warmstart.first_trials(spec, data.n_features, data.n_outputs, f"{path}: warm_start")  # they fit the space
    return spec, data, resolve_metric(spec.training, data.task)


def _check_budget(spec: StudySpec, data: Dataset) -> None:
    from tuner.model import count_params

    if spec.max_params is not None:
        small = constraints.smallest(spec.space.family, int(spec.space.layers.bounds()[0]),
                                     int(spec.space.units.bounds()[0]))
        constraints.check_reachable(small, count_params(small, data.n_features, data.n_outputs, data.shape),
                                    spec.max_params)


def open_session(study: str, *, storage: str | None = None, name: str | None = None,
                 seed: int | None = None) -> Session:
    """Open (create or resume) the study a study file describes; nothing is written until all checks pass."""
    path = find_study_file(study)
    spec, data, metric = check(path)
    store = open_storage(storage)
    name = name or path.stem
    existing = len(studies.load(store, name).trials) if name in studies.names(store) else 0
    base_seed = spec.sampler.seed if seed is None else seed
    sampler_seed = None if base_seed is None else base_seed + existing
    first = warmstart.first_trials(spec, data.n_features, data.n_outputs)
    opened = studies.create_or_resume(
        store, name, spec, path.parent, data.describe(), metric.name, metric.direction,
        sampler=strategy.make_sampler(spec, sampler_seed), pruner=strategy.make_pruner(spec),
        directions=objectives.directions(spec, metric) if spec.multi_objective else None)
    warmstart.enqueue(opened, first)
    return Session(opened, spec, data, metric, Objective(spec, data, metric, seed=base_seed or 0), store.url)
