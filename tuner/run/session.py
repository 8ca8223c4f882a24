"""A run of a study: everything is checked (study file, data, metric, storage) before the study is touched."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from tuner import interrupt, record
from tuner.backend import gpu_count, limit_gpu_memory
from tuner.data import Dataset, load_data
from tuner.errors import DataError, SpecError
from tuner.run import runner
from tuner.run import workers as local
from tuner.search import multiobjective, oneshot, space, warmstart
from tuner.search.metric import Metric, resolve_metric
from tuner.search.models import models_for
from tuner.search.objective import Objective
from tuner.search.pruning import make_pruner
from tuner.search.sampler import make_sampler
from tuner.search.source import ModelSource
from tuner.search.watch import TrialWatch
from tuner.spec import GridSpec, StudySpec, load_spec
from tuner.spec.files import find_study_file
from tuner.store import buffered, open_storage, studies
from tuner.views import notes
from tuner.views.artifacts import BestModelKeeper, resolve_dir

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from tuner.run.cluster import RayCluster
    from tuner.run.export import Retrained

log = logging.getLogger("tuner.run")


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
    keeper: BestModelKeeper | None = None  # keeps the best model in that folder
    worker: str = field(default_factory=local.label)  # who runs the trials, as each trial records it

    def limits(self, trials: int | None, timeout: float | None) -> tuple[int | None, float | None]:
        """This run's trial budget (`trials` over the study file's: a total for the study, stored with it so that
        workers that join later use the same) and timeout (`timeout` over the file's)."""
        budget = trial_budget(self.spec, trials)
        if budget is not None:
            self.study.set_user_attr(record.TRIALS, budget)
        return budget, timeout if timeout is not None else self.spec.budget.timeout

    def work(self, trials: int | None, timeout: float | None, seed: int | None = None, *, workers: int | None = None,
             others: list[local.Worker] | None = None, cluster: RayCluster | None = None, on_trial=lambda s: None,
             say=lambda line: None) -> None:
        """Run the study until its budget or timeout: in this process; or as the first of `workers` local worker
        processes (`others`: the other N-1, started earlier and waiting, else started now); or as Ray actors on
        `cluster`, closed afterwards (`say` gets a line for each actor placed). `on_trial(study)` after each trial
        here and while the others run. A worker's error is one TunerError once all are done; Ctrl-C, or any error
        here, stops the other workers before it propagates.

        A study with `one_shot:` first runs its one-shot stage here (once per study), then the retrained trials."""
        one_shot = self.spec.one_shot is not None
        if one_shot and not oneshot.done(self.study):
            oneshot.stage(self.study, self.spec, self.data, self.metric, self.objective.models, budget=trials,
                          seed=self.objective.seed, artifacts=self.artifacts, say=say)
        try:
            self._work(trials, timeout, seed, workers, others, cluster, on_trial, say)
        finally:
            if one_shot:
                oneshot.record_rank(self.study, self.metric)

    def _work(self, trials: int | None, timeout: float | None, seed: int | None, workers: int | None,
              others: list[local.Worker] | None, cluster: RayCluster | None, on_trial, say) -> None:
        if cluster is not None:
            try:
                cluster.run(self.study, self.url, trials, timeout, seed, on_tick=lambda: on_trial(self.study),
                            say=say)
            finally:
                cluster.close()
            return
        if not workers:
            self.run(trials, timeout, on_trial)
            return
        from tuner.backend import limit_threads
        from tuner.errors import TunerError

        if others is None:
            others = local.spawn(self.study.study_name, workers, url=self.url, trials=trials, timeout=timeout,
                                    seed=seed)
        try:
            for other in others:
                other.go()
            limit_threads(local.threads_per_worker(workers))
            self.run(trials, timeout, on_trial)
            errors = local.wait(others, on_tick=lambda: on_trial(self.study))
        except BaseException:
            local.stop(others)
            raise
        if errors:
            raise TunerError("; ".join(errors))

    def run(self, trials: int | None, timeout: float | None, on_trial=lambda s: None) -> None:
        """Run until the budget or timeout; Ctrl-C ends the running trial (recorded) and raises KeyboardInterrupt.
        A study whose workers take a share of a GPU (resources.gpus < 1) keeps TensorFlow to that share here."""
        interrupt.install()
        if self.spec.one_shot is not None:
            oneshot.wait(self.study)  # the process that started the study runs the stage
        if self.spec.resources.gpus:
            log.info("GPU: %s", limit_gpu_memory(self.spec.resources.gpus))

        def after_trial(study: optuna.Study) -> None:
            on_trial(study)
            interrupt.check()

        runner.run(self.study, self.objective, trials=trials, timeout=timeout, on_trial=after_trial,
                   worker=self.worker)

    def refit_target(self, refit: str | bool | None = None) -> tuple[str, FrozenTrial] | None:
        """The refit `refit` asks for and the trial it retrains, or None when there is nothing to do: no complete
        trial, `refit: no`, or the best-model artifact already is that refit."""
        from tuner.run.export import refit_mode
        from tuner.views.artifacts import best_model_info
        from tuner.views.summary import best_trial_whole

        mode = refit_mode(self.spec, refit)
        if mode == "no" or self.keeper is None:
            return None
        best = best_trial_whole(self.study)
        kept = best_model_info(self.study) or {}
        if best is None or (kept.get("trial"), kept.get("refit")) == (best.number, mode):
            return None
        return mode, best

    def refit(self, refit: str | bool | None = None) -> Retrained | None:
        """After the search: the best trial retrained on the rows `refit` says (default: the study file's
        `refit`, training + validation rows) becomes the best-model artifact. Nothing to do without a complete
        trial, with `refit: no`, or when the artifact already is that refit."""
        from tuner.run.export import retrain

        target = self.refit_target(refit)
        if target is None:
            return None
        mode, best = target
        done = retrain(self.objective.models, self.data, self.metric, best, mode)
        self.keeper.keep(self.study, best.number, best.values[0], done.model, refit=mode,
                         trained_rows=len(done.data.x_train), test=done.test)
        return done


def trial_budget(spec: StudySpec, trials: int | None = None, grid: dict[str, list] | None = None) -> int | None:
    """The trial budget: the command line's, else the study file's; a grid holds at most its cell count (`grid`:
    the study's grid, where the study file alone does not give it)."""
    budget = trials if trials is not None else spec.budget.trials
    if isinstance(spec.sampler, GridSpec) and (grid is not None or spec.model is None):
        grid = grid if grid is not None else space.grid(spec.space, spec.training)
        cells = math.prod(len(values) for values in grid.values())
        budget = cells if budget is None else min(budget, cells)
    return budget


def check(path: Path) -> tuple[StudySpec, Dataset, Metric]:
    """Validate a study file, its data and its model without touching any store."""
    spec, data, metric, _ = prepare(path)
    return spec, data, metric


def prepare(path: Path) -> tuple[StudySpec, Dataset, Metric, ModelSource]:
    """`check`, and the models the study's trials train (the user's own model is built once, with the first
    trial's values, before anything is written)."""
    return prepare_spec(load_spec(path), path.parent, str(path))


def prepare_spec(spec: StudySpec, base_dir: Path,
                 where: str = "study") -> tuple[StudySpec, Dataset, Metric, ModelSource]:
    """`prepare` for a study definition already read (`base_dir`: where its relative paths start)."""
    data = load_data(spec.data, spec.task, base_dir)
    metric = resolve_metric(spec.training, data.task, spec.model is not None)
    models = models_for(spec, data, [base_dir, Path.cwd()])
    models.check(where)
    return spec, data, metric, models


def open_session(study: str | Path | StudySpec, *, storage: str | None = None, name: str | None = None,
                 seed: int | None = None, worker: int = 0, artifacts: str | Path | None = None,
                 base_dir: Path | None = None, gpus_here: bool = True,
                 one_shot: bool | dict[str, Any] = False) -> Session:
    """Open (create or resume) the study a study file describes (or a definition given as a StudySpec, with
    `name` and `base_dir`); nothing is written until all checks pass. `gpus_here`: the trials run on this machine,
    which needs a GPU if the study asks for one (False: a Ray cluster's workers run them, checked by the launcher).
    `one_shot`: give the study a one-shot stage (True: the default settings; a mapping: those settings) where the
    file sets none."""
    if isinstance(study, StudySpec):
        if name is None:
            raise SpecError("a study given as a definition needs a name; pass name=...")
        base = (base_dir or Path.cwd()).resolve()
        spec, data, metric, models = prepare_spec(study, base, f"study {name}")
    else:
        path = find_study_file(str(study))
        base = path.parent
        spec, data, metric, models = prepare(path)
        name = name or path.stem
    if one_shot and spec.one_shot is None:
        spec = with_one_shot(spec, one_shot if isinstance(one_shot, dict) else {})
    if gpus_here and spec.resources.gpus and not gpu_count():
        raise SpecError(f"resources.gpus: {spec.resources.gpus:g} asks for a GPU, but TensorFlow sees none on this "
                        f"machine; set resources.gpus: 0, or run with --ray on a cluster that has GPUs")
    store = buffered(open_storage(storage))
    existing = len(studies.load(store, name).trials) if name in studies.names(store) else 0
    base_seed = spec.sampler.seed if seed is None else seed
    sampler_seed = _sampler_seed(base_seed, existing, worker)
    first = models.first_trials()
    opened = studies.create_or_resume(
        store, name, spec, base, data.describe(), metric.name, metric.direction,
        sampler=make_sampler(spec, sampler_seed, models.grid()), pruner=make_pruner(spec),
        directions=multiobjective.directions(spec, metric) if spec.multi_objective else None)
    warmstart.enqueue(opened, first, base=spec.model is not None and spec.model.rewidens and
                      spec.warm_start.rule_of_thumb)
    names = [metric.name if objective == "metric" else objective for objective in spec.objectives]
    notes.describe_study(opened, notes.study_note(spec, data.describe(), metric, name, models.dimensions()), names)
    return _session(opened, spec, data, metric, models, base_seed, store.url, artifacts)


def with_one_shot(spec: StudySpec, settings: dict[str, Any]) -> StudySpec:
    """The study with a one-shot stage of these settings (`tuner start --one-shot`: the defaults), checked as the
    same `one_shot:` in the study file would be."""
    from pydantic import ValidationError

    try:
        return StudySpec.model_validate({**spec.model_dump(), "one_shot": settings})
    except ValidationError as exc:
        raise SpecError(exc.errors()[0]['msg'].removeprefix('Value error, ')) from None


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
    metric = resolve_metric(spec.training, data.task, spec.model is not None)
    roots = [stored.base_dir] + ([Path(data_dir)] if data_dir is not None else []) + [Path.cwd()]
    models = models_for(spec, data, roots)  # the user's model is found like data files
    base_seed = spec.sampler.seed if seed is None else seed
    sampler_seed = _sampler_seed(base_seed, len(found.trials), os.getpid() if worker is None else worker)
    opened = studies.load(store, name, sampler=make_sampler(spec, sampler_seed, models.grid()),
                          pruner=make_pruner(spec))
    return _session(opened, spec, data, metric, models, base_seed, store.url, artifacts)


def _session(study: optuna.Study, spec: StudySpec, data: Dataset, metric: Metric, models: ModelSource,
             seed: int | None, url: str, artifacts: str | Path | None) -> Session:
    """A session whose objective keeps the trial notes and the best model current."""
    from tuner.training.raw_inputs import raw_inputs

    folder = resolve_dir(artifacts, url)
    keeper = BestModelKeeper(folder, metric, prepare=lambda model: raw_inputs(model, data),  # it takes raw rows
                             classes=data.classes)
    objective = Objective(spec, data, metric, seed=seed or 0, watch=TrialWatch(keeper), models=models)
    return Session(study, spec, data, metric, objective, url, folder, keeper)


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
    relative = spec.data.csv or spec.data.npz or spec.data.images or spec.data.loader
    raise DataError(f"study {name!r}: data file {relative} not found on this machine (looked in "
                    f"{', '.join(str(r) for r in dict.fromkeys(roots))}); copy it there or pass --data-dir")
