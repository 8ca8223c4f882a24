"""Whole trials read from Optuna's tables with one SQL query a table, rows turned into trials directly.

Optuna's RDB storage builds an ORM object for every row first (a trial of 30 epochs has ~50 rows): reading 10,000
such trials took ~8 s, most of it in SQLAlchemy's ORM. The same rows read as plain tuples give the same trials
(`tests/test_trialread.py` compares them) in a fraction of that. Used by tuner's storage for every listing of a
study's trials (tuner.storage._Storage._get_trials).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Container
from functools import lru_cache
from typing import Any

from optuna import distributions
from optuna.storages._rdb import models
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import or_, select
from sqlalchemy.engine import Connection

TRIALS = models.TrialModel.__table__
VALUES = models.TrialValueModel.__table__
PARAMS = models.TrialParamModel.__table__
USER_ATTRS = models.TrialUserAttributeModel.__table__
SYSTEM_ATTRS = models.TrialSystemAttributeModel.__table__
STEPS = models.TrialIntermediateValueModel.__table__
FINITE = models.TrialIntermediateValueModel.TrialIntermediateValueType.FINITE
BATCH = 500  # trial ids a query (SQLite allows 32,766 bound values a statement, older builds 999)


def read_trials(conn: Connection, study_id: int, states: Container[TrialState] | None, included_trial_ids: set[int],
                trial_id_greater_than: int) -> list[FrozenTrial]:
    """What RDBStorage._get_trials returns: the study's trials with an id above `trial_id_greater_than` or in
    `included_trial_ids` (those at or below it), in `states` if given, ordered by trial id."""
    included = {i for i in included_trial_ids if i <= trial_id_greater_than}
    where = [TRIALS.c.study_id == study_id]
    if states is not None:
        where.append(TRIALS.c.state.in_(list(states)))  # type: ignore[arg-type]
    if trial_id_greater_than > -1:
        newer = TRIALS.c.trial_id > trial_id_greater_than
        where.append(or_(newer, TRIALS.c.trial_id.in_(sorted(included))) if included else newer)
    rows = conn.execute(select(TRIALS.c.trial_id, TRIALS.c.number, TRIALS.c.state, TRIALS.c.datetime_start,
                               TRIALS.c.datetime_complete).where(*where).order_by(TRIALS.c.trial_id)).all()
    if not rows:
        return []
    ids = [row[0] for row in rows]

    def owned(table: Any, *columns: Any) -> list[Any]:
        """The table's rows of the chosen trials, looked up by trial id in batches (as Optuna's ORM does: a
        subquery instead made PostgreSQL scan the whole table, 19 ms instead of 4 for one new trial)."""
        query = select(table.c.trial_id, *columns)
        return [row for start in range(0, len(ids), BATCH)
                for row in conn.execute(query.where(table.c.trial_id.in_(ids[start:start + BATCH]))).all()]

    values: dict[int, dict[int, float]] = defaultdict(dict)
    for trial_id, objective, value, kind in owned(VALUES, VALUES.c.objective, VALUES.c.value, VALUES.c.value_type):
        values[trial_id][objective] = models.TrialValueModel.stored_repr_to_value(value, kind)
    params: dict[int, list[tuple[int, str, float, str]]] = defaultdict(list)
    for trial_id, param_id, name, value, dist in owned(PARAMS, PARAMS.c.param_id, PARAMS.c.param_name,
                                                       PARAMS.c.param_value, PARAMS.c.distribution_json):
        params[trial_id].append((param_id, name, value, dist))
    user = _attrs(owned(USER_ATTRS, USER_ATTRS.c.key, USER_ATTRS.c.value_json))
    system = _attrs(owned(SYSTEM_ATTRS, SYSTEM_ATTRS.c.key, SYSTEM_ATTRS.c.value_json))
    steps: dict[int, dict[int, float]] = defaultdict(dict)
    to_value = models.TrialIntermediateValueModel.stored_repr_to_intermediate_value
    for trial_id, step, value, kind in owned(STEPS, STEPS.c.step, STEPS.c.intermediate_value,
                                             STEPS.c.intermediate_value_type):
        steps[trial_id][step] = value if kind is FINITE else to_value(value, kind)  # most are finite

    trials = []
    for trial_id, number, state, start, complete in rows:
        stored = values.get(trial_id)
        own = sorted(params.get(trial_id, ()))
        trials.append(FrozenTrial(
            number=number, state=state, value=None,
            values=[stored[k] for k in range(len(stored))] if stored else None,
            datetime_start=start, datetime_complete=complete,
            params={name: _distribution(dist).to_external_repr(value) for _, name, value, dist in own},
            distributions={name: _distribution(dist) for _, name, _, dist in own},
            user_attrs=user.get(trial_id, {}), system_attrs=system.get(trial_id, {}),
            intermediate_values=steps.get(trial_id, {}), trial_id=trial_id))
    return trials


@lru_cache(maxsize=1024)
def _distribution(text: str) -> distributions.BaseDistribution:
    """A stored distribution; a study has few distinct ones, each stored once per trial (distributions are
    immutable: sharing one object between trials is safe)."""
    return distributions.json_to_distribution(text)


def _attrs(rows: list[Any]) -> dict[int, dict[str, Any]]:
    grouped: dict[int, dict[str, Any]] = defaultdict(dict)
    for trial_id, key, value_json in rows:
        grouped[trial_id][key] = json.loads(value_json)
    return grouped
