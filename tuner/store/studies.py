"""Studies in the store: create or resume by name, with the study file's definition kept beside the trials."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage

from tuner import record
from tuner.errors import StudyConflict, StudyNotFound
from tuner.spec import StudySpec, parse_spec


@dataclass(frozen=True)
class Definition:
    """What a study was created from, as kept in the store."""

    spec: StudySpec
    base_dir: Path
    data: dict[str, Any]
    metric: str


def names(storage: BaseStorage) -> list[str]:
    return [s.study_name for s in storage.get_all_studies()]


def load(storage: BaseStorage, name: str, **kwargs: Any) -> optuna.Study:
    """An existing study, or StudyNotFound naming the studies that do exist."""
    try:
        return optuna.load_study(study_name=name, storage=storage, **kwargs)
    except KeyError:
        known = names(storage)
        hint = f"studies here: {', '.join(known)}" if known else "the store holds no studies yet"
        raise StudyNotFound(f"study {name!r} not found ({hint}); run `tuner start {name}` first "
                            f"or pass the right --storage") from None


def definition(study: optuna.Study) -> Definition:
    attrs = study.user_attrs
    if record.SPEC not in attrs:
        raise StudyNotFound(f"study {study.study_name!r} was not created by tuner (it has no stored definition)")
    return Definition(spec=parse_spec(_as_created(attrs[record.SPEC]), f"study {study.study_name} (stored)"),
                      base_dir=Path(attrs.get(record.BASE_DIR, ".")), data=attrs.get(record.DATA, {}),
                      metric=attrs.get(record.METRIC, ""))


def _as_created(stored: Any) -> Any:
    """A stored definition with the settings added since it was stored, at the values that reproduce what the
    study was created with: studies stored before `data.test_split` kept every row for training and validation."""
    if isinstance(stored, dict) and isinstance(stored.get("data"), dict) and "test_split" not in stored["data"]:
        stored = {**stored, "data": {**stored["data"], "test_split": 0.0}}
    return stored


def create_or_resume(storage: BaseStorage, name: str, spec: StudySpec, base_dir: Path, data: dict[str, Any],
                     metric: str, direction: str, directions: list[str] | None = None,
                     **kwargs: Any) -> optuna.Study:
    """Create the study, or resume it when its stored definition matches; refuse a changed definition."""
    if name in names(storage):
        study = load(storage, name, **kwargs)
        stored = study.user_attrs.get(record.FINGERPRINT)
        if stored != spec.fingerprint():
            raise StudyConflict(
                f"study {name!r} already exists with a different definition; run it under a new name "
                f"(--name {name}-2), or restore the study file it was created from "
                f"(`tuner status {name}` shows it)")
        return study
    try:
        objectives = {"directions": directions} if directions else {"direction": direction}
        study = optuna.create_study(study_name=name, storage=storage, **objectives, **kwargs)
    except optuna.exceptions.DuplicatedStudyError:  # another worker created it a moment ago
        return create_or_resume(storage, name, spec, base_dir, data, metric, direction, directions, **kwargs)
    study.set_user_attr(record.SPEC, json.loads(spec.model_dump_json(exclude_defaults=False)))
    study.set_user_attr(record.FINGERPRINT, spec.fingerprint())
    study.set_user_attr(record.BASE_DIR, str(base_dir.resolve()))
    study.set_user_attr(record.DATA, data)
    study.set_user_attr(record.METRIC, metric)
    return study


def stored_budget(study: optuna.Study, spec: StudySpec) -> int | None:
    """The study's trial budget: the last `tuner start --trials`, else the study file's."""
    return study.user_attrs.get(record.TRIALS, spec.budget.trials)


def wait_for(storage: BaseStorage, name: str, seconds: float) -> None:
    """Wait up to `seconds` for study `name` to appear with its definition stored (a worker started before
    `tuner start`, or at the same time)."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if name in names(storage) and record.METRIC in load(storage, name).user_attrs:  # the last attribute written
            return
        time.sleep(0.2)
