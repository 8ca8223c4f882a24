"""Whole trials read from Optuna's tables by plain SQL queries (trial ids in batches), rows turned into trials
directly.

Optuna's RDB storage builds an ORM object for every row first (a trial of 30 epochs has ~50 rows): reading 10,000
such trials took ~8 s, most of it in SQLAlchemy's ORM. The same rows read as plain tuples give the same trials
(`tests/test_trialread.py` compares them) in a fraction of that. Used by tuner's storage for every listing of a
study's trials (tuner.store.database.Database._get_trials); its pieces also read a study's outline.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Container, Sequence
from functools import lru_cache
from typing import Any

from optuna import distributions
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import Select
from sqlalchemy.engine import Connection

from tuner.store import schema


def read_trials(conn: Connection, study_id: int, states: Container[TrialState] | None, included_trial_ids: set[int],
                trial_id_greater_than: int) -> list[FrozenTrial]:
    """What RDBStorage._get_trials returns: the study's trials with an id above `trial_id_greater_than` or in
    `included_trial_ids` (those at or below it), in `states` if given, ordered by trial id."""
    included = {i for i in included_trial_ids if i <= trial_id_greater_than}
    rows = schema.trial_rows(conn, study_id, states, included, trial_id_greater_than)
    ids = [row[0] for row in rows]
    params: dict[int, list[tuple[int, str, float, str]]] = defaultdict(list)
    for trial_id, param_id, name, value, dist in schema.param_rows(conn, ids):
        params[trial_id].append((param_id, name, value, dist))
    steps: dict[int, dict[int, float]] = defaultdict(dict)
    for trial_id, step, value, kind in schema.step_rows(conn, ids):
        steps[trial_id][step] = schema.step_from_stored(value, kind)
    values, user, system = values_by_trial(conn, ids), attrs_by_trial(conn, False, ids), \
        attrs_by_trial(conn, True, ids)
    return [frozen(row, values.get(row[0]), sorted(params.get(row[0], ())), user.get(row[0], {}),
                   system.get(row[0], {}), steps.get(row[0], {})) for row in rows]


def values_by_trial(conn: Connection, ids: list[int] | Select) -> dict[int, list[float]]:
    """Each trial's objective values, in objective order (finished trials only have them)."""
    stored: dict[int, dict[int, float]] = defaultdict(dict)
    for trial_id, objective, value, kind in schema.value_rows(conn, ids):
        stored[trial_id][objective] = schema.value_from_stored(value, kind)
    return {trial_id: [by[k] for k in range(len(by))] for trial_id, by in stored.items()}


def attrs_by_trial(conn: Connection, system: bool, ids: list[int] | Select, keys: Sequence[str] | None = None,
                   prefix: str | None = None) -> dict[int, dict[str, Any]]:
    """Each trial's user (or system) attributes; only `keys` and keys starting with `prefix` when given."""
    grouped: dict[int, dict[str, Any]] = defaultdict(dict)
    for trial_id, key, value_json in schema.attr_rows(conn, system, ids, keys, prefix):
        grouped[trial_id][key] = json.loads(value_json)
    return grouped


def frozen(row: Any, values: list[float] | None, params: list[tuple[int, str, float, str]],
           user_attrs: dict[str, Any], system_attrs: dict[str, Any], steps: dict[int, float]) -> FrozenTrial:
    """A trial from its schema.TRIAL_COLUMNS row and its rows in the other tables (params as (id, name, value,
    JSON distribution), in the order they were suggested)."""
    trial_id, number, state, start, complete = row
    return FrozenTrial(number=number, state=state, value=None, values=values, datetime_start=schema.local_time(start),
                       datetime_complete=schema.local_time(complete),
                       params={name: _distribution(dist).to_external_repr(value) for _, name, value, dist in params},
                       distributions={name: _distribution(dist) for _, name, _, dist in params},
                       user_attrs=user_attrs, system_attrs=system_attrs, intermediate_values=steps, trial_id=trial_id)


@lru_cache(maxsize=1024)
def _distribution(text: str) -> distributions.BaseDistribution:
    """A stored distribution; a study has few distinct ones, each stored once per trial (distributions are
    immutable: sharing one object between trials is safe)."""
    return distributions.json_to_distribution(text)
