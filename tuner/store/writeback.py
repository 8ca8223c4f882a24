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
import json
import logging
import math
import time
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field
from typing import Any

from optuna import distributions
from optuna.trial import FrozenTrial, TrialState

from tuner.store import outline, schema
from tuner.store.internals import CachedStorage, StudyInfo
from tuner.store.database import DB_ERRORS, Database, _retrying, reason
from tuner.store.interface import TunerStorage
from tuner.store.lock import BudgetLock

log = logging.getLogger("tuner.store")

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
    flushed_once: bool = False  # the database has seen this process's writes at least once
    beat: bool = False  # a heartbeat waits for the first flush
    shared: bool = False  # a listing handed `trial` out: the next change works on a copy

    def __post_init__(self) -> None:
        self.stored_steps = set(self.trial.intermediate_values)  # a retried trial's template may bring some

    def pending(self) -> bool:
        return bool(self.params or self.user_attrs or self.system_attrs or self.steps or self.study_attrs or self.beat)


class BufferedStorage(CachedStorage, TunerStorage):
    """Optuna's cached RDB storage, with the running trials of this process written back in batches."""

    _backend: Database

    def __init__(self, backend: Database) -> None:
        super().__init__(backend)
        self._running: dict[int, _Running] = {}
        self._finished: dict[int, FrozenTrial] = {}  # ended here, as stored; until the cache has taken them
        self._reader = backend.engine.execution_options(isolation_level="AUTOCOMMIT")  # one-statement reads
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
            created = _insert_trial(self.engine, study_id)
            with self._lock:
                self._studies.setdefault(study_id, StudyInfo())
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
            trial = self._editable(running)
            trial.params[param_name] = distribution.to_external_repr(param_value_internal)
            trial.distributions[param_name] = distribution

    def set_trial_intermediate_value(self, trial_id: int, step: int, intermediate_value: float) -> None:
        running = self._running.get(trial_id)
        if running is None:
            return super().set_trial_intermediate_value(trial_id, step, intermediate_value)
        with self._lock:
            running.steps[step] = intermediate_value
            self._editable(running).intermediate_values[step] = intermediate_value
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
            return self._backend.set_trial_user_attrs(trial_id, attrs)
        attrs = _as_stored(attrs)  # not JSON-serializable: fails here, as Optuna would, not at the next flush
        with self._lock:
            running.user_attrs.update(attrs)
            self._editable(running).user_attrs.update(attrs)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        running = self._running.get(trial_id)
        if running is None:
            return super().set_trial_system_attr(trial_id, key, value)
        value = _as_stored(value)
        with self._lock:
            running.system_attrs[key] = value
            self._editable(running).system_attrs[key] = value

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

    def get_all_trials(self, study_id: int, deepcopy: bool = True,
                       states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        """Optuna's listing; the trials it hands out are never changed afterwards (a running trial of this
        process is copied before its next change)."""
        self._read_trials_from_remote_storage(study_id)
        with self._lock:
            trials = self._studies[study_id].trials.values()
            if states is not None:
                trials = [t for t in trials if t.state in states]
            listed = sorted(trials, key=lambda t: t.number)
            if deepcopy:
                return copy.deepcopy(listed)
            self._share(study_id, lambda trial: states is None or trial.state in states)
            return listed

    def _share(self, study_id: int, listed: Callable[[FrozenTrial], bool]) -> None:
        """Mark the running trials of this process that a listing of `study_id` hands out (lock held)."""
        for trial_id, running in self._running.items():
            if self._trial_id_to_study_id_and_number[trial_id][0] == study_id and listed(running.trial):
                running.shared = True

    def _editable(self, running: _Running) -> FrozenTrial:
        """The running trial, to change in place: copied first when a listing has handed it out, so that a list
        returned earlier never changes under its caller (lock held)."""
        if running.shared:
            trial = running.trial
            copied = copy.copy(trial)
            copied.params, copied.distributions = dict(trial.params), dict(trial.distributions)
            copied.user_attrs, copied.system_attrs = dict(trial.user_attrs), dict(trial.system_attrs)
            copied.intermediate_values = dict(trial.intermediate_values)
            study_id, number = self._trial_id_to_study_id_and_number[trial._trial_id]
            self._studies[study_id].trials[number] = running.trial = copied
            running.shared = False
        return running.trial

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
        with self._reader.connect() as conn:
            rows = schema.trial_states(conn, study_id, study.last_finished_trial_id,
                                       sorted(study.unfinished_trial_ids))
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

    def trials_from(self, study_id: int, number: int) -> list[FrozenTrial]:
        """The study's trials numbered `number` and up, in order, not copied; Optuna's get_all_trials sorts and
        lists every trial of the study on each call."""
        self._read_trials_from_remote_storage(study_id)
        with self._lock:
            self._share(study_id, lambda trial: trial.number >= number)
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

    def budget_lock(self, study_name: str) -> BudgetLock:
        return BudgetLock(self._backend, study_name)

    def outline(self, study_id: int) -> list[FrozenTrial]:
        return outline.read(self.engine, study_id)

    def _add_trials_to_cache(self, study_id: int, trials: list[FrozenTrial]) -> None:
        """Trials read from the database, except that a trial running here keeps its in-memory state."""
        running = self._running
        super()._add_trials_to_cache(study_id, [running[t._trial_id].trial if t._trial_id in running else t
                                                for t in trials])

    def flush(self, trial_id: int) -> None:
        """Store what a running trial of this process has written so far (nothing when it is not ours); a lost
        database connection is retried for up to tuner.store.database.RETRY_SECONDS."""
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

    # ------------------------------------------------------------------ pickling

    def __getstate__(self) -> dict[str, Any]:
        """A copy for another process: the database's settings, none of this process's trials or connections
        (the copy reads the study afresh)."""
        state = super().__getstate__()
        del state["_reader"]
        state.update(_running={}, _finished={}, _studies={}, _trial_id_to_study_id_and_number={},
                     _study_id_and_number_to_trial_id={}, _stale_checked={}, _read_at={})
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    # ------------------------------------------------------------------ the writes

    def _write(self, running: _Running, state: TrialState | None = None,
               values: Sequence[float] | None = None) -> None:
        """One transaction: the trial's pending writes, then (when it ends) its state and values."""
        trial_id = running.trial._trial_id
        with self._lock:
            params, running.params = running.params, []
            user, running.user_attrs = running.user_attrs, {}
            system, running.system_attrs = running.system_attrs, {}
            steps, running.steps = running.steps, {}
            study_attrs, running.study_attrs = running.study_attrs, {}
            beat, running.beat = running.beat and state is None, False
        study_id = self._trial_id_to_study_id_and_number[trial_id][0]
        had_values = running.trial.values is not None
        complete = schema.now() if state is not None else None  # stored, and kept in memory, alike
        try:
            with self.engine.begin() as conn:
                schema.write_trial(conn, trial_id, study_id, params, user, system, study_attrs,
                                   {step: (value, step in running.stored_steps) for step, value in steps.items()},
                                   state, values, complete, had_values=had_values, beat=beat)
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
                trial = self._editable(running)
                trial.state, trial.datetime_complete = state, complete
                trial.values = list(values) if values is not None else None
                self._finished[trial_id] = trial

    def _stored_distribution(self, study_id: int, name: str) -> distributions.BaseDistribution | None:
        """The distribution other trials of the study stored for parameter `name` (None if none did)."""
        return schema.stored_distribution(self.engine, study_id, name)


def _insert_trial(engine: Any, study_id: int) -> FrozenTrial:
    """A new RUNNING trial, numbered after the study's trials."""
    start = schema.now()
    trial_id, number = schema.insert_trial(engine, study_id, start)
    return _new_trial(trial_id, number, start)


def _as_stored(value: Any) -> Any:
    """`value` as the database gives it back (JSON's round trip: tuples become lists, nothing shared with the
    caller); a TypeError when it cannot be stored."""
    return json.loads(json.dumps(value))


def _new_trial(trial_id: int, number: int, start: datetime.datetime) -> FrozenTrial:
    return FrozenTrial(number=number, state=TrialState.RUNNING, value=None, values=None, datetime_start=start,
                       datetime_complete=None, params={}, distributions={}, user_attrs={}, system_attrs={},
                       intermediate_values={}, trial_id=trial_id)


SUPPORTED = ("sqlite", "postgresql", "mysql", "mariadb")  # databases whose upsert the write-back uses


def buffered(storage: Database) -> BufferedStorage:
    """`storage` with write-back for this process's running trials."""
    if storage.engine.name not in SUPPORTED:
        from tuner.errors import StorageError

        raise StorageError(f"storage {storage.engine.url.render_as_string()}: tuner runs studies on SQLite, "
                           f"PostgreSQL and MySQL/MariaDB; use one of those")
    return BufferedStorage(storage)
