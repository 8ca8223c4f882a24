"""The pieces of tuner's store that stand in for Optuna's own storage path, each of which a benchmark can turn off
(Optuna's path in its place) to measure what it is worth: `apply(name)` in the process being measured, before it
opens a storage. Used by bench_paths.py (the fixed workload), bench_scale.py (many workers) and bench_store.py (the
commands a user waits for on a large store).
"""

from __future__ import annotations


def _optuna_insert() -> None:
    """New trials through Optuna's `create_new_trial` (the ORM, five statements) instead of tuner's two."""
    from optuna.storages import _CachedStorage

    from tuner.store import writeback

    def create(self, study_id, template_trial=None):  # noqa: ANN001, ANN202
        trial_id = _CachedStorage.create_new_trial(self, study_id, template_trial)
        with self._lock:
            study, number = self._trial_id_to_study_id_and_number[trial_id]
            trial = self._studies[study].trials[number]
            if trial.state.name == "RUNNING":
                self._running[trial_id] = writeback._Running(trial)
        return trial_id

    writeback.BufferedStorage.create_new_trial = create


def _optuna_reads() -> None:
    """Whole trials read through Optuna's ORM (RDBStorage._get_trials) instead of as plain rows (trialread)."""
    from optuna.storages import RDBStorage

    from tuner.store import database

    database.Database._get_trials = RDBStorage._get_trials


def _optuna_outline() -> None:
    """`list`, `status`, `best` and `export` read every trial whole through Optuna's ORM, not the outline."""
    from tuner.store import interface, writeback

    _optuna_reads()
    interface.OptunaStorage.outline = lambda self, study_id: self.storage.get_all_trials(study_id, deepcopy=False)
    writeback.BufferedStorage.outline = lambda self, study_id: self.get_all_trials(study_id, deepcopy=False)


PIECES = {"optuna-insert": _optuna_insert, "optuna-reads": _optuna_reads, "optuna-outline": _optuna_outline}


def apply(name: str) -> None:
    """Turn off one piece (a key of PIECES); "tuner" turns off nothing."""
    if name != "tuner":
        PIECES[name]()


def prelude(name: str) -> str:
    """Python source that applies `name` in a fresh interpreter (benchmarks/ on its path)."""
    return f"import sys; sys.path.insert(0, {str(__import__('pathlib').Path(__file__).resolve().parent)!r})\n" \
           f"import store_pieces; store_pieces.apply({name!r})\n"
