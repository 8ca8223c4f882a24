"""Where rows come from: scikit-learn's bundled sets, a CSV file, an NPZ file."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from tuner.errors import DataError
from tuner.spec import DataSpec


def resolve(path: str, base_dir: Path) -> Path:
    """A data path as written in a study file: relative to the study file's folder, else to the working folder."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        return candidate
    for root in (base_dir, Path.cwd()):
        if (root / candidate).exists():
            return root / candidate
    return base_dir / candidate


def read(spec: DataSpec, base_dir: Path) -> tuple[str, np.ndarray, np.ndarray, list[str]]:
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


def _maybe_numeric(y: np.ndarray) -> np.ndarray:
    try:
        return y.astype("float64")
    except ValueError:
        return y
