"""A study's trials in outline, for `tuner list`, `status`, `best` and `export`: number, state, values, and only the
attributes their counts look at (tuner.store.trialread's queries, three of the six tables, filtered).

Optuna reads a trial whole (parameters, every reported value, every attribute) through its ORM: a store holding
10,000 trials took ~8 s to list. The outline leaves out what the counts never look at; the few trials shown in
full (the latest ones, the best one) are then read whole, one by one.
"""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial
from sqlalchemy.engine import Engine

from tuner import record
from tuner.store import interface, internals, schema
from tuner.store.trialread import attrs_by_trial, frozen, values_by_trial


def read(engine: Engine, study_id: int) -> list[FrozenTrial]:
    """The study's trials in order of number, without parameters, reported values or other attributes."""
    with engine.connect() as conn:
        rows, ids = schema.study_trial_rows(conn, study_id)  # ids: all of them, one query each
        values = values_by_trial(conn, ids)
        user = attrs_by_trial(conn, False, ids, keys=record.OUTLINE_ATTRS)
        system = attrs_by_trial(conn, True, ids, keys=[record.LEGACY_CONSTRAINTS],
                                prefix=f"{record.LEGACY_CONSTRAINTS}:")
    return [frozen(row, values.get(row[0]), [], user.get(row[0], {}), system.get(row[0], {}), {}) for row in rows]


def trials(study: optuna.Study) -> list[FrozenTrial]:
    """The study's trials in outline; every trial whole when its storage is not an SQL database."""
    return interface.of(internals.storage_of(study)).outline(internals.study_id(study))


def whole(study: optuna.Study, outlined: list[FrozenTrial]) -> list[FrozenTrial]:
    """The same trials read whole (all attributes, parameters and reported values), one by one."""
    return [internals.storage_of(study).get_trial(internals.trial_id(t)) for t in outlined]
