"""A study's data, ready for Keras: train and validation arrays, the task, the class names and feature names."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Dataset:
    """Train and validation arrays, ready for Keras (float32 features; int labels or float32 targets)."""

    name: str
    task: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    classes: tuple[str, ...]
    feature_names: tuple[str, ...]
    shape: tuple[int, ...] | None = None  # each row's shape for image or sequence models; rows stay flat

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_outputs(self) -> int:
        return len(self.classes) if self.task == "classification" else 1

    def describe(self) -> dict:
        return {"name": self.name, "task": self.task, "train": list(self.x_train.shape),
                "validation": list(self.x_val.shape), "features": self.n_features,
                "classes": len(self.classes) if self.task == "classification" else None,
                **({"shape": list(self.shape)} if self.shape else {})}
