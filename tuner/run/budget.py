"""The runner's view of a study's budget: how many trials use it up, whether any waits or runs, at a cost that does
not grow with the study. What counts is tuner.views.summary.counts_toward_budget."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial, TrialState

from tuner.store import internals, of
from tuner.views.summary import classify


@dataclass(frozen=True)
class Look:
    used: int  # trials that use up the budget
    waiting: bool  # some trial waits in the queue
    running: bool  # some trial runs


class BudgetTally:
    """What the runner needs to know about a study before each trial, at a cost that does not grow with it.

    Trials are numbered from 0 and a finished trial never changes: the leading run of finished trials is counted
    once and remembered, and each look classifies only the trials after it (2,000 trials: ~1 ms a trial saved).
    """

    def __init__(self) -> None:
        self.settled = 0  # trials 0..settled-1 are finished
        self.settled_used = 0

    def look(self, trials_from: Callable[[int], list[FrozenTrial]]) -> Look:
        """`trials_from(n)`: the study's trials numbered n and up, in order."""
        used, waiting, running, advancing = self.settled_used, False, False, True
        for trial in trials_from(self.settled):
            counts = classify(trial)[1]
            used += counts
            if advancing and trial.state.is_finished():
                self.settled, self.settled_used = self.settled + 1, self.settled_used + counts
                continue
            advancing = False
            waiting = waiting or trial.state == TrialState.WAITING
            running = running or trial.state == TrialState.RUNNING
        return Look(used, waiting, running)


def trials_from(study: optuna.Study, number: int) -> list[FrozenTrial]:
    """The study's trials numbered `number` and up, in order: without listing the others where the storage can
    (tuner.store.writeback)."""
    return of(internals.storage_of(study)).trials_from(internals.study_id(study), number)
