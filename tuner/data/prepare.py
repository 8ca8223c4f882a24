"""Rows into a Dataset: windows or shapes checked, the task inferred, labels numbered, the rows split and scaled."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tuner.data.dataset import Dataset, Scaling, TargetScaling
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


def split(spec: DataSpec, name: str, task: str, x: np.ndarray, y: np.ndarray, features: list[str],
          target: str = "target", scaling: Scaling | None = None, positions: list[int] | None = None,
          classes: Sequence[str] | None = None, unscaled: str | None = None) -> Dataset:
    """Test rows set aside first (the latest ones for a series), then the rest split into training and validation
    rows (stratified for classification); scaling fitted on the training rows only, unless `scaling` is given.
    `positions`: the rows are already split, in that order, into parts of these sizes (train, validation[, test]).
    `classes`: the class names in the order of the model's outputs, `y` their indices. `unscaled`: why the rows go
    in as they are whatever data.scale says. Integer and bool rows are never scaled (their dtype says why) and keep
    their dtype; float rows become float32."""
    from sklearn.model_selection import train_test_split

    y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
    names: tuple[str, ...] = ()
    if task == "classification":
        names, y = labelled(name, y, classes)
    elif not np.issubdtype(y.dtype, np.number):
        raise DataError(f"data {name}: task is regression but the target is not numeric")

    def cut(x: np.ndarray, y: np.ndarray, share: float, what: str) -> tuple[np.ndarray, ...]:
        counts = np.bincount(y) if task == "classification" else None
        stratify = y if counts is not None and spec.stratify and counts[counts > 0].min() >= 2 else None
        if spec.window:  # a time series: hold out the latest windows, never windows mixed into training
            stratify = None
        try:
            return train_test_split(x, y, test_size=share, random_state=spec.seed, stratify=stratify,
                                    shuffle=not spec.window)
        except ValueError as exc:
            raise DataError(f"data {name}: cannot split {len(x)} rows for {what} ({exc}); add rows") from None

    x_test = y_test = None
    if positions is not None:
        ends = np.cumsum(positions)
        x_tr, x_va, y_tr, y_va = x[:ends[0]], x[ends[0]:ends[1]], y[:ends[0]], y[ends[0]:ends[1]]
        if len(positions) > 2:
            x_test, y_test = x[ends[1]:], y[ends[1]:]
    else:
        if spec.test_split:
            x, x_test, y, y_test = cut(x, y, spec.test_split, "testing")
        x_tr, x_va, y_tr, y_va = cut(x, y, spec.validation_split, "validation")
    if scaling is None:
        unscaled = _kept(x_tr) or unscaled or ("data.scale: none" if spec.scale == "none" else None)
        scaling = None if unscaled is not None else _scaling(spec.scale, x_tr)
    x_tr, x_va = _scaled(x_tr, scaling), _scaled(x_va, scaling)
    x_test = None if x_test is None else _scaled(x_test, scaling)
    target_scaling = None
    if task == "regression":
        if spec.scale_target:
            target_scaling = TargetScaling(float(y_tr.mean()), float(y_tr.std()) or 1.0)
        y_tr, y_va = _standardized(y_tr, target_scaling), _standardized(y_va, target_scaling)
        y_test = None if y_test is None else _standardized(y_test, target_scaling)
    return Dataset(name, task, x_tr, y_tr, x_va, y_va, names, tuple(features), x_test=x_test, y_test=y_test,
                   scaling=scaling, unscaled=unscaled or "", target_scaling=target_scaling,
                   target=target)


def labelled(name: str, y: np.ndarray, classes: Sequence[str] | None = None) -> tuple[tuple[str, ...], np.ndarray]:
    """Class names in the order of the model's outputs, and each row's output index. Given `classes`: label i is
    classes[i]. Integer labels (none negative): output i is label i, a value the labels skip an output never
    trained. Other labels (text, floats, negative integers, integers from MAX_CLASSES on): sorted."""
    if classes is not None:
        names = tuple(str(c) for c in classes)
        whole = np.issubdtype(y.dtype, np.number) and np.all(np.mod(y, 1) == 0)
        if not whole or y.min() < 0 or y.max() >= len(names):
            raise DataError(f"data {name}: with classes given ({len(names)} names), each label must be an index "
                            f"0..{len(names) - 1} into them; found {_some(np.unique(y))}")
        if len(set(names)) < len(names):
            raise DataError(f"data {name}: classes name a class twice ({', '.join(names)}); give each its own name")
        index = y.astype("int32")
    elif y.dtype.kind in "iu" and y.min() >= 0 and y.max() < MAX_CLASSES:
        names, index = tuple(str(i) for i in range(int(y.max()) + 1)), y.astype("int32")
    else:
        labels, index = np.unique(y, return_inverse=True)
        if len(labels) > MAX_CLASSES and np.issubdtype(labels.dtype, np.number):
            raise DataError(f"data {name}: {len(labels)} distinct targets; set task: regression")
        names, index = tuple(str(c) for c in labels), index.astype("int32")
    if len(np.unique(index)) < 2:
        raise DataError(f"data {name}: the target has a single class; classification needs at least two")
    return names, index


def _some(values: np.ndarray) -> str:
    shown = ", ".join(str(v) for v in values[:8])
    return shown + (f", ... ({len(values)} values)" if len(values) > 8 else "")


def _kept(x: np.ndarray) -> str | None:
    """Why rows of this dtype go in as they are: integers (token ids, counts, codes) and bools are never scaled."""
    if x.dtype == bool:
        return "bool"
    return "integer-typed" if np.issubdtype(x.dtype, np.integer) else None


def _scaling(kind: str, x_tr: np.ndarray) -> Scaling:
    if kind == "standard":
        center, spread = x_tr.mean(axis=0), x_tr.std(axis=0)
    else:
        center, spread = x_tr.min(axis=0), x_tr.max(axis=0) - x_tr.min(axis=0)
    return Scaling(center, np.where(spread == 0, 1.0, spread), kind)


def _scaled(x: np.ndarray, scaling: Scaling | None) -> np.ndarray:
    """Scaled rows as float32; rows used as they are keep an integer or bool dtype, floats become float32."""
    if scaling is None:
        return x if _kept(x) is not None else x.astype("float32")
    return ((x - scaling.center) / scaling.spread).astype("float32")


def _standardized(y: np.ndarray, scaling: TargetScaling | None) -> np.ndarray:
    y = y.astype("float32")
    return y if scaling is None else ((y - scaling.mean) / scaling.std).astype("float32")
