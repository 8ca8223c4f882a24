"""Data: load a study's data set once per process, split it, scale it, and say what task it is."""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import numpy as np

from tuner.data.dataset import Dataset
from tuner.data.prepare import MAX_CLASSES, infer_task, shaped, split
from tuner.data.sources import read, resolve
from tuner.errors import DataError
from tuner.spec import DataSpec

__all__ = ["MAX_CLASSES", "Dataset", "load_data", "resolve"]
BUNDLED_TARGETS = {"diabetes": "disease progression"}  # what the bundled regression set predicts


def load_data(spec: DataSpec, task: str | None = None, base_dir: str | Path = ".") -> Dataset:
    """Load, split and scale; the result is cached for the life of the process."""
    return _cached(spec.model_dump_json(), task, str(Path(base_dir).resolve()))


@functools.lru_cache(maxsize=8)
def _cached(spec_json: str, task: str | None, base_dir: str) -> Dataset:
    spec = DataSpec.model_validate(json.loads(spec_json))
    if spec.loader is not None or spec.images is not None:
        from tuner.data import external

        return external.load(spec, task, Path(base_dir))
    name, x, y, features = read(spec, Path(base_dir))
    if len(x) == 0:
        raise DataError(f"data {name}: no rows; the file holds a header but no data")
    if not np.all(np.isfinite(x)):
        raise DataError(f"data {name}: features hold missing or infinite values; fill or drop those rows")
    x, y, shape = shaped(spec, name, x, y)
    task = task or infer_task(y)
    target = spec.target if spec.csv else spec.y_key if spec.npz else BUNDLED_TARGETS.get(spec.bundled, "target")
    dataset = split(spec, name, task, x, y, features, target)
    return dataclasses.replace(dataset, shape=shape) if shape else dataset
