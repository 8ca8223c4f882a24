"""Rows into a Dataset: windows or shapes checked, the task inferred, the rows split and scaled."""

from __future__ import annotations

import numpy as np

from tuner.data.dataset import Dataset
from tuner.errors import DataError
from tuner.spec import DataSpec

MAX_CLASSES = 50


def shaped(spec: DataSpec, name: str, x: np.ndarray, y: np.ndarray
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


def infer_task(y: np.ndarray) -> str:
    """Text targets, or whole numbers with at most MAX_CLASSES distinct values, mean classification."""
    if not np.issubdtype(y.dtype, np.number):
        return "classification"
    whole = np.all(np.mod(y, 1) == 0)
    return "classification" if whole and len(np.unique(y)) <= MAX_CLASSES else "regression"


def split(spec: DataSpec, name: str, task: str, x: np.ndarray, y: np.ndarray, features: list[str]) -> Dataset:
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
