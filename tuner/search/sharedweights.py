"""The one-shot stage's trained networks as study artifacts: one `.npz` file of weights a slimmable network, listed
with the study's artifacts (optuna-dashboard downloads them), so that a stage stopped part-way, or one whose
estimates were never written, resumes with the networks it had already trained.

The record (the study's ONE_SHOT_WEIGHTS) names each network's artifact under a key of what trained it: the
space, the training settings, the stage's epochs and sandwich, the seed and the training rows. Weights under
another key, or whose file this machine lacks (another worker's artifact folder), are trained again.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import optuna
from optuna.artifacts import download_artifact, upload_artifact

from tuner import record
from tuner.data import Dataset
from tuner.spec import StudySpec
from tuner.views.artifacts import open_store


def key_of(spec: StudySpec, data: Dataset, seed: int) -> str:
    """What the networks' weights depend on, as a short digest."""
    shot = spec.one_shot
    what = {"space": spec.space.model_dump(mode="json"), "training": spec.training.model_dump(mode="json"),
            "model": spec.model.model_dump(mode="json") if spec.model is not None else None,
            "epochs": shot.epochs, "sandwich": shot.sandwich, "seed": seed, "rows": list(data.x_train.shape)}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]


class SharedWeights:
    """Where a stage keeps its networks' weights (`folder`: the study's artifact store; None keeps nothing)."""

    def __init__(self, study: optuna.Study, folder: Path | None, key: str) -> None:
        self.study, self.key = study, key
        self.store = open_store(folder) if folder is not None else None

    def load(self, name: str) -> list[np.ndarray] | None:
        """Network `name`'s stored weights, if they were trained under this key and the file is here."""
        kept = self._record()
        if self.store is None or name not in kept:
            return None
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "weights.npz"
            try:
                download_artifact(artifact_store=self.store, file_path=str(path), artifact_id=kept[name])
                with np.load(path) as arrays:
                    return [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
            except (OSError, ValueError):  # not on this machine, or unreadable: train it again
                return None

    def save(self, name: str, arrays: list[np.ndarray]) -> None:
        """Store network `name`'s weights as a study artifact and record it under this key."""
        if self.store is None:
            return
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{self.study.study_name}-one-shot-{name}.npz"
            try:
                np.savez(path, *arrays)
                artifact_id = upload_artifact(artifact_store=self.store, file_path=str(path),
                                              study_or_trial=self.study, mimetype="application/octet-stream")
            except OSError as exc:  # a full disk costs a resumed stage this network's training, not the stage
                warnings.warn(f"one-shot network {name} not kept as an artifact: {exc}", stacklevel=2)
                return
        self.study.set_user_attr(record.ONE_SHOT_WEIGHTS, {"key": self.key,
                                                           "nets": {**self._record(), name: artifact_id}})

    def _record(self) -> dict[str, str]:
        kept = self.study.user_attrs.get(record.ONE_SHOT_WEIGHTS) or {}
        return dict(kept.get("nets", {})) if kept.get("key") == self.key else {}
