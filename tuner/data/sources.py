"""Where rows come from: scikit-learn's bundled sets, a CSV file, an NPZ file."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

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
    where = f"data csv: {path.name}"
    header, rows = _csv_rows(path, where)
    if not header or not any(header):
        raise DataError(f"data csv: {path} is empty; it needs a header row and data rows")
    for i, name in enumerate(header):
        if not name:
            raise DataError(f"{where}: column {i + 1} of the header has no name; name every column in the first row")
        if name in header[:i]:
            raise DataError(f"{where}: column {_text(name)} appears twice in the header; give each column its own name")
    if spec.target not in header:
        if all(_is_number(name) for name in header):
            raise DataError(f"{where}: the first row ({_names(header)}) holds numbers, not column names; add a "
                            f"header row naming the columns")
        raise DataError(f"data csv: target column {spec.target!r} is not in {path.name} "
                        f"(columns: {_names(header)}); fix data.target")
    features = spec.features or [h for h in header if h != spec.target or spec.window]
    missing = [f for f in features if f not in header]
    if missing:
        raise DataError(f"data csv: feature column(s) {_names(missing)} not in {path.name}; fix data.features")
    if not features:
        raise DataError(f"{where}: no feature columns besides the target {spec.target!r}; add columns or fix "
                        f"data.target")
    index = {name: i for i, name in enumerate(header)}
    x = np.empty((len(rows), len(features)))
    targets = []
    for r, (line, row) in enumerate(rows):
        if len(row) != len(header):
            raise DataError(f"{where} line {line}: {len(row)} values but the header names {len(header)} columns; "
                            f"give every row one value per column")
        for c, name in enumerate(features):
            value = row[index[name]]
            try:
                x[r, c] = float(value)
            except ValueError:
                raise DataError(f"data csv: {path.name} line {line}, column {name!r}: {_text(value)} is not a "
                                f"number; features must be numeric (drop the column with data.features)") from None
            if not np.isfinite(x[r, c]):
                raise DataError(f"{where} line {line}, column {name!r}: {_text(value)} is missing or infinite; fill "
                                f"or drop that row")
        target = row[index[spec.target]]
        if not target.strip():
            raise DataError(f"{where} line {line}: the target {spec.target!r} is empty; fill or drop that row")
        targets.append(target)
    y = _maybe_numeric(np.array(targets))
    if np.issubdtype(y.dtype, np.number) and not np.all(np.isfinite(y)):
        line = rows[int(np.argmin(np.isfinite(y)))][0]
        raise DataError(f"{where} line {line}: the target {spec.target!r} is missing or infinite; fill or drop that "
                        f"row")
    return path.stem, x, y, features


def _csv_rows(path: Path, where: str) -> tuple[list[str] | None, list[tuple[int, list[str]]]]:
    """The header (names stripped) and the rows that hold anything, each with its line number; a file that is not
    UTF-8 text, or that the csv module cannot split, is a DataError naming the line."""
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise DataError(f"{where} is not a text file (it holds NUL bytes); data.csv needs comma-separated text "
                        f"with a header row")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise DataError(f"{where} line {line}: byte {raw[exc.start]:#04x} is not UTF-8 text; save the file as "
                        f"UTF-8 (\"CSV UTF-8\" in a spreadsheet)") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise DataError(f"{where} line {reader.line_num}: {exc}; fix that row (quotes must be closed)") from None
    return (None if header is None else [h.strip() for h in header]), rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _text(value: str) -> str:
    """A value from a data file as a message shows it: quoted, and cut short."""
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _names(names: list[str]) -> str:
    shown = ", ".join(name if name.isprintable() and len(name) <= 40 else _text(name) for name in names[:20])
    return shown + (f", ... ({len(names)} columns)" if len(names) > 20 else "")


def _read_npz(spec: DataSpec, path: Path) -> tuple[str, np.ndarray, np.ndarray, list[str]]:
    if not path.is_file():
        raise DataError(f"data npz: {path} not found; give a path relative to the study file or an absolute one")
    where = f"data npz: {path.name}"
    with path.open("rb") as handle:
        if handle.read(4) not in (b"PK\x03\x04", b"PK\x05\x06"):  # a zip archive, as numpy.savez writes
            raise DataError(f"{where} is not an NPZ file; write one with numpy.savez(path, x=features, y=target)")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            for key in (spec.x_key, spec.y_key):
                if key not in arrays:
                    raise DataError(f"data npz: {path.name} has no array {key!r} (arrays: "
                                    f"{_names(arrays.files)}); set data.x_key / data.y_key")
            x, y = _npz_array(arrays, spec.x_key, where), _npz_array(arrays, spec.y_key, where)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged archive fails in zipfile, zlib or numpy, each its own way
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:100]
        raise DataError(f"{where} cannot be read as NPZ ({reason}); write it again with numpy.savez") from None
    return path.stem, *_npz_checked(x, y, spec, where)


def _npz_array(arrays: Any, key: str, where: str) -> np.ndarray:
    try:
        return arrays[key]
    except ValueError as exc:
        if "allow_pickle" not in str(exc) and "pickled" not in str(exc):
            raise
        raise DataError(f"{where}: array {key!r} holds Python objects (dtype object), which are not loaded; save "
                        f"numbers, or text labels as a string array") from None


def _npz_checked(x: np.ndarray, y: np.ndarray, spec: DataSpec, where: str
                 ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Features as float rows and one target per row, or a DataError saying which array is wrong and how."""
    xk, yk = spec.x_key, spec.y_key
    for key, array in ((xk, x), (yk, y)):
        if array.ndim == 0:
            raise DataError(f"{where}: {key} is a single value; store one row per example")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{where}: {yk} has shape {y.shape}; store one target per row, shape (rows,) (one-hot "
                        f"labels: y.argmax(axis=1))")
    if len(x) != len(y):
        raise DataError(f"{where}: {xk} has {len(x)} rows but {yk} has {len(y)}; give both one entry per row")
    if len(x) == 0:
        raise DataError(f"{where}: no rows ({xk} has shape {x.shape}); store at least a few rows")
    if x.dtype == bool:
        x = x.astype("float64")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise DataError(f"{where}: {xk} is not numeric ({x.dtype}); store real numbers")
    x = x.reshape(len(x), -1).astype("float64")
    if x.shape[1] == 0:
        raise DataError(f"{where}: {xk} has no values in a row (shape {x.shape}); store at least one feature")
    if not np.all(np.isfinite(x)):
        row = int(np.argmin(np.isfinite(x).all(axis=1)))
        raise DataError(f"{where}: {xk} holds missing or infinite values (row {row}); fill or drop those rows")
    if not (np.issubdtype(y.dtype, np.number) or y.dtype.kind in "bUS") or np.issubdtype(y.dtype, np.complexfloating):
        raise DataError(f"{where}: {yk} holds {y.dtype} values; store class labels (numbers or text) or real numbers")
    if np.issubdtype(y.dtype, np.number) and not np.all(np.isfinite(y)):
        row = int(np.argmin(np.isfinite(y)))
        raise DataError(f"{where}: {yk} holds missing or infinite values (row {row}); fill or drop those rows")
    return x, y, [f"x{i}" for i in range(x.shape[1])]


def _maybe_numeric(y: np.ndarray) -> np.ndarray:
    try:
        return y.astype("float64")
    except ValueError:
        return y
