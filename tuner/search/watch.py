"""The objective's hook: what each trial leaves for the people watching the study, as it starts and once it has
trained (its dashboard note, and its model when it beats the study's best)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import optuna

from tuner.record import Hyperparams, LayerRow
from tuner.views import notes
from tuner.views.artifacts import BestModelKeeper

if TYPE_CHECKING:
    import keras


class TrialHook(Protocol):
    """Called by the objective at a trial's start and after its training; neither may fail the trial."""

    def started(self, trial: optuna.Trial, hp: Hyperparams, architecture: list[LayerRow]) -> None: ...

    def trained(self, trial: optuna.Trial, model: keras.Model, history: dict[str, list[float]]) -> None: ...


class TrialWatch:
    """A trial's note when it starts, its model offered to the best-model keeper when it has trained."""

    def __init__(self, keeper: BestModelKeeper | None = None) -> None:
        self.keeper = keeper

    def started(self, trial: optuna.Trial, hp: Hyperparams, architecture: list[LayerRow]) -> None:
        notes.save_trial_note(trial, notes.trial_note(trial.number, architecture, hp))

    def trained(self, trial: optuna.Trial, model: keras.Model, history: dict[str, list[float]]) -> None:
        if self.keeper is None:
            return
        values = history[self.keeper.metric.name]
        self.keeper.offer(trial, model, values[self.keeper.metric.best_index(values)])
