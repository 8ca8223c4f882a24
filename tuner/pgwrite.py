"""A worker's statements on PostgreSQL for each trial it runs, each one round trip on its direct connection.

A running trial's write-back is one statement, atomic without a transaction. Each table's rows travel as arrays
(unnest), so the statement's text never changes and the server prepares it once. Every write joins the trial's
row only while the trial is RUNNING, so a trial that another worker has failed meanwhile gets nothing; the caller
then takes the general path, which says why. A new trial is one transaction sent at once (psycopg's pipeline).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from typing import Any

from optuna import distributions
from optuna.trial import TrialState

from tuner.pgdirect import DirectConnection

_WRITES = """
p AS (INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json)
      SELECT t.trial_id, x.name, x.value, x.dist
      FROM t, unnest(CAST(%(p_names)s AS text[]), CAST(%(p_values)s AS float8[]), CAST(%(p_dists)s AS text[]))
              AS x(name, value, dist)),
u AS (INSERT INTO trial_user_attributes (trial_id, key, value_json)
      SELECT t.trial_id, x.key, x.value
      FROM t, unnest(CAST(%(u_keys)s AS text[]), CAST(%(u_values)s AS text[])) AS x(key, value)
      ON CONFLICT (trial_id, key) DO UPDATE SET value_json = excluded.value_json),
s AS (INSERT INTO trial_system_attributes (trial_id, key, value_json)
      SELECT t.trial_id, x.key, x.value
      FROM t, unnest(CAST(%(s_keys)s AS text[]), CAST(%(s_values)s AS text[])) AS x(key, value)
      ON CONFLICT (trial_id, key) DO UPDATE SET value_json = excluded.value_json),
a AS (INSERT INTO study_system_attributes (study_id, key, value_json)
      SELECT %(study_id)s, x.key, x.value
      FROM t, unnest(CAST(%(a_keys)s AS text[]), CAST(%(a_values)s AS text[])) AS x(key, value)
      ON CONFLICT (study_id, key) DO UPDATE SET value_json = excluded.value_json),
i AS (INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value, intermediate_value_type)
      SELECT t.trial_id, x.step, x.value, CAST(x.kind AS trialintermediatevaluetype)
      FROM t, unnest(CAST(%(i_steps)s AS int[]), CAST(%(i_values)s AS float8[]), CAST(%(i_kinds)s AS text[]))
              AS x(step, value, kind)
      ON CONFLICT (trial_id, step) DO UPDATE SET intermediate_value = excluded.intermediate_value,
                                                 intermediate_value_type = excluded.intermediate_value_type),
h AS (INSERT INTO trial_heartbeats (trial_id, heartbeat)
      SELECT t.trial_id, CURRENT_TIMESTAMP FROM t WHERE %(beat)s
      ON CONFLICT (trial_id) DO UPDATE SET heartbeat = excluded.heartbeat),
v AS (INSERT INTO trial_values (trial_id, objective, value, value_type)
      SELECT t.trial_id, x.objective, x.value, CAST(x.kind AS trialvaluetype)
      FROM t, unnest(CAST(%(v_objectives)s AS int[]), CAST(%(v_values)s AS float8[]), CAST(%(v_kinds)s AS text[]))
              AS x(objective, value, kind))
SELECT count(*) FROM t
"""
# While the trial runs: its row is only looked at. When it ends: its state changes in the same statement.
_FLUSH = "WITH t AS (SELECT trial_id FROM trials WHERE trial_id = %(trial_id)s AND state = 'RUNNING'),\n" + _WRITES
_END = ("WITH t AS (UPDATE trials SET state = CAST(%(state)s AS trialstate), datetime_complete = %(complete)s "
        "WHERE trial_id = %(trial_id)s AND state = 'RUNNING' RETURNING trial_id),\n" + _WRITES)
# A new trial: the study's row is locked first (as Optuna does), so that the count in the next statement, which
# numbers the trial, sees every trial committed before the lock was granted.
_LOCK_STUDY = "SELECT study_id FROM studies WHERE study_id = %s FOR UPDATE"
_INSERT_TRIAL = ("INSERT INTO trials (number, study_id, state, datetime_start) "
                 "SELECT count(*), %(study_id)s, CAST('RUNNING' AS trialstate), %(start)s "
                 "FROM trials WHERE study_id = %(study_id)s RETURNING trial_id, number")
_STATES = ("SELECT trial_id, CAST(state AS text) FROM trials "
           "WHERE study_id = %(study_id)s AND (trial_id > %(after)s OR trial_id = ANY(CAST(%(also)s AS int[])))")


def write(conn: DirectConnection, trial_id: int, study_id: int, params: list[tuple[str, float, Any]],
          user: dict[str, Any], system: dict[str, Any], study_attrs: dict[str, Any], steps: dict[int, float],
          state: TrialState | None, values: Sequence[float] | None, beat: bool) -> bool:
    """Store a running trial's pending writes (and, with `state`, its end), in one statement; False, with nothing
    stored, when the trial is not running in the database."""
    from optuna.storages._rdb import models

    stored_steps = [models.TrialIntermediateValueModel.intermediate_value_to_stored_repr(v) for v in steps.values()]
    stored_values = [models.TrialValueModel.value_to_stored_repr(v) for v in values or []]
    bound = {
        "trial_id": trial_id, "study_id": study_id, "beat": beat,
        "p_names": [name for name, _, _ in params], "p_values": [_float(value) for _, value, _ in params],
        "p_dists": [distributions.distribution_to_json(dist) for _, _, dist in params],
        **_attrs("u", user), **_attrs("s", system), **_attrs("a", study_attrs),
        "i_steps": list(steps), "i_values": [_float(value) for value, _ in stored_steps],
        "i_kinds": [kind.name for _, kind in stored_steps],
        "v_objectives": list(range(len(stored_values))), "v_values": [_float(value) for value, _ in stored_values],
        "v_kinds": [kind.name for _, kind in stored_values],
    }
    if state is not None:
        bound.update(state=state.name, complete=datetime.datetime.now())
    return conn.rows(_FLUSH if state is None else _END, bound)[0][0] == 1


def insert_trial(conn: DirectConnection, study_id: int, start: datetime.datetime) -> tuple[int, int]:
    """A new RUNNING trial of the study, numbered after its trials, in one transaction sent at once: its
    (trial_id, number). KeyError when there is no such study."""
    from sqlalchemy.exc import IntegrityError

    try:
        inserted = conn.pipeline([("BEGIN", None), (_LOCK_STUDY, [study_id]),
                                  (_INSERT_TRIAL, {"study_id": study_id, "start": start}), ("COMMIT", None)])[2]
    except IntegrityError:  # the trial's foreign key: the study was deleted
        raise KeyError(f"No study with study_id {study_id} exists.") from None
    trial_id, number = inserted[0]
    return trial_id, number


def trial_states(conn: DirectConnection, study_id: int, after: int,
                 also: Sequence[int]) -> list[tuple[int, TrialState]]:
    """(trial_id, state) of the study's trials with an id above `after` or in `also`."""
    return [(trial_id, TrialState[state]) for trial_id, state in
            conn.rows(_STATES, {"study_id": study_id, "after": after, "also": list(also)})]


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)  # one array type: ints and floats are not mixed


def _attrs(prefix: str, attrs: dict[str, Any]) -> dict[str, list[str]]:
    return {f"{prefix}_keys": list(attrs), f"{prefix}_values": [json.dumps(value) for value in attrs.values()]}
