"""What tuner needs from a study's storage beyond Optuna's BaseStorage, written down once.

tuner's run storage (tuner.store.writeback.BufferedStorage) implements `TunerStorage` itself; any other Optuna
storage is seen through `OptunaStorage`, which writes straight through and reads whole trials. Callers get the
interface from `of(storage)`; nothing probes a storage for what it can do.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial

from tuner.store import internals
from tuner.store.database import Database
from tuner.store.lock import BudgetLock


class TunerStorage(abc.ABC):
    """The extra operations tuner's objective, runner and views use."""

    @abc.abstractmethod
    def flush(self, trial_id: int) -> None:
        """Store what a running trial of this process has written so far (nothing when nothing is held back)."""

    @abc.abstractmethod
    def on_flush(self, trial_id: int, callback: Callable[[], None]) -> None:
        """Call `callback` once the trial's writes so far are stored: at its next flush, or at once."""

    @abc.abstractmethod
    def expire(self, study_id: int) -> None:
        """Make the next listing of the study ask the database, however recent the last one was."""

    @abc.abstractmethod
    def trials_from(self, study_id: int, number: int) -> list[FrozenTrial]:
        """The study's trials numbered `number` and up, in order of number, not copied."""

    @abc.abstractmethod
    def set_trial_user_attrs(self, trial_id: int, attrs: dict[str, Any]) -> None:
        """Several user attributes of one trial at once."""

    @abc.abstractmethod
    def set_running_study_attrs(self, trial_id: int, attrs: dict[str, Any]) -> bool:
        """Study system attributes that describe a trial running here (its dashboard note), kept with the trial's
        next write; False, and nothing kept, when the caller must write them itself."""

    @abc.abstractmethod
    def budget_lock(self, study_name: str) -> BudgetLock:
        """The lock every worker of the study holds while it counts the budget and creates a trial."""

    @abc.abstractmethod
    def outline(self, study_id: int) -> list[FrozenTrial]:
        """The study's trials in order of number, with their state, values and the attributes that decide how they
        count (tuner.record.OUTLINE_ATTRS, the constraints), parameters and reported values left out where the
        storage can."""


class OptunaStorage(TunerStorage):
    """Any Optuna storage through tuner's interface: every write goes straight to it. `database`: tuner's
    database underneath, when there is one (a lock all workers share, one transaction for several attributes,
    the outline read by SQL)."""

    def __init__(self, storage: BaseStorage, database: Database | None = None) -> None:
        self.storage, self.database = storage, database

    def flush(self, trial_id: int) -> None:
        pass

    def on_flush(self, trial_id: int, callback: Callable[[], None]) -> None:
        callback()

    def expire(self, study_id: int) -> None:
        pass

    def trials_from(self, study_id: int, number: int) -> list[FrozenTrial]:
        return self.storage.get_all_trials(study_id, deepcopy=False)[number:]

    def set_trial_user_attrs(self, trial_id: int, attrs: dict[str, Any]) -> None:
        if self.database is not None:
            self.database.set_trial_user_attrs(trial_id, attrs)
            return
        for key, value in attrs.items():
            self.storage.set_trial_user_attr(trial_id, key, value)

    def set_running_study_attrs(self, trial_id: int, attrs: dict[str, Any]) -> bool:
        return False

    def budget_lock(self, study_name: str) -> BudgetLock:
        return BudgetLock(self.database, study_name)

    def outline(self, study_id: int) -> list[FrozenTrial]:
        if self.database is None:
            return self.storage.get_all_trials(study_id, deepcopy=False)
        from tuner.store import outline

        return outline.read(self.database.engine, study_id)


def of(storage: BaseStorage) -> TunerStorage:
    """The storage through tuner's interface: itself when it is one of tuner's."""
    if isinstance(storage, TunerStorage):
        return storage
    if isinstance(storage, Database):
        return OptunaStorage(storage, storage)
    if isinstance(storage, internals.CachedStorage) and isinstance(internals.backend_of(storage), Database):
        return OptunaStorage(storage, internals.backend_of(storage))  # as optuna.load_study wraps a Database
    return OptunaStorage(storage)


def set_user_attrs(trial: optuna.Trial, attrs: dict[str, Any]) -> None:
    """`trial.set_user_attr` for each item, written together where the storage can."""
    of(trial.storage).set_trial_user_attrs(internals.trial_id(trial), attrs)
    internals.cached_user_attrs(trial).update(attrs)  # what Trial.set_user_attr does after its write


def flush(trial: optuna.Trial) -> None:
    """Store what the trial has written so far, where its storage holds writes back."""
    of(trial.storage).flush(internals.trial_id(trial))
