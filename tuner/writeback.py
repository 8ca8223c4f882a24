"""Write-back for the trials a worker runs: their writes are kept in memory and stored a few at a time.

Optuna's RDB storage commits every suggested parameter, attribute and reported value on its own, and reads the
running trial back from the database whenever a sampler or pruner looks at it: about 160 SQL statements a trial.
Here the trials this process created (or took from the queue) and is running are served from memory, and their
writes go to the database in a few transactions:

- `flush(trial_id)`: when the caller wants them seen (tuner flushes once the trial is sampled and described,
  before training starts, and before it lets other workers create trials);
- during training, reported values at most FLUSH_SECONDS after they were reported (the dashboard stays live);
- when the trial ends, everything left together with its state and values.

A worker killed mid-trial loses at most FLUSH_SECONDS of its running trial's learning curve; the trial itself is
failed by the heartbeat and retried as before. Trials of other workers are read and written as Optuna does.
"""

from __future__ import annotations

import copy
import datetime
import functools
import json
import math
import time
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from optuna import distributions
from optuna.storages import RDBStorage, _CachedStorage
from optuna.storages._cached_storage import _StudyInfo
from optuna.trial import FrozenTrial, TrialState

from tuner import pgwrite
from tuner.pgdirect import DirectConnection
from tuner.storage import DB_ERRORS, _retrying, reason

log = logging.getLogger("tuner.writeback")

FLUSH_SECONDS = 1.0  # the longest a reported value of a running trial waits before it is stored
FRESH_SECONDS = 1.0  # other workers' progress is listed at most this often (the budget count always asks)


@dataclass
class _Running:
    """A trial this process runs: what it looks like now, and what of that the database has not seen yet."""

    trial: FrozenTrial
    params: list[tuple[str, float, distributions.BaseDistribution]] = field(default_factory=list)
    user_attrs: dict[str, Any] = field(default_factory=dict)
    system_attrs: dict[str, Any] = field(default_factory=dict)
    steps: dict[int, float] = field(default_factory=dict)
    study_attrs: dict[str, Any] = field(default_factory=dict)  # the study's attributes that belong to the trial
    study_keys: set[str] = field(default_factory=set)  # every such key written while it ran
    stored_steps: set[int] = field(default_factory=set)  # reported values the database holds
    on_flush: list[Callable[[], None]] = field(default_factory=list)  # called after the next flush
    flushed_at: float = field(default_factory=time.monotonic)
    owned_at: float = field(default_factory=time.monotonic)
    flushed_once: bool = False  # the database has seen this process's writes at least once
    beat: bool = False  # a heartbeat waits for the first flush

    def __post_init__(self) -> None:
        self.stored_steps = set(self.trial.intermediate_values)  # a retried trial's template may bring some

    def pending(self) -> bool:
        return bool(self.params or self.user_attrs or self.system_attrs or self.steps or self.study_attrs or self.beat)


class BufferedStorage(_CachedStorage):
    """Optuna's cached RDB storage, with the running trials of this process written back in batches."""

    def __init__(self, backend: RDBStorage) -> None:
        super().__init__(backend)
        self._running: dict[int, _Running] = {}
        self._finished: dict[int, FrozenTrial] = {}  # ended here, as stored; until the cache has taken them
        self._reader = backend.engine.execution_options(isolation_level="AUTOCOMMIT")  # one-statement reads
        self._direct = DirectConnection(backend.engine) if backend.engine.name == "postgresql" else None
        self._stale_checked: dict[int, float] = {}  # study id -> when dead workers' trials were last looked for
        self._read_at: dict[int, float] = {}  # study id -> when other workers' trials were last looked at

    @property
    def url(self) -> str:
        return self._backend.url

    @property
    def engine(self) -> Any:
        return self._backend.engine

    # ------------------------------------------------------------------ trials this process runs

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        if template_trial is None:  # a fresh trial: two statements, not Optuna's five through the ORM
            created = _insert_trial(self.engine, study_id, self._direct)
            with self._lock:
                self._studies.setdefault(study_id, _StudyInfo())
                self._add_trials_to_cache(study_id, [created])
            trial_id = created._trial_id
        else:
            trial_id = super().create_new_trial(study_id, template_trial)
        with self._lock:
            study_id, number = self._trial_id_to_study_id_and_number[trial_id]
            trial = self._studies[study_id].trials[number]
            if trial.state == TrialState.RUNNING:
                self._running[trial_id] = _Running(trial)
        return trial_id

    def set_trial_state_values(self, trial_id: int, state: TrialState,
                               values: Sequence[float] | None = None) -> bool:
        with self._lock:
            running = self._running.get(trial_id)
        if running is None:
            taken = self._backend.set_trial_state_values(trial_id, state=state, values=values)
            known = self._trial_id_to_study_id_and_number.get(trial_id)
            if taken and state == TrialState.RUNNING and known is not None:  # a waiting trial is ours now
                trial = self._backend.get_trial(trial_id)
                with self._lock:
                    self._running[trial_id] = _Running(trial)
                    self._add_trials_to_cache(known[0], [trial])
            return taken
        if not state.is_finished():
            return False  # a running trial cannot become running or waiting again
        try:
            _retrying(lambda: self._write(running, state, values))
        finally:
            with self._lock:
                self._running.pop(trial_id, None)
            self._flushed(running)
        return True

    def set_trial_param(self, trial_id: int, param_name: str, param_value_internal: float,
                        distribution: distributions.BaseDistribution) -> None:
        running = self._running.get(trial_id)
        if running is None:
            return super().set_trial_param(trial_id, param_name, param_value_internal, distribution)
        with self._lock:
            study_id = self._trial_id_to_study_id_and_number[trial_id][0]
            known = self._studies[study_id].param_distribution
            previous = known.get(param_name) or self._stored_distribution(study_id, param_name)
            if previous is not None:
                distributions.check_distribution_compatibility(previous, distribution)
            known.setdefault(param_name, distribution)
            running.params.append((param_name, param_value_internal, distribution))
            running.trial.params[param_name] = distribution.to_external_repr(param_value_internal)
            running.trial.distributions[param_name] = distribution

    def set_trial_intermediate_value(self, trial_id: int, step: int, intermediate_value: float) -> None:
        running = self._running.get(trial_id)
        if running is None:
            return super().set_trial_intermediate_value(trial_id, step, intermediate_value)
        with self._lock:
            running.steps[step] = intermediate_value
            running.trial.intermediate_values[step] = intermediate_value
        if time.monotonic() - running.flushed_at >= FLUSH_SECONDS:
            try:
                self._write(running)
            except DB_ERRORS as exc:  # kept: the next flush, or the trial's end, stores them
                log.warning("reported values not stored yet (%s); trying again later", reason(exc))
            else:
                self._flushed(running)

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        self.set_trial_user_attrs(trial_id, {key: value})

    def set_trial_user_attrs(self, trial_id: int, attrs: dict[str, Any]) -> None:
        """Several user attributes of one trial at once (one transaction when the trial is not ours)."""
        running = self._running.get(trial_id)
        if running is None:
            write = getattr(self._backend, "set_trial_user_attrs", None)
            if write is not None:
                return write(trial_id, attrs)
            for key, value in attrs.items():
                self._backend.set_trial_user_attr(trial_id, key=key, value=value)
            return
        json.dumps(attrs)  # not JSON-serializable: fail here, as Optuna would, not at the next flush
        with self._lock:
            running.user_attrs.update(attrs)
            running.trial.user_attrs.update(attrs)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        running = self._running.get(trial_id)
        if running is None:
            return super().set_trial_system_attr(trial_id, key, value)
        json.dumps(value)
        with self._lock:
            running.system_attrs[key] = value
            running.trial.system_attrs[key] = value

    def set_running_study_attrs(self, trial_id: int, attrs: dict[str, Any]) -> bool:
        """Study system attributes that describe a trial running here (its dashboard note), stored with the
        trial's next flush. False, and nothing kept, when the trial does not run here or already set one of
        these keys: the caller then writes them itself."""
        running = self._running.get(trial_id)
        if running is None or running.study_keys & attrs.keys():
            self.flush(trial_id)
            return False
        json.dumps(attrs)
        with self._lock:
            running.study_attrs.update(attrs)
            running.study_keys.update(attrs)
        return True

    def record_heartbeat(self, trial_id: int) -> None:
        """The first heartbeat of a trial running here goes with its first flush, which comes before training
        (Optuna sends it when the trial starts, from a thread of its own); a second one before that flush, and every
        later one, is sent at once."""
        running = self._running.get(trial_id)
        if running is not None:
            with self._lock:
                if not running.flushed_once and not running.beat:
                    running.beat = True
                    return
                running.beat = False
        self._backend.record_heartbeat(trial_id)

    def get_trial(self, trial_id: int) -> FrozenTrial:
        running = self._running.get(trial_id)
        if running is None:
            return super().get_trial(trial_id)
        with self._lock:
            return copy.deepcopy(running.trial)

    def _read_trials_from_remote_storage(self, study_id: int) -> None:
        """Optuna re-reads every new or unfinished trial, whole, each time a sampler or pruner lists the study.
        First ask the database which of those exist and in what state (one small query): when they are all trials
        this process runs or has just finished, memory already holds them as they are and nothing is read."""
        with self._lock:
            study = self._studies.get(study_id)
        now = time.monotonic()
        if study is None:
            super()._read_trials_from_remote_storage(study_id)
            self._read_at[study_id] = now
            return
        if now - self._read_at.get(study_id, -math.inf) < FRESH_SECONDS:
            return
        self._read_at[study_id] = now
        from optuna.storages._rdb import models
        from sqlalchemy import or_, select

        if self._direct is not None:
            rows = pgwrite.trial_states(self._direct, study_id, study.last_finished_trial_id,
                                        sorted(study.unfinished_trial_ids))
        else:
            table = models.TrialModel.__table__
            newer = table.c.trial_id > study.last_finished_trial_id
            unfinished = table.c.trial_id.in_(study.unfinished_trial_ids)
            where = or_(newer, unfinished) if study.unfinished_trial_ids else newer
            with self._reader.connect() as conn:
                rows = conn.execute(select(table.c.trial_id, table.c.state)
                                    .where(table.c.study_id == study_id, where)).all()
        with self._lock:
            known = [self._running[i].trial if i in self._running and state == TrialState.RUNNING
                     else self._finished.get(i) if state.is_finished() else None for i, state in rows]
            unknown = any(trial is None or trial.state != state for trial, (_, state) in zip(known, rows))
            if unknown:
                self._finished.clear()
        if unknown:
            return super()._read_trials_from_remote_storage(study_id)
        with self._lock:
            self._add_trials_to_cache(study_id, known)
            for trial in sorted(known, key=lambda t: t._trial_id):  # what Optuna's reader does with each trial
                if not trial.state.is_finished():
                    study.unfinished_trial_ids.add(trial._trial_id)
                    continue
                study.last_finished_trial_id = max(study.last_finished_trial_id, trial._trial_id)
                study.unfinished_trial_ids.discard(trial._trial_id)
                self._finished.pop(trial._trial_id, None)

    def get_trials_from(self, study_id: int, number: int) -> list[FrozenTrial]:
        """The study's trials numbered `number` and up, in order, not copied; Optuna's get_all_trials sorts and
        lists every trial of the study on each call."""
        self._read_trials_from_remote_storage(study_id)
        with self._lock:
            trials = self._studies[study_id].trials
            try:
                if len(trials) not in trials:
                    return [trials[n] for n in range(number, len(trials))]
            except KeyError:
                pass
            return [trials[n] for n in sorted(trials) if n >= number]  # numbers not 0..n-1: list them all

    def expire(self, study_id: int) -> None:
        """Make the next listing of the study ask the database (by default a listing less than FRESH_SECONDS
        old is reused): tuner's runner does before it counts the budget."""
        self._read_at.pop(study_id, None)

    def _add_trials_to_cache(self, study_id: int, trials: list[FrozenTrial]) -> None:
        """Trials read from the database, except that a trial running here keeps its in-memory state."""
        running = getattr(self, "_running", {})
        super()._add_trials_to_cache(study_id, [running[t._trial_id].trial if t._trial_id in running else t
                                                for t in trials])

    def flush(self, trial_id: int) -> None:
        """Store what a running trial of this process has written so far (nothing when it is not ours); a lost
        database connection is retried for up to tuner.storage.RETRY_SECONDS."""
        running = self._running.get(trial_id)
        if running is None:
            return
        if running.pending():
            _retrying(lambda: self._write(running))
        self._flushed(running)

    def on_flush(self, trial_id: int, callback: Callable[[], None]) -> None:
        """Call `callback` once the trial's writes so far are stored: at its next flush, or when it ends."""
        running = self._running.get(trial_id)
        if running is None:
            callback()
        else:
            running.on_flush.append(callback)

    def _flushed(self, running: _Running) -> None:
        callbacks, running.on_flush = running.on_flush, []
        for callback in callbacks:
            callback()

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        """Dead workers' trials, looked for at most once a heartbeat interval: Optuna looks before every trial,
        and a trial only goes stale after a grace period of several intervals."""
        interval = self.get_heartbeat_interval() or 0
        now = time.monotonic()
        if now - self._stale_checked.get(study_id, -math.inf) < interval:
            return []
        self._stale_checked[study_id] = now
        return super()._get_stale_trial_ids(study_id)

    # ------------------------------------------------------------------ the writes

    def _write(self, running: _Running, state: TrialState | None = None,
               values: Sequence[float] | None = None) -> None:
        """One transaction: the trial's pending writes, then (when it ends) its state and values."""
        backend, trial_id = self._backend, running.trial._trial_id
        with self._lock:
            params, running.params = running.params, []
            user, running.user_attrs = running.user_attrs, {}
            system, running.system_attrs = running.system_attrs, {}
            steps, running.steps = running.steps, {}
            study_attrs, running.study_attrs = running.study_attrs, {}
            beat, running.beat = running.beat and state is None, False
        study_id = self._trial_id_to_study_id_and_number[trial_id][0]
        had_values = running.trial.values is not None
        try:
            at_once = self._direct is not None and not had_values
            if not at_once or not pgwrite.write(self._direct, trial_id, study_id, params, user, system, study_attrs,
                                                steps, state, values, beat):
                with self.engine.begin() as conn:  # elsewhere; or the trial no longer runs, and this says why
                    _write_trial(conn, backend, trial_id, study_id, params, user, system, study_attrs,
                                 {step: (value, step in running.stored_steps) for step, value in steps.items()},
                                 state, values, had_values=had_values, beat=beat,
                                 check=at_once or time.monotonic() - running.owned_at > self._safe_seconds())
        except BaseException:
            with self._lock:  # put them back: a later flush (or the retry of this one) stores them
                running.params[:0] = params
                running.user_attrs = {**user, **running.user_attrs}
                running.system_attrs = {**system, **running.system_attrs}
                running.steps = {**steps, **running.steps}
                running.study_attrs = {**study_attrs, **running.study_attrs}
                running.beat = running.beat or beat
            raise
        running.flushed_at, running.flushed_once = time.monotonic(), True
        running.stored_steps.update(steps)
        if state is not None:
            with self._lock:
                running.trial.state, running.trial.datetime_complete = state, datetime.datetime.now()
                running.trial.values = list(values) if values is not None else None
                self._finished[trial_id] = running.trial

    def _safe_seconds(self) -> float:
        """How long after it started a trial certainly still runs in the database: other workers fail a running
        trial only when it has had no heartbeat for the grace period (tuner.storage), and without heartbeats
        they never do."""
        grace = getattr(self._backend, "grace_period", None)
        return grace / 2 if grace and self.get_heartbeat_interval() else math.inf

    def _stored_distribution(self, study_id: int, name: str) -> distributions.BaseDistribution | None:
        """The distribution other trials of the study stored for parameter `name` (None if none did)."""
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session

        with _create_scoped_session(self._backend.scoped_session) as session:
            record = (session.query(models.TrialParamModel.distribution_json).join(models.TrialModel)
                      .filter(models.TrialModel.study_id == study_id, models.TrialParamModel.param_name == name)
                      .first())
        return None if record is None else distributions.json_to_distribution(record[0])


def _write_trial(conn: Any, backend: RDBStorage, trial_id: int, study_id: int, params: list[tuple[str, float, Any]],
                 user: dict[str, Any], system: dict[str, Any], study_attrs: dict[str, Any],
                 steps: dict[int, tuple[float, bool]], state: TrialState | None, values: Sequence[float] | None,
                 had_values: bool, check: bool = True, beat: bool = False) -> None:
    """The statements of one write-back, in the open transaction `conn`: the trial must still be running (not
    looked up when `check` is false and the trial does not end). `steps`: reported value and whether the
    database already holds that step; `beat`: record a heartbeat too."""
    from optuna.storages._rdb import models
    from sqlalchemy import select, update

    trials = models.TrialModel.__table__
    current = TrialState.RUNNING
    if state is not None:  # the trial ends: its row is locked and changed first, and only while it is running
        ended = conn.execute(update(trials).where(trials.c.trial_id == trial_id, trials.c.state == TrialState.RUNNING)
                             .values(state=state, datetime_complete=datetime.datetime.now()))
    if (state is None and check) or (state is not None and not ended.rowcount):
        current = conn.execute(select(trials.c.state).where(trials.c.trial_id == trial_id)).scalar()
    if current is None:
        raise KeyError(f"no trial with id {trial_id}")
    backend.check_trial_is_updatable(trial_id, current)
    if params:
        conn.execute(models.TrialParamModel.__table__.insert(), [
            {"trial_id": trial_id, "param_name": name, "param_value": value,
             "distribution_json": distributions.distribution_to_json(dist)} for name, value, dist in params])
    for model_cls, owner, attrs in ((models.TrialUserAttributeModel, {"trial_id": trial_id}, user),
                                    (models.TrialSystemAttributeModel, {"trial_id": trial_id}, system),
                                    (models.StudySystemAttributeModel, {"study_id": study_id}, study_attrs)):
        if attrs:
            (column, owner_id), = owner.items()
            rows = [{column: owner_id, "key": key, "value_json": json.dumps(value)} for key, value in attrs.items()]
            conn.execute(_upsert(backend.engine.name, model_cls, column), rows)
    if steps:
        _store_steps(conn, trial_id, steps)
    if beat:
        conn.execute(_heartbeat(backend.engine.name), {"trial_id": trial_id})
    if state is not None:
        table = models.TrialValueModel.__table__
        if had_values:
            conn.execute(table.delete().where(table.c.trial_id == trial_id))
        if values:
            rows = []
            for objective, value in enumerate(values):
                stored, kind = models.TrialValueModel.value_to_stored_repr(value)
                rows.append({"trial_id": trial_id, "objective": objective, "value": stored, "value_type": kind})
            conn.execute(table.insert(), rows)


def _insert_or_update(dialect: str, model_cls: Any, keys: list[str], changed: list[str], **values: Any) -> Any:
    """INSERT that updates the `changed` columns of the row already holding `keys` (ON CONFLICT on SQLite and
    PostgreSQL, ON DUPLICATE KEY on MySQL); `values` fixed in the statement, the rest bound at execution."""
    insert = __import__(f"sqlalchemy.dialects.{dialect}", fromlist=["insert"]).insert
    stmt = insert(model_cls).values(**values) if values else insert(model_cls)
    if dialect == "mysql":
        return stmt.on_duplicate_key_update({column: stmt.inserted[column] for column in changed})
    return stmt.on_conflict_do_update(index_elements=[getattr(model_cls, key) for key in keys],
                                      set_={column: stmt.excluded[column] for column in changed})


@functools.cache
def _upsert(dialect: str, model_cls: Any, owner: str) -> Any:
    """Insert-or-replace of attributes of one trial or study (`owner`: its id column), for executemany: one
    statement, compiled once."""
    return _insert_or_update(dialect, model_cls, [owner, "key"], ["value_json"])


@functools.cache
def _heartbeat(dialect: str) -> Any:
    """A trial's heartbeat, inserted or moved to the database's clock (what Optuna's record_heartbeat stores)."""
    from optuna.storages._rdb import models
    from sqlalchemy import bindparam, func

    return _insert_or_update(dialect, models.TrialHeartbeatModel, ["trial_id"], ["heartbeat"],
                             trial_id=bindparam("trial_id"), heartbeat=func.current_timestamp())


def _insert_trial(engine: Any, study_id: int, direct: DirectConnection | None = None) -> FrozenTrial:
    """A new RUNNING trial, numbered after the study's trials: the study row is locked (as Optuna does) and the
    trial inserted with its number counted in the same statement (on PostgreSQL, both sent at once on `direct`)."""
    from optuna.storages._rdb import models
    from sqlalchemy import DateTime, func, literal, select

    start = datetime.datetime.now()
    if direct is not None:
        trial_id, number = pgwrite.insert_trial(direct, study_id, start)
        return _new_trial(trial_id, number, start)
    studies, trials = models.StudyModel.__table__, models.TrialModel.__table__
    count = select(func.count(trials.c.trial_id), literal(study_id), literal(TrialState.RUNNING, trials.c.state.type),
                   literal(start, DateTime)).where(trials.c.study_id == study_id)
    stmt = trials.insert().from_select(["number", "study_id", "state", "datetime_start"], count)
    with engine.begin() as conn:
        if conn.execute(select(studies.c.study_id).where(studies.c.study_id == study_id).with_for_update()).first() \
                is None:
            raise KeyError(f"No study with study_id {study_id} exists.")
        if conn.dialect.insert_returning:
            trial_id, number = conn.execute(stmt.returning(trials.c.trial_id, trials.c.number)).one()
        else:
            trial_id = conn.execute(stmt).lastrowid
            number = conn.execute(select(trials.c.number).where(trials.c.trial_id == trial_id)).scalar_one()
    return _new_trial(trial_id, number, start)


def _new_trial(trial_id: int, number: int, start: datetime.datetime) -> FrozenTrial:
    return FrozenTrial(number=number, state=TrialState.RUNNING, value=None, values=None, datetime_start=start,
                       datetime_complete=None, params={}, distributions={}, user_attrs={}, system_attrs={},
                       intermediate_values={}, trial_id=trial_id)


def _store_steps(conn: Any, trial_id: int, steps: dict[int, tuple[float, bool]]) -> None:
    """Reported values: new steps inserted together, a step stored before updated."""
    from optuna.storages._rdb import models
    from sqlalchemy import update

    cls = models.TrialIntermediateValueModel
    table = cls.__table__
    new = []
    for step, (value, stored_before) in steps.items():
        stored, kind = cls.intermediate_value_to_stored_repr(value)
        if stored_before:
            conn.execute(update(table).where(table.c.trial_id == trial_id, table.c.step == step)
                         .values(intermediate_value=stored, intermediate_value_type=kind))
        else:
            new.append({"trial_id": trial_id, "step": step, "intermediate_value": stored,
                        "intermediate_value_type": kind})
    if new:
        conn.execute(table.insert(), new)


SUPPORTED = ("sqlite", "postgresql", "mysql")  # databases whose upsert the write-back uses


def buffered(storage: RDBStorage) -> RDBStorage | BufferedStorage:
    """`storage` with write-back for this process's running trials, where its database supports it."""
    return BufferedStorage(storage) if storage.engine.name in SUPPORTED else storage
