"""Artifacts: where the artifact store lives, and the study's best model kept there as one current `.keras` file.

The best model is a study artifact with a fixed id per study: a new best overwrites the file and its metadata, so
the store holds one model per study however many trials run. Imports Keras only when a model is saved.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
import warnings
from pathlib import Path
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import optuna
from optuna.artifacts import FileSystemArtifactStore

from tuner import record
from tuner.record import Metric
from tuner.errors import StorageError
from tuner.store import internals
from tuner.views.summary import best_trial

if TYPE_CHECKING:
    import keras

ENV = "TUNER_ARTIFACTS"
_META_PREFIX = "artifacts:"  # the study system attribute prefix optuna.artifacts and optuna-dashboard read
_MIMETYPE = "application/zip"  # a .keras file is a zip archive


def default_dir(url: str) -> Path:
    """`artifacts/` beside a SQLite file; `./artifacts` for a database server."""
    if url.startswith("sqlite:///"):
        db = url.removeprefix("sqlite:///").split("?", 1)[0]
        if db and db != ":memory:":
            return Path(db).expanduser().resolve().parent / "artifacts"
    return Path("artifacts").resolve()


def resolve_dir(option: str | Path | None, url: str) -> Path:
    """The artifact folder: --artifacts, else TUNER_ARTIFACTS, else the default for the storage URL."""
    chosen = option or os.environ.get(ENV)
    return Path(chosen).expanduser().resolve() if chosen else default_dir(url)


def open_store(folder: Path) -> FileSystemArtifactStore:
    """A file-system artifact store in `folder`, created if missing."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"artifacts folder {folder}: cannot create it ({exc.strerror}); "
                           f"choose another with --artifacts or {ENV}") from None
    if not os.access(folder, os.W_OK):
        raise StorageError(f"artifacts folder {folder} is not writable; choose another with --artifacts or {ENV}")
    return FileSystemArtifactStore(folder)


def best_model_info(study: optuna.Study) -> dict[str, Any] | None:
    """{"artifact_id", "filename", "trial", "value"[, "classes"]} of the study's current best-model artifact, if
    any."""
    return study.user_attrs.get(record.BEST_MODEL)


class BestModelKeeper:
    """Saves a trial's trained model as the study's best-model artifact when its value beats the study's best; its
    record names the classes in the order of the model's outputs (`classes`, for classification)."""

    def __init__(self, folder: Path, metric: Metric,
                 prepare: Callable[[keras.Model], keras.Model] | None = None, classes: Sequence[str] = ()) -> None:
        self.folder, self.metric, self.prepare = folder, metric, prepare  # prepare: the model as it is kept
        self.classes = list(classes)
        self.store = open_store(folder)

    def beats_best(self, study: optuna.Study, value: float) -> bool:
        best = best_trial(study)
        first = best.values[0] if best and best.values else None  # the metric comes first in multi-objective studies
        if first is not None and not self.metric.better(value, first):
            return False  # no need to read the kept model's value: it is never better than a finished trial's
        current = best_model_info(study)
        return current is None or current["value"] is None or self.metric.better(value, current["value"])

    def offer(self, trial: optuna.Trial, model: keras.Model, value: float) -> bool:
        """Keep `model` as the best one if `value` beats the study's best so far; True when it was kept."""
        study = trial.study
        if not self.beats_best(study, value):
            return False
        return self.keep(study, trial.number, value, model)

    def keep(self, study: optuna.Study, number: int, value: float, model: keras.Model,
             **extra: Any) -> bool:
        """Keep `model` (of trial `number`, scored `value`) as the best model, whatever is kept now; `extra` goes
        into its record (after a refit: the rows it trained on and its test score). True when it was kept."""
        current = best_model_info(study)
        artifact_id = current["artifact_id"] if current else str(uuid.uuid4())
        filename = f"{study.study_name}-best-trial-{number}{'-refit' if extra.get('refit') else ''}.keras"
        try:
            self._write(artifact_id, model)
        except OSError as exc:  # a full or read-only disk costs the artifact, not the trial or the study
            warnings.warn(f"best model of trial {number} not saved to {self.folder}: {exc}", stacklevel=2)
            return False
        meta = {"artifact_id": artifact_id, "filename": filename, "mimetype": _MIMETYPE, "encoding": None}
        internals.storage_of(study).set_study_system_attr(internals.study_id(study), _META_PREFIX + artifact_id, json.dumps(meta))
        study.set_user_attr(record.BEST_MODEL, {"artifact_id": artifact_id, "filename": filename,
                                              "trial": number, "value": value,
                                              **({"classes": self.classes} if self.classes else {}), **extra})
        return True

    def _write(self, artifact_id: str, model: keras.Model) -> None:
        """Save to a temporary name in the store, then rename over the old model so a download never sees half."""
        with tempfile.TemporaryDirectory(dir=self.folder, prefix=".saving-") as tmp:
            path = Path(tmp) / "model.keras"
            (model if self.prepare is None else self.prepare(model)).save(path)
            staged = f"{artifact_id}.{uuid.uuid4().hex}.partial"
            with path.open("rb") as handle:
                self.store.write(staged, handle)
        os.replace(self.folder / staged, self.folder / artifact_id)

