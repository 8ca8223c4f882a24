"""Optuna's tables as tuner reads and writes them: every table, column and enum name, every SQL statement tuner
sends to them, and how values and datetimes are stored. The one module to change when Optuna's schema changes.

Queries and writes go through SQLAlchemy Core on every database; only the PostgreSQL budget lock's two statements
are texts sent on the driver's connection (tuner.store.postgres).
"""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Container, Sequence
from typing import Any

from optuna import distributions
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState
from sqlalchemy import DateTime, Select, bindparam, func, literal, or_, select, update
from sqlalchemy.engine import Connection, Engine

from tuner.store.internals import models

WRITTEN_FOR = 12  # Optuna's schema version (optuna.storages._rdb.models.SCHEMA_VERSION) this module was written for
INSTALLED = models.SCHEMA_VERSION

STUDIES = models.StudyModel.__table__
TRIALS = models.TrialModel.__table__
VALUES = models.TrialValueModel.__table__
PARAMS = models.TrialParamModel.__table__
USER_ATTRS = models.TrialUserAttributeModel.__table__
SYSTEM_ATTRS = models.TrialSystemAttributeModel.__table__
STEPS = models.TrialIntermediateValueModel.__table__
HEARTBEATS = models.TrialHeartbeatModel.__table__
STUDY_SYSTEM_ATTRS = models.StudySystemAttributeModel.__table__
TRIAL_COLUMNS = (TRIALS.c.trial_id, TRIALS.c.number, TRIALS.c.state, TRIALS.c.datetime_start,
                 TRIALS.c.datetime_complete)
FINITE = models.TrialIntermediateValueModel.TrialIntermediateValueType.FINITE
NOT_FOUND_MSG = models.NOT_FOUND_MSG
BATCH = 500  # trial ids a query (SQLite allows 32,766 bound values a statement, older builds 999)


# ---------------------------------------------------------------------------------------------------- values
def stored_value(value: float) -> tuple[float | None, Any]:
    """An objective value as its column and kind (inf and -inf have kinds of their own)."""
    return models.TrialValueModel.value_to_stored_repr(value)


def value_from_stored(value: float | None, kind: Any) -> float:
    return models.TrialValueModel.stored_repr_to_value(value, kind)


def stored_step(value: float) -> tuple[float | None, Any]:
    """A reported value as its column and kind (NaN and the infinities have kinds of their own)."""
    return models.TrialIntermediateValueModel.intermediate_value_to_stored_repr(value)


def step_from_stored(value: float | None, kind: Any) -> float:
    return value if kind is FINITE else models.TrialIntermediateValueModel.stored_repr_to_intermediate_value(
        value, kind)


def now() -> datetime.datetime:
    """The time a trial starts or ends, as Optuna keeps it in memory: naive local time."""
    return datetime.datetime.now()


def stored_time(moment: datetime.datetime | None) -> datetime.datetime | None:
    """A trial's time as Optuna 5 stores it: naive UTC (a naive `moment` is local time)."""
    return None if moment is None else moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def local_time(stored: datetime.datetime | None) -> datetime.datetime | None:
    """A stored trial time (naive UTC) as Optuna 5 reads it: naive local time."""
    if stored is None:
        return None
    return stored.replace(tzinfo=datetime.timezone.utc).astimezone().replace(tzinfo=None)


def utc_now() -> datetime.datetime:
    """Now, as stored times are: naive UTC."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


# ----------------------------------------------------------------------------------------------------- reads
def study_exists(conn: Connection, study_id: int) -> bool:
    return conn.execute(select(STUDIES.c.study_id).where(STUDIES.c.study_id == study_id)).first() is not None


def trial_rows(conn: Connection, study_id: int, states: Container[TrialState] | None, included: set[int],
               trial_id_greater_than: int) -> list[Any]:
    """TRIAL_COLUMNS of the study's trials with an id above `trial_id_greater_than` or in `included`, in `states`
    if given, ordered by trial id."""
    where = [TRIALS.c.study_id == study_id]
    if states is not None:
        where.append(TRIALS.c.state.in_(list(states)))  # type: ignore[arg-type]
    query = select(*TRIAL_COLUMNS).order_by(TRIALS.c.trial_id)
    if trial_id_greater_than <= -1:
        return conn.execute(query.where(*where)).all()
    newer = TRIALS.c.trial_id > trial_id_greater_than
    if len(included) <= BATCH:
        ids = or_(newer, TRIALS.c.trial_id.in_(sorted(included))) if included else newer
        return conn.execute(query.where(*where, ids)).all()
    # Many unfinished trials (optuna issue 1457): one statement may not bind them all; the newer trials, then the
    # included ones in batches.
    listed, rows = sorted(included), conn.execute(query.where(*where, newer)).all()
    for start in range(0, len(listed), BATCH):
        rows += conn.execute(query.where(*where, TRIALS.c.trial_id.in_(listed[start:start + BATCH]))).all()
    return sorted(rows, key=lambda row: row[0])


def study_trial_rows(conn: Connection, study_id: int) -> tuple[list[Any], Select]:
    """TRIAL_COLUMNS of every trial of the study in order of number, and a query selecting their ids."""
    rows = conn.execute(select(*TRIAL_COLUMNS).where(TRIALS.c.study_id == study_id).order_by(TRIALS.c.number)).all()
    return rows, select(TRIALS.c.trial_id).where(TRIALS.c.study_id == study_id)


def _owned(conn: Connection, table: Any, ids: list[int] | Select, *columns: Any, where: Any = None) -> list[Any]:
    """(trial id, *columns) rows of the trials `ids` in `table`. A list of ids is looked up in batches, as Optuna's
    ORM does (an IN subquery made PostgreSQL scan the whole table: 19 ms instead of 4 for one new trial); a query
    selecting trial ids (a whole study) is used as one subquery."""
    query = select(table.c.trial_id, *columns)
    query = query if where is None else query.where(where)
    if not isinstance(ids, list):
        return conn.execute(query.where(table.c.trial_id.in_(ids.scalar_subquery()))).all()
    return [row for start in range(0, len(ids), BATCH)
            for row in conn.execute(query.where(table.c.trial_id.in_(ids[start:start + BATCH]))).all()]


def param_rows(conn: Connection, ids: list[int]) -> list[Any]:
    """(trial id, param id, name, internal value, distribution JSON)."""
    return _owned(conn, PARAMS, ids, PARAMS.c.param_id, PARAMS.c.param_name, PARAMS.c.param_value,
                  PARAMS.c.distribution_json)


def step_rows(conn: Connection, ids: list[int]) -> list[Any]:
    """(trial id, step, stored value, kind)."""
    return _owned(conn, STEPS, ids, STEPS.c.step, STEPS.c.intermediate_value, STEPS.c.intermediate_value_type)


def value_rows(conn: Connection, ids: list[int] | Select) -> list[Any]:
    """(trial id, objective, stored value, kind)."""
    return _owned(conn, VALUES, ids, VALUES.c.objective, VALUES.c.value, VALUES.c.value_type)


def attr_rows(conn: Connection, system: bool, ids: list[int] | Select, keys: Sequence[str] | None = None,
              prefix: str | None = None) -> list[Any]:
    """(trial id, key, value JSON) of the trials' user (or system) attributes; only `keys`, and keys starting
    with `prefix`, when either is given."""
    table = SYSTEM_ATTRS if system else USER_ATTRS
    where = []
    if keys is not None:
        where.append(table.c.key.in_(list(keys)))
    if prefix is not None:
        where.append(table.c.key.startswith(prefix))
    return _owned(conn, table, ids, table.c.key, table.c.value_json, where=or_(*where) if where else None)


def trial_states(conn: Connection, study_id: int, after: int, unfinished: Sequence[int]) -> list[tuple[int, Any]]:
    """(trial_id, state) of the study's trials with an id above `after` or in `unfinished`."""
    newer = TRIALS.c.trial_id > after
    where = or_(newer, TRIALS.c.trial_id.in_(list(unfinished))) if unfinished else newer
    return [tuple(row) for row in
            conn.execute(select(TRIALS.c.trial_id, TRIALS.c.state).where(TRIALS.c.study_id == study_id, where))]


def orphan_trial_ids(conn: Connection, study_id: int, cutoff: datetime.datetime) -> list[int]:
    """Running trials of the study that started before `cutoff` (naive UTC, as stored) and never recorded a
    heartbeat."""
    no_beat = ~select(HEARTBEATS.c.trial_id).where(HEARTBEATS.c.trial_id == TRIALS.c.trial_id).exists()
    return list(conn.execute(select(TRIALS.c.trial_id).where(
        TRIALS.c.study_id == study_id, TRIALS.c.state == TrialState.RUNNING, TRIALS.c.datetime_start < cutoff,
        no_beat)).scalars())


def stored_distribution(engine: Engine, study_id: int, name: str) -> distributions.BaseDistribution | None:
    """The distribution other trials of the study stored for parameter `name` (None if none did)."""
    query = (select(PARAMS.c.distribution_json).join(TRIALS, TRIALS.c.trial_id == PARAMS.c.trial_id)
             .where(TRIALS.c.study_id == study_id, PARAMS.c.param_name == name).limit(1))
    with engine.connect() as conn:
        text = conn.execute(query).scalar()
    return None if text is None else distributions.json_to_distribution(text)


# ---------------------------------------------------------------------------------------------------- writes
def insert_trial(engine: Engine, study_id: int, start: datetime.datetime) -> tuple[int, int]:
    """A new RUNNING trial, numbered after the study's trials: the study row is locked (as Optuna does) and the
    trial inserted with its number counted in the same statement. Its (trial_id, number)."""
    count = select(func.count(TRIALS.c.trial_id), literal(study_id), literal(TrialState.RUNNING, TRIALS.c.state.type),
                   literal(stored_time(start), DateTime)).where(TRIALS.c.study_id == study_id)
    stmt = TRIALS.insert().from_select(["number", "study_id", "state", "datetime_start"], count)
    with engine.begin() as conn:
        if conn.execute(select(STUDIES.c.study_id).where(STUDIES.c.study_id == study_id).with_for_update()).first() \
                is None:
            raise KeyError(f"No study with study_id {study_id} exists.")
        if conn.dialect.insert_returning:
            trial_id, number = conn.execute(stmt.returning(TRIALS.c.trial_id, TRIALS.c.number)).one()
        else:
            trial_id = conn.execute(stmt).lastrowid
            number = conn.execute(select(TRIALS.c.number).where(TRIALS.c.trial_id == trial_id)).scalar_one()
    return trial_id, number


def write_trial(conn: Connection, trial_id: int, study_id: int, params: list[tuple[str, float, Any]],
                user: dict[str, Any], system: dict[str, Any], study_attrs: dict[str, Any],
                steps: dict[int, tuple[float, bool]], state: TrialState | None, values: Sequence[float] | None,
                complete: datetime.datetime | None, had_values: bool, beat: bool = False) -> None:
    """The statements of one write-back, in the open transaction `conn`: the trial must still be running (another
    worker may have failed it: Optuna's UpdateFinishedTrialError, found on `conn`, as a worker's storage has no
    second connection). `steps`: reported value and whether the database already holds that step; `state`,
    `values`, `complete`: how and when the trial ended; `beat`: record a heartbeat too."""
    if state is not None:  # the trial ends: its row is locked and changed first, and only while it is running
        ended = conn.execute(update(TRIALS).where(TRIALS.c.trial_id == trial_id, TRIALS.c.state == TrialState.RUNNING)
                             .values(state=state, datetime_complete=stored_time(complete)))
    if state is None or not ended.rowcount:
        found = conn.execute(select(TRIALS.c.state, TRIALS.c.number).where(TRIALS.c.trial_id == trial_id)).first()
        if found is None:
            raise KeyError(f"no trial with id {trial_id}")
        if found.state.is_finished():  # the message of Optuna's check_trial_is_updatable
            raise UpdateFinishedTrialError(f"Trial#{found.number} has already finished and can not be updated.")
    if params:
        conn.execute(PARAMS.insert(), [
            {"trial_id": trial_id, "param_name": name, "param_value": value,
             "distribution_json": distributions.distribution_to_json(dist)} for name, value, dist in params])
    dialect = conn.dialect.name
    for table, owner, attrs in ((USER_ATTRS, ("trial_id", trial_id), user),
                                (SYSTEM_ATTRS, ("trial_id", trial_id), system),
                                (STUDY_SYSTEM_ATTRS, ("study_id", study_id), study_attrs)):
        if attrs:
            column, owner_id = owner
            rows = [{column: owner_id, "key": key, "value_json": json.dumps(value)} for key, value in attrs.items()]
            conn.execute(_upsert(dialect, table, column), rows)
    if steps:
        _store_steps(conn, trial_id, steps)
    if beat:
        conn.execute(_heartbeat(dialect), {"trial_id": trial_id})
    if state is not None:
        if had_values:
            conn.execute(VALUES.delete().where(VALUES.c.trial_id == trial_id))
        if values:
            rows = []
            for objective, value in enumerate(values):
                stored, kind = stored_value(value)
                rows.append({"trial_id": trial_id, "objective": objective, "value": stored, "value_type": kind})
            conn.execute(VALUES.insert(), rows)


def insert_finished_trials(engine: Engine, study_id: int, trials: list[Any]) -> None:
    """Finished trials (FrozenTrials with finite values and reported values) added to a study with a few multi-row
    INSERTs: for filling a store in benchmarks and tests (Optuna's add_trials commits each trial through the ORM)."""
    moment = utc_now()
    with engine.begin() as conn:
        conn.execute(TRIALS.insert(), [{"number": t.number, "study_id": study_id, "state": t.state,
                                        "datetime_start": moment, "datetime_complete": moment} for t in trials])
        ids = dict(conn.execute(select(TRIALS.c.number, TRIALS.c.trial_id).where(TRIALS.c.study_id == study_id)).all())
        values = [{"trial_id": ids[t.number], "objective": 0, "value": t.value, "value_type": stored_value(t.value)[1]}
                  for t in trials if t.value is not None]
        params = [{"trial_id": ids[t.number], "param_name": k, "param_value": t.distributions[k].to_internal_repr(v),
                   "distribution_json": distributions.distribution_to_json(t.distributions[k])}
                  for t in trials for k, v in t.params.items()]
        attrs = [{"trial_id": ids[t.number], "key": k, "value_json": json.dumps(v)}
                 for t in trials for k, v in t.user_attrs.items()]
        steps = [{"trial_id": ids[t.number], "step": step, "intermediate_value": v, "intermediate_value_type": FINITE}
                 for t in trials for step, v in t.intermediate_values.items()]
        for table, rows in ((VALUES, values), (PARAMS, params), (USER_ATTRS, attrs), (STEPS, steps)):
            if rows:
                conn.execute(table.insert(), rows)


def _store_steps(conn: Connection, trial_id: int, steps: dict[int, tuple[float, bool]]) -> None:
    """Reported values: new steps inserted together, a step stored before updated."""
    new = []
    for step, (value, stored_before) in steps.items():
        stored, kind = stored_step(value)
        if stored_before:
            conn.execute(update(STEPS).where(STEPS.c.trial_id == trial_id, STEPS.c.step == step)
                         .values(intermediate_value=stored, intermediate_value_type=kind))
        else:
            new.append({"trial_id": trial_id, "step": step, "intermediate_value": stored,
                        "intermediate_value_type": kind})
    if new:
        conn.execute(STEPS.insert(), new)


def _insert_or_update(dialect: str, table: Any, keys: list[str], changed: list[str], **values: Any) -> Any:
    """INSERT that updates the `changed` columns of the row already holding `keys` (ON CONFLICT on SQLite and
    PostgreSQL, ON DUPLICATE KEY on MySQL); `values` fixed in the statement, the rest bound at execution."""
    mysql = dialect in ("mysql", "mariadb")
    insert = __import__(f"sqlalchemy.dialects.{'mysql' if mysql else dialect}", fromlist=["insert"]).insert
    stmt = insert(table).values(**values) if values else insert(table)
    if mysql:
        return stmt.on_duplicate_key_update({column: stmt.inserted[column] for column in changed})
    return stmt.on_conflict_do_update(index_elements=[table.c[key] for key in keys],
                                      set_={column: stmt.excluded[column] for column in changed})


@functools.cache
def _upsert(dialect: str, table: Any, owner: str) -> Any:
    """Insert-or-replace of attributes of one trial or study (`owner`: its id column), for executemany: one
    statement, compiled once."""
    return _insert_or_update(dialect, table, [owner, "key"], ["value_json"])


@functools.cache
def _heartbeat(dialect: str) -> Any:
    """A trial's heartbeat, inserted or moved to the database's clock (what Optuna's record_heartbeat stores)."""
    return _insert_or_update(dialect, HEARTBEATS, ["trial_id"], ["heartbeat"], trial_id=bindparam("trial_id"),
                             heartbeat=func.current_timestamp())


# ------------------------------------------------------------------------------------------- budget-lock SQL
PG_LOCK = "SELECT pg_advisory_lock(%s)"
PG_UNLOCK = "SELECT pg_advisory_unlock(%s)"
MYSQL_LOCK = "SELECT GET_LOCK(:k, 30)"
MYSQL_UNLOCK = "SELECT RELEASE_LOCK(:k)"
