"""Data: load a study's data set once per process, split it, scale it, and say what task it is."""

from __future__ import annotations

import csv
import dataclasses
import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tuner.errors import DataError
from tuner.spec import DataSpec

MAX_CLASSES = 50


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


def load_data(spec: DataSpec, task: str | None = None, base_dir: str | Path = ".") -> Dataset:
    """Load, split and scale; the result is cached for the life of the process."""
    return _cached(spec.model_dump_json(), task, str(Path(base_dir).resolve()))


@functools.lru_cache(maxsize=8)
def _cached(spec_json: str, task: str | None, base_dir: str) -> Dataset:
    spec = DataSpec.model_validate(json.loads(spec_json))
    name, x, y, features = _read(spec, Path(base_dir))
    if len(x) == 0:
        raise DataError(f"data {name}: no rows; the file holds a header but no data")
    if not np.all(np.isfinite(x)):
        raise DataError(f"data {name}: features hold missing or infinite values; fill or drop those rows")
    x, y, shape = _shaped(spec, name, x, y)
    task = task or _infer_task(y)
    dataset = _split(spec, name, task, x, y, features)
    return dataclasses.replace(dataset, shape=shape) if shape else dataset


def resolve(path: str, base_dir: Path) -> Path:
    """A data path as written in a study file: relative to the study file's folder, else to the working folder."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        return candidate
    for root in (base_dir, Path.cwd()):
        if (root / candidate).exists():
            return root / candidate
    return base_dir / candidate


def _read(spec: DataSpec, base_dir: Path) -> tuple[str, np.ndarray, np.ndarray, list[str]]:
    if spec.bundled is not None:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, f"load_{spec.bundled}")()
        features = [str(f) for f in getattr(bunch, "feature_names", [])] or \
            [f"x{i}" for i in range(bunch.data.shape[1])]
        return spec.bundled, bunch.data.astype("float64"), bunch.target, features
    if spec.csv is not None:
        return _read_csv(spec, resolve(spec.csv, base_dir))
    return _read_npz(spec, resolve(spec.npz, base_dir))


def _read_csv(spec: DataSpec, path: Path) -> tuple[str, np.ndarray, np.ndarray, list[str]]:
    if not path.is_file():
        raise DataError(f"data csv: {path} not found; give a path relative to the study file or an absolute one")
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        rows = [row for row in reader if row]
    if not header:
        raise DataError(f"data csv: {path} is empty; it needs a header row and data rows")
    header = [h.strip() for h in header]
    if spec.target not in header:
        raise DataError(f"data csv: target column {spec.target!r} is not in {path.name} "
                        f"(columns: {', '.join(header)}); fix data.target")
    features = spec.features or [h for h in header if h != spec.target or spec.window]
    missing = [f for f in features if f not in header]
    if missing:
        raise DataError(f"data csv: feature column(s) {', '.join(missing)} not in {path.name}; fix data.features")
    index = {name: i for i, name in enumerate(header)}
    x = np.empty((len(rows), len(features)))
    for r, row in enumerate(rows):
        for c, name in enumerate(features):
            try:
                x[r, c] = float(row[index[name]])
            except (ValueError, IndexError):
                value = row[index[name]] if index[name] < len(row) else "<missing>"
                raise DataError(f"data csv: {path.name} line {r + 2}, column {name!r}: {value!r} is not a number; "
                                f"features must be numeric (drop the column with data.features)") from None
    y = np.array([row[index[spec.target]] if index[spec.target] < len(row) else "" for row in rows])
    return path.stem, x, _maybe_numeric(y), features


def _read_npz(spec: DataSpec, path: Path) -> tuple[str, np.ndarray, np.ndarray, list[str]]:
    if not path.is_file():
        raise DataError(f"data npz: {path} not found; give a path relative to the study file or an absolute one")
    with np.load(path, allow_pickle=False) as arrays:
        for key in (spec.x_key, spec.y_key):
            if key not in arrays:
                raise DataError(f"data npz: {path.name} has no array {key!r} (arrays: {', '.join(arrays.files)}); "
                                f"set data.x_key / data.y_key")
        x, y = arrays[spec.x_key], arrays[spec.y_key]
    if len(x) != len(y):
        raise DataError(f"data npz: {path.name}: {spec.x_key} has {len(x)} rows but {spec.y_key} has {len(y)}")
    if not np.issubdtype(x.dtype, np.number):
        raise DataError(f"data npz: {path.name}: {spec.x_key} is not numeric ({x.dtype})")
    x = x.reshape(len(x), -1).astype("float64")
    return path.stem, x, y, [f"x{i}" for i in range(x.shape[1])]


def _shaped(spec: DataSpec, name: str, x: np.ndarray, y: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, tuple[int, ...] | None]:
    """Windows of a series (`window`: w rows of the features predict the target of the next row), or a check
    that `shape` fits each row."""
    if spec.window:
        w = spec.window
        if len(x) <= w + 1:
            raise DataError(f"data {name}: {len(x)} rows cannot make windows of {w}; lower data.window")
        windows = np.stack([x[i:i + w].reshape(-1) for i in range(len(x) - w)])
        return windows, y[w:], (w, x.shape[1])
    if spec.shape:
        shape = tuple(spec.shape)
        if int(np.prod(shape)) != x.shape[1]:
            raise DataError(f"data {name}: shape {list(shape)} holds {int(np.prod(shape))} values but each row has "
                            f"{x.shape[1]} features; fix data.shape")
        return x, y, shape
    return x, y, None


def _maybe_numeric(y: np.ndarray) -> np.ndarray:
    try:
        return y.astype("float64")
    except ValueError:
        return y


def _infer_task(y: np.ndarray) -> str:
    if not np.issubdtype(y.dtype, np.number):
        return "classification"
    whole = np.all(np.mod(y, 1) == 0)
    return "classification" if whole and len(np.unique(y)) <= MAX_CLASSES else "regression"


def _split(spec: DataSpec, name: str, task: str, x: np.ndarray, y: np.ndarray, features: list[str]) -> Dataset:
    from sklearn.model_selection import train_test_split

    classes: tuple[str, ...] = ()
    if task == "classification":
        labels, y = np.unique(y, return_inverse=True)
        if len(labels) < 2:
            raise DataError(f"data {name}: the target has a single class; classification needs at least two")
        if len(labels) > MAX_CLASSES and np.issubdtype(labels.dtype, np.number):
            raise DataError(f"data {name}: {len(labels)} distinct targets; set task: regression")
        classes = tuple(str(c) for c in labels)
        y = y.astype("int32")
    elif not np.issubdtype(y.dtype, np.number):
        raise DataError(f"data {name}: task is regression but the target is not numeric")
    stratify = y if task == "classification" and spec.stratify and np.bincount(y).min() >= 2 else None
    if spec.window:  # a time series: validate on the latest windows, never on windows mixed into training
        stratify = None
    try:
        x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=spec.validation_split, random_state=spec.seed,
                                                  stratify=stratify, shuffle=not spec.window)
    except ValueError as exc:
        raise DataError(f"data {name}: cannot split {len(x)} rows for validation ({exc}); add rows") from None
    x_tr, x_va = _scale(spec.scale, x_tr, x_va)
    if task == "regression":
        y_tr, y_va = y_tr.astype("float32"), y_va.astype("float32")
        if spec.scale_target:
            mean, std = y_tr.mean(), y_tr.std() or 1.0
            y_tr, y_va = (y_tr - mean) / std, (y_va - mean) / std
    return Dataset(name, task, x_tr.astype("float32"), y_tr, x_va.astype("float32"), y_va, classes, tuple(features))


def _scale(kind: str, x_tr: np.ndarray, x_va: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if kind == "none":
        return x_tr, x_va
    if kind == "standard":
        center, spread = x_tr.mean(axis=0), x_tr.std(axis=0)
    else:
        center, spread = x_tr.min(axis=0), x_tr.max(axis=0) - x_tr.min(axis=0)
    spread = np.where(spread == 0, 1.0, spread)
    return (x_tr - center) / spread, (x_va - center) / spread
