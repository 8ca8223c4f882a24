"""A running trial's write-back on PostgreSQL as one statement: one round trip, atomic without a transaction.

Each table's rows travel as arrays (unnest), so the statement's text never changes: SQLAlchemy compiles it once
and the server prepares it once. Every write joins the trial's row only while the trial is RUNNING, so a trial that
another worker has failed meanwhile gets nothing; the caller then takes the general path, which says why.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from typing import Any

from optuna import distributions
from optuna.trial import TrialState

_WRITES = """
p AS (INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json)
      SELECT t.trial_id, x.name, x.value, x.dist
      FROM t, unnest(CAST(:p_names AS text[]), CAST(:p_values AS float8[]), CAST(:p_dists AS text[]))
              AS x(name, value, dist)),
u AS (INSERT INTO trial_user_attributes (trial_id, key, value_json)
      SELECT t.trial_id, x.key, x.value
      FROM t, unnest(CAST(:u_keys AS text[]), CAST(:u_values AS text[])) AS x(key, value)
      ON CONFLICT (trial_id, key) DO UPDATE SET value_json = excluded.value_json),
s AS (INSERT INTO trial_system_attributes (trial_id, key, value_json)
      SELECT t.trial_id, x.key, x.value
      FROM t, unnest(CAST(:s_keys AS text[]), CAST(:s_values AS text[])) AS x(key, value)
      ON CONFLICT (trial_id, key) DO UPDATE SET value_json = excluded.value_json),
a AS (INSERT INTO study_system_attributes (study_id, key, value_json)
      SELECT :study_id, x.key, x.value
      FROM t, unnest(CAST(:a_keys AS text[]), CAST(:a_values AS text[])) AS x(key, value)
      ON CONFLICT (study_id, key) DO UPDATE SET value_json = excluded.value_json),
i AS (INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value, intermediate_value_type)
      SELECT t.trial_id, x.step, x.value, CAST(x.kind AS trialintermediatevaluetype)
      FROM t, unnest(CAST(:i_steps AS int[]), CAST(:i_values AS float8[]), CAST(:i_kinds AS text[]))
              AS x(step, value, kind)
      ON CONFLICT (trial_id, step) DO UPDATE SET intermediate_value = excluded.intermediate_value,
                                                 intermediate_value_type = excluded.intermediate_value_type),
h AS (INSERT INTO trial_heartbeats (trial_id, heartbeat)
      SELECT t.trial_id, CURRENT_TIMESTAMP FROM t WHERE :beat
      ON CONFLICT (trial_id) DO UPDATE SET heartbeat = excluded.heartbeat),
v AS (INSERT INTO trial_values (trial_id, objective, value, value_type)
      SELECT t.trial_id, x.objective, x.value, CAST(x.kind AS trialvaluetype)
      FROM t, unnest(CAST(:v_objectives AS int[]), CAST(:v_values AS float8[]), CAST(:v_kinds AS text[]))
              AS x(objective, value, kind))
SELECT count(*) FROM t
"""
# While the trial runs: its row is only looked at. When it ends: its state changes in the same statement.
_FLUSH = "WITH t AS (SELECT trial_id FROM trials WHERE trial_id = :trial_id AND state = 'RUNNING'),\n" + _WRITES
_END = ("WITH t AS (UPDATE trials SET state = CAST(:state AS trialstate), datetime_complete = :complete "
        "WHERE trial_id = :trial_id AND state = 'RUNNING' RETURNING trial_id),\n" + _WRITES)


def write(engine: Any, trial_id: int, study_id: int, params: list[tuple[str, float, Any]], user: dict[str, Any],
          system: dict[str, Any], study_attrs: dict[str, Any], steps: dict[int, float], state: TrialState | None,
          values: Sequence[float] | None, beat: bool) -> bool:
    """Store a running trial's pending writes (and, with `state`, its end) on `engine`, an autocommit PostgreSQL
    engine; False, with nothing stored, when the trial is not running in the database."""
    from optuna.storages._rdb import models
    from sqlalchemy import text

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
    with engine.connect() as conn:
        return conn.execute(text(_FLUSH if state is None else _END), bound).scalar_one() == 1


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)  # one array type: ints and floats are not mixed


def _attrs(prefix: str, attrs: dict[str, Any]) -> dict[str, list[str]]:
    return {f"{prefix}_keys": list(attrs), f"{prefix}_values": [json.dumps(value) for value in attrs.values()]}
