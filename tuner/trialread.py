"""Whole trials read from Optuna's tables by plain SQL queries (trial ids in batches of 500), rows turned into trials
directly.

Optuna's RDB storage builds an ORM object for every row first (a trial of 30 epochs has ~50 rows): reading 10,000
such trials took ~8 s, most of it in SQLAlchemy's ORM. The same rows read as plain tuples give the same trials
(`tests/test_trialread.py` compares them) in a fraction of that. Used by tuner's storage for every listing of a
study's trials (tuner.storage._Storage._get_trials); its pieces also read a study's outline (tuner.outline).
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
from sqlalchemy import Select, or_, select
from sqlalchemy.engine import Connection

TRIALS = models.TrialModel.__table__
VALUES = models.TrialValueModel.__table__
PARAMS = models.TrialParamModel.__table__
USER_ATTRS = models.TrialUserAttributeModel.__table__
SYSTEM_ATTRS = models.TrialSystemAttributeModel.__table__
STEPS = models.TrialIntermediateValueModel.__table__
FINITE = models.TrialIntermediateValueModel.TrialIntermediateValueType.FINITE
TRIAL_COLUMNS = (TRIALS.c.trial_id, TRIALS.c.number, TRIALS.c.state, TRIALS.c.datetime_start,
                 TRIALS.c.datetime_complete)
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
    rows = conn.execute(select(*TRIAL_COLUMNS).where(*where).order_by(TRIALS.c.trial_id)).all()
    ids = [row[0] for row in rows]
    params: dict[int, list[tuple[int, str, float, str]]] = defaultdict(list)
    for trial_id, param_id, name, value, dist in owned(conn, PARAMS, ids, PARAMS.c.param_id, PARAMS.c.param_name,
                                                       PARAMS.c.param_value, PARAMS.c.distribution_json):
        params[trial_id].append((param_id, name, value, dist))
    steps: dict[int, dict[int, float]] = defaultdict(dict)
    to_value = models.TrialIntermediateValueModel.stored_repr_to_intermediate_value
    for trial_id, step, value, kind in owned(conn, STEPS, ids, STEPS.c.step, STEPS.c.intermediate_value,
                                             STEPS.c.intermediate_value_type):
        steps[trial_id][step] = value if kind is FINITE else to_value(value, kind)  # most are finite
    values, user, system = values_by_trial(conn, ids), attrs_by_trial(conn, USER_ATTRS, ids), \
        attrs_by_trial(conn, SYSTEM_ATTRS, ids)
    return [frozen(row, values.get(row[0]), sorted(params.get(row[0], ())), user.get(row[0], {}),
                   system.get(row[0], {}), steps.get(row[0], {})) for row in rows]


def owned(conn: Connection, table: Any, ids: list[int] | Select, *columns: Any, where: Any = None) -> list[Any]:
    """(trial id, *columns) rows of the trials `ids` in `table`. A list of ids is looked up in batches, as Optuna's
    ORM does (an IN subquery made PostgreSQL scan the whole table: 19 ms instead of 4 for one new trial); a query
    selecting trial ids (a whole study) is used as one subquery."""
    query = select(table.c.trial_id, *columns)
    query = query if where is None else query.where(where)
    if not isinstance(ids, list):
        return conn.execute(query.where(table.c.trial_id.in_(ids.scalar_subquery()))).all()
    return [row for start in range(0, len(ids), BATCH)
            for row in conn.execute(query.where(table.c.trial_id.in_(ids[start:start + BATCH]))).all()]


def values_by_trial(conn: Connection, ids: list[int] | Select) -> dict[int, list[float]]:
    """Each trial's objective values, in objective order (finished trials only have them)."""
    stored: dict[int, dict[int, float]] = defaultdict(dict)
    for trial_id, objective, value, kind in owned(conn, VALUES, ids, VALUES.c.objective, VALUES.c.value,
                                                  VALUES.c.value_type):
        stored[trial_id][objective] = models.TrialValueModel.stored_repr_to_value(value, kind)
    return {trial_id: [by[k] for k in range(len(by))] for trial_id, by in stored.items()}


def attrs_by_trial(conn: Connection, table: Any, ids: list[int] | Select,
                   where: Any = None) -> dict[int, dict[str, Any]]:
    """Each trial's attributes from a (trial id, key, value_json) table, those matching `where` only."""
    grouped: dict[int, dict[str, Any]] = defaultdict(dict)
    for trial_id, key, value_json in owned(conn, table, ids, table.c.key, table.c.value_json, where=where):
        grouped[trial_id][key] = json.loads(value_json)
    return grouped


def frozen(row: Any, values: list[float] | None, params: list[tuple[int, str, float, str]],
           user_attrs: dict[str, Any], system_attrs: dict[str, Any], steps: dict[int, float]) -> FrozenTrial:
    """A trial from its TRIAL_COLUMNS row and its rows in the other tables (params as (id, name, value, JSON
    distribution), in the order they were suggested)."""
    trial_id, number, state, start, complete = row
    return FrozenTrial(number=number, state=state, value=None, values=values, datetime_start=start,
                       datetime_complete=complete,
                       params={name: _distribution(dist).to_external_repr(value) for _, name, value, dist in params},
                       distributions={name: _distribution(dist) for _, name, _, dist in params},
                       user_attrs=user_attrs, system_attrs=system_attrs, intermediate_values=steps, trial_id=trial_id)


@lru_cache(maxsize=1024)
def _distribution(text: str) -> distributions.BaseDistribution:
    """A stored distribution; a study has few distinct ones, each stored once per trial (distributions are
    immutable: sharing one object between trials is safe)."""
    return distributions.json_to_distribution(text)
