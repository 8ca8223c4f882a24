"""Runner: trials one after another until the study's budget or this run's time is used up."""

from __future__ import annotations

import time
from collections.abc import Callable

import optuna

from tuner.errors import TrialFailed
from tuner.summary import counts_toward_budget


def used(study: optuna.Study) -> int:
    """How much of the trial budget the study has used, all workers together."""
    return sum(counts_toward_budget(t) for t in study.get_trials(deepcopy=False))


def run(study: optuna.Study, objective: Callable[[optuna.Trial], float], *, trials: int | None,
        timeout: float | None, on_trial: Callable[[optuna.Study], None] = lambda s: None) -> None:
    """Run trials until the study holds `trials` that count (a total for the study) or `timeout` seconds pass.

    A failed trial (TrialFailed) is recorded with its reason and the run goes on; KeyboardInterrupt propagates
    after Optuna has recorded the interrupted trial.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while (trials is None or used(study) < trials) and (deadline is None or time.monotonic() < deadline):
        study.optimize(objective, n_trials=1, catch=(TrialFailed,))
        on_trial(study)
