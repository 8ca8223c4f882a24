"""A study's trials in outline, for `tuner list`, `status` and `best`: number, state, values, and only the attributes
their counts look at, read with four SQL queries.

Optuna reads a trial whole (parameters, every reported value, every attribute) through its ORM: a store holding
10,000 trials took ~8 s to list. The outline leaves out what the counts never look at; the few trials shown in
full (the latest ones, the best one) are then read whole, one by one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import optuna
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState

from tuner.constraints import LEGACY_KEY

# User attributes that decide how a trial counts (tuner.summary.counts_toward_budget).
COUNTED_ATTRS = ("fail_reason", "warm_start")


def trials(study: optuna.Study) -> list[FrozenTrial]:
    """The study's trials in order of number, without parameters, reported values or other attributes; every trial
    whole when the storage is not one of Optuna's RDB storages."""
    backend = getattr(study._storage, "_backend", study._storage)
    if not isinstance(backend, RDBStorage):
        return study.get_trials(deepcopy=False)
    from optuna.storages._rdb import models
    from sqlalchemy import or_, select

    trial_table = models.TrialModel.__table__
    ids = select(trial_table.c.trial_id).where(trial_table.c.study_id == study._study_id)
    values = models.TrialValueModel.__table__
    user = models.TrialUserAttributeModel.__table__
    system = models.TrialSystemAttributeModel.__table__
    with backend.engine.connect() as conn:
        rows = conn.execute(select(trial_table.c.trial_id, trial_table.c.number, trial_table.c.state,
                                   trial_table.c.datetime_start, trial_table.c.datetime_complete)
                            .where(trial_table.c.study_id == study._study_id)
                            .order_by(trial_table.c.number)).all()
        stored_values = conn.execute(select(values.c.trial_id, values.c.objective, values.c.value,
                                            values.c.value_type).where(values.c.trial_id.in_(ids))).all()
        user_attrs = conn.execute(select(user.c.trial_id, user.c.key, user.c.value_json)
                                  .where(user.c.trial_id.in_(ids), user.c.key.in_(COUNTED_ATTRS))).all()
        system_attrs = conn.execute(select(system.c.trial_id, system.c.key, system.c.value_json)
                                    .where(system.c.trial_id.in_(ids),
                                           or_(system.c.key == LEGACY_KEY,
                                               system.c.key.startswith(f"{LEGACY_KEY}:")))).all()
    by_objective: dict[int, dict[int, float]] = defaultdict(dict)
    for trial_id, objective, value, value_type in stored_values:
        by_objective[trial_id][objective] = models.TrialValueModel.stored_repr_to_value(value, value_type)
    user, system = _grouped(user_attrs), _grouped(system_attrs)
    return [_outline(trial_id, number, state, start, complete, by_objective.get(trial_id), user.get(trial_id, {}),
                     system.get(trial_id, {}))
            for trial_id, number, state, start, complete in rows]


def whole(study: optuna.Study, outlined: list[FrozenTrial]) -> list[FrozenTrial]:
    """The same trials read whole (all attributes, parameters and reported values), one by one."""
    return [study._storage.get_trial(t._trial_id) for t in outlined]


def _outline(trial_id: int, number: int, state: TrialState, start: Any, complete: Any,
             values: dict[int, float] | None, user_attrs: dict[str, Any], system_attrs: dict[str, Any]) -> FrozenTrial:
    return FrozenTrial(number=number, state=state, value=None,
                       values=[values[k] for k in sorted(values)] if values else None,
                       datetime_start=start, datetime_complete=complete, params={}, distributions={},
                       user_attrs=user_attrs, system_attrs=system_attrs, intermediate_values={}, trial_id=trial_id)


def _grouped(rows: list[Any]) -> dict[int, dict[str, Any]]:
    """(trial id, key, JSON value) rows as each trial's attributes."""
    grouped: dict[int, dict[str, Any]] = defaultdict(dict)
    for trial_id, key, value_json in rows:
        grouped[trial_id][key] = json.loads(value_json)
    return grouped
