"""The sampler: the study file's choice turned into an Optuna sampler."""

from __future__ import annotations

from typing import Any

import optuna

from tuner.search import space
from tuner.spec import GridSpec, RandomSpec, StudySpec


def make_sampler(spec: StudySpec, seed: int | None = None,
                 grid: dict[str, list[Any]] | None = None) -> optuna.samplers.BaseSampler:
    """`seed` overrides the study file's sampler seed (callers offset it so a resumed run does not replay); `grid`:
    the grid of a grid study, where the study file alone does not give it (the user's own model)."""
    s = spec.sampler
    seed = s.seed if seed is None else seed
    if isinstance(s, GridSpec):  # the seed orders the grid: every worker and every resumed run needs the same one
        return optuna.samplers.GridSampler(grid if grid is not None else space.grid(spec.space, spec.training),
                                           seed=s.seed)
    if isinstance(s, RandomSpec):
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=s.n_startup_trials, multivariate=True, group=s.group)
