"""Sampler and pruner: the study file's choices turned into Optuna objects."""

from __future__ import annotations

import optuna

from tuner import space
from tuner.spec import GridSpec, HalvingSpec, HyperbandSpec, MedianSpec, RandomSpec, StudySpec


def make_sampler(spec: StudySpec, seed: int | None = None) -> optuna.samplers.BaseSampler:
    """`seed` overrides the study file's sampler seed (callers offset it so a resumed run does not replay)."""
    s = spec.sampler
    seed = s.seed if seed is None else seed
    if isinstance(s, GridSpec):  # the seed orders the grid: every worker and every resumed run needs the same one
        return optuna.samplers.GridSampler(space.grid(spec.space), seed=s.seed)
    if isinstance(s, RandomSpec):
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=s.n_startup_trials)


def make_pruner(spec: StudySpec) -> optuna.pruners.BasePruner:
    p, epochs = spec.pruner, spec.training.epochs
    if isinstance(p, MedianSpec):
        return optuna.pruners.MedianPruner(n_startup_trials=p.n_startup_trials, n_warmup_steps=p.n_warmup_steps)
    if isinstance(p, HalvingSpec):
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=p.min_resource,
                                                      reduction_factor=p.reduction_factor)
    if isinstance(p, HyperbandSpec):
        return optuna.pruners.HyperbandPruner(min_resource=p.min_resource, max_resource=epochs,
                                              reduction_factor=p.reduction_factor)
    return optuna.pruners.NopPruner()
