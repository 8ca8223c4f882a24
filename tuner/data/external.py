"""Data from outside tuner's readers: the user's own loader function, or a folder of images (one sub-folder per
class, read with `keras.utils.image_dataset_from_directory`). Both end as the same Dataset as a CSV: rows kept flat,
their shape and dtype beside them (an exported model takes them so), a test split set aside.

What is scaled: images by the division of their pixels by 255; a loader's `(x, y)` float arrays as data.scale says,
fitted on the training rows; never a loader's integer or bool arrays (token ids, codes: they keep their dtype) nor
its own splits (used as given). Labels: a loader's `classes` name its labels 0..k-1 in the order given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tuner import usercode
from tuner.data.dataset import Dataset, Scaling
from tuner.data.prepare import infer_task, split
from tuner.data.sources import resolve
from tuner.errors import DataError, SpecError
from tuner.spec import DataSpec

SPLITS = ("train", "validation", "test")
PIXELS = 255.0


def load(spec: DataSpec, task: str | None, base_dir: Path) -> Dataset:
    if spec.images is not None:
        return _images(spec, task, base_dir)
    return _loader(spec, task, base_dir)


def _images(spec: DataSpec, task: str | None, base_dir: Path) -> Dataset:
    folder = resolve(spec.images, base_dir)
    if not folder.is_dir():
        raise DataError(f"data images: {folder} not found; give a folder (one sub-folder per class) relative to the "
                        f"study file or an absolute one")
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise DataError(f"data images: {folder} has {len(classes)} sub-folder(s); it needs one per class, at least "
                        f"two")
    from tuner.backend import load_keras

    load_keras()
    import keras

    size = tuple(spec.image_size) if spec.image_size else _first_size(folder, classes)
    try:
        images = keras.utils.image_dataset_from_directory(folder, labels="inferred", label_mode="int",
                                                          class_names=classes, color_mode=spec.color_mode,
                                                          image_size=size, shuffle=False, batch_size=None,
                                                          verbose=False)
    except (ValueError, OSError) as exc:
        raise DataError(f"data images: {folder}: {str(exc).splitlines()[0][:200]}") from None
    x, y = _arrays(images, "images")
    if not len(x):
        raise DataError(f"data images: {folder} holds no images (.png, .jpg, .jpeg, .bmp, .gif)")
    rows = x.reshape(len(x), -1).astype("float64")
    pixels = None if spec.scale == "none" else \
        Scaling(np.zeros(rows.shape[1]), np.full(rows.shape[1], PIXELS), "pixels")
    data = split(spec, folder.name, "classification", rows, y, [f"pixel{i}" for i in range(rows.shape[1])], "class",
                 scaling=pixels, classes=classes)
    return _shaped(data, tuple(x.shape[1:]))


def _first_size(folder: Path, classes: list[str]) -> tuple[int, int]:
    """The size of the first image, when the study file gives none."""
    import keras

    for name in classes:
        for path in sorted((folder / name).iterdir()):
            try:
                image = keras.utils.load_img(path)
            except Exception:  # noqa: BLE001 - not an image: the next file
                continue
            return image.height, image.width
    raise DataError(f"data images: {folder} holds no images; put them in its class sub-folders")


def _loader(spec: DataSpec, task: str | None, base_dir: Path) -> Dataset:
    key = "data.loader"
    function = usercode.resolve(spec.loader, key, [base_dir, Path.cwd()])
    try:
        given = usercode.call(function, key)
    except SpecError as exc:
        raise DataError(str(exc)) from None
    name = spec.loader.rsplit(":", 1)[-1]
    if isinstance(given, tuple) and len(given) == 2:
        x, y = (_array(v, key) for v in given)
        _same_rows(x, y, key)
        shape = tuple(x.shape[1:])
        rows = _rows(x)
        data = split(spec, name, task or infer_task(y), rows, y, [f"x{i}" for i in range(rows.shape[1])],
                     "target")
        return _shaped(data, shape)
    if isinstance(given, dict) and "train" in given and "validation" in given:
        return _given_splits(spec, task, name, given, key)
    raise DataError(f"{key}: {spec.loader} returned {type(given).__name__}; return (x, y) arrays, or "
                    f"{{'train': ..., 'validation': ...[, 'test': ...]}} with (x, y) arrays or tf.data.Datasets")


def _given_splits(spec: DataSpec, task: str | None, name: str, given: dict[str, Any], key: str) -> Dataset:
    """Splits the loader made itself: kept as they are (the rows joined, split again by position), never scaled."""
    parts = {part: _arrays(given[part], f"{key} {part}") for part in SPLITS if part in given}
    for part, (x, y) in parts.items():
        _same_rows(x, y, f"{key} {part}")
    shapes = {tuple(x.shape[1:]) for x, _ in parts.values()}
    if len(shapes) != 1:
        raise DataError(f"{key}: the splits' rows differ in shape ({', '.join(str(s) for s in shapes)})")
    x = np.concatenate([x for x, _ in parts.values()])
    y = np.concatenate([y for _, y in parts.values()])
    sizes = [len(parts[p][0]) for p in parts]
    rows = _rows(x)
    classes = given.get("classes")
    if classes is not None and (isinstance(classes, (str, bytes)) or not hasattr(classes, "__len__")):
        raise DataError(f"{key}: 'classes' must be a list of names, label i named classes[i]; got "
                        f"{type(classes).__name__}")
    task = task or ("classification" if classes is not None else infer_task(y))
    data = split(spec, name, task, rows, y, [f"x{i}" for i in range(rows.shape[1])], "target", positions=sizes,
                 classes=None if classes is None else list(classes), unscaled="a loader's splits are used as given")
    return _shaped(data, shapes.pop())


def _arrays(value: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) from a pair of arrays or a tf.data.Dataset of (x, y) (batched or not), read into memory once."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return _array(value[0], where), _array(value[1], where)
    try:
        import tensorflow as tf
    except ImportError:  # pragma: no cover - TensorFlow is a dependency
        tf = None
    if tf is not None and isinstance(value, tf.data.Dataset):
        spec = value.element_spec
        if not isinstance(spec, tuple) or len(spec) != 2:
            raise DataError(f"{where}: the tf.data.Dataset must give (x, y) pairs")
        batched = len(spec[0].shape) > 0 and spec[0].shape[0] is None
        xs, ys = [], []
        for x, y in (value if batched else value.batch(1024)):
            xs.append(np.asarray(x)), ys.append(np.asarray(y))
        if not xs:
            raise DataError(f"{where}: the tf.data.Dataset is empty")
        return np.concatenate(xs), np.concatenate(ys)
    raise DataError(f"{where}: expected (x, y) arrays or a tf.data.Dataset, got {type(value).__name__}")


def _array(value: Any, where: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype == object or array.ndim == 0:
        raise DataError(f"{where}: expected an array of numbers or labels, got {array.dtype} of shape {array.shape}")
    return array


def _same_rows(x: np.ndarray, y: np.ndarray, where: str) -> None:
    if len(x) != len(y):
        raise DataError(f"{where}: x has {len(x)} rows but y has {len(y)}")
    if not (x.dtype == bool or np.issubdtype(x.dtype, np.number)) or np.issubdtype(x.dtype, np.complexfloating):
        raise DataError(f"{where}: x is not numeric ({x.dtype}); give real numbers, integers (token ids) or bools")
    if y.ndim != 1 and not (y.ndim == 2 and y.shape[1] == 1):
        raise DataError(f"{where}: y must hold one target a row (its shape is {y.shape})")


def _rows(x: np.ndarray) -> np.ndarray:
    """Flat rows: integers and bools in their own dtype, floats as float64 until they are scaled."""
    rows = x.reshape(len(x), -1)
    return rows if rows.dtype == bool or np.issubdtype(rows.dtype, np.integer) else rows.astype("float64")


def _shaped(data: Dataset, shape: tuple[int, ...]) -> Dataset:
    """Rows of more than one axis: the model and the exported model take them in that shape."""
    import dataclasses

    if len(shape) <= 1:
        return data
    return dataclasses.replace(data, shape=shape, raw_shape=shape)
