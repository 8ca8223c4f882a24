"""Every private name of Optuna's (and optuna-dashboard's) that tuner reaches, outside the two storage classes that
extend Optuna's own (tuner.store.database.Database, an RDBStorage; tuner.store.writeback.BufferedStorage, a
_CachedStorage): what to check first when Optuna changes. `tests/test_imports.py` fails when another module uses
one; `benchmarks/optuna_private.py` counts them.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.storages import _CachedStorage as CachedStorage
from optuna.storages._cached_storage import _StudyInfo as StudyInfo
from optuna.storages._rdb import models
from optuna.storages._rdb.storage import _create_scoped_session as scoped_session

__all__ = ["CachedStorage", "StudyInfo", "backend_of", "cached_user_attrs", "dashboard_note", "models",
           "scoped_session", "storage_of", "study_id", "trial_id"]


def storage_of(study: optuna.Study) -> Any:
    """The storage a study was opened on."""
    return study._storage


def study_id(study: optuna.Study) -> int:
    return study._study_id


def trial_id(trial: optuna.Trial | optuna.trial.FrozenTrial) -> int:
    """A trial's id in its storage (a running trial's, or a frozen one's)."""
    return trial._trial_id


def backend_of(storage: CachedStorage) -> Any:
    """The RDB storage a _CachedStorage (as `optuna.load_study` wraps one) writes to."""
    return storage._backend


def cached_user_attrs(trial: optuna.Trial) -> dict[str, Any]:
    """The user attributes of a running trial's cached copy, which `Trial.set_user_attr` updates after its write."""
    return trial._cached_frozen_trial.user_attrs


def dashboard_note(trial: int, body: str) -> dict[str, Any]:
    """The study system attributes optuna-dashboard reads a trial's note from (version 1, the body in parts)."""
    from optuna_dashboard._note import note_ver_key, split_body

    return {note_ver_key(trial): 1, **split_body(body, trial)}
