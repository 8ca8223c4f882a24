"""A study's trials in outline, for `tuner list`, `status`, `best` and `export`: number, state, values, and only the
attributes their counts look at (tuner.trialread's queries, three of the six tables, filtered).

Optuna reads a trial whole (parameters, every reported value, every attribute) through its ORM: a store holding
10,000 trials took ~8 s to list. The outline leaves out what the counts never look at; the few trials shown in
full (the latest ones, the best one) are then read whole, one by one.
"""

from __future__ import annotations

import optuna
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial
from sqlalchemy import or_, select

from tuner.constraints import LEGACY_KEY
from tuner.trialread import SYSTEM_ATTRS, TRIAL_COLUMNS, TRIALS, USER_ATTRS, attrs_by_trial, frozen, values_by_trial

# User attributes that decide how a trial counts (tuner.summary.counts_toward_budget).
COUNTED_ATTRS = ("fail_reason", "warm_start")


def trials(study: optuna.Study) -> list[FrozenTrial]:
    """The study's trials in order of number, without parameters, reported values or other attributes; every trial
    whole when the storage is not one of Optuna's RDB storages."""
    backend = getattr(study._storage, "_backend", study._storage)
    if not isinstance(backend, RDBStorage):
        return study.get_trials(deepcopy=False)
    with backend.engine.connect() as conn:
        rows = conn.execute(select(*TRIAL_COLUMNS).where(TRIALS.c.study_id == study._study_id)
                            .order_by(TRIALS.c.number)).all()
        ids = select(TRIALS.c.trial_id).where(TRIALS.c.study_id == study._study_id)  # all of them: one query each
        values = values_by_trial(conn, ids)
        user = attrs_by_trial(conn, USER_ATTRS, ids, USER_ATTRS.c.key.in_(COUNTED_ATTRS))
        system = attrs_by_trial(conn, SYSTEM_ATTRS, ids, or_(SYSTEM_ATTRS.c.key == LEGACY_KEY,
                                                              SYSTEM_ATTRS.c.key.startswith(f"{LEGACY_KEY}:")))
    return [frozen(row, values.get(row[0]), [], user.get(row[0], {}), system.get(row[0], {}), {}) for row in rows]


def whole(study: optuna.Study, outlined: list[FrozenTrial]) -> list[FrozenTrial]:
    """The same trials read whole (all attributes, parameters and reported values), one by one."""
    return [study._storage.get_trial(t._trial_id) for t in outlined]
