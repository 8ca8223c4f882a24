"""The data set as tf.data pipelines for `model.fit`: its arrays turned into tensors once per process (in the model's
input shape), and a light pipeline over them per trial (in an order drawn from the trial's seed, batched,
prefetched).

`model.fit` on NumPy arrays slices and converts the arrays again every epoch: ~0.14 s an epoch for 1,077 digit
images, more than the epoch's own training on a small CNN (~0.06 s). Validation and test rows go in large batches.
"""

from __future__ import annotations

from typing import Any

from tuner.data import Dataset

EVAL_BATCH = 1024  # rows a validation or test step takes at once
_tensors: dict[tuple[int, tuple[int, ...]], tuple[Dataset, dict[str, Any]]] = {}


def tensors(data: Dataset, shape: tuple[int, ...]) -> dict[str, Any]:
    """x_train, y_train, x_val, y_val (and x_test, y_test) as tensors, rows in `shape` and in the data's own dtype
    (float32, or a loader's integers: the model's input casts them as Keras does); made once per process."""
    import tensorflow as tf

    key = (id(data), shape)
    if key not in _tensors or _tensors[key][0] is not data:
        if len(_tensors) >= 4:
            _tensors.clear()
        made = {}
        for part in ("train", "val", "test"):
            x, y = getattr(data, f"x_{part}"), getattr(data, f"y_{part}")
            if x is not None and len(x):
                made[part] = (tf.constant(x.reshape((len(x), *shape))), tf.constant(y))
        _tensors[key] = (data, made)
    return _tensors[key][1]


def training(data: Dataset, shape: tuple[int, ...], batch_size: int, seed: int) -> tuple[Any, int]:
    """The training rows in batches, epoch after epoch, and the batches an epoch takes. Epoch e takes the rows in
    the order tuner's own path does (tuner.training.sharedfit: a permutation drawn from (seed, e) alone), so both
    paths see the same batches, and a retrain sees the trial's."""
    import tensorflow as tf

    x, y = tensors(data, shape)["train"]
    n = len(data.x_train)

    def epoch(e: Any) -> Any:
        order = tf.argsort(tf.random.stateless_uniform([n], seed=tf.stack([tf.constant(seed, tf.int64), e])))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    batches = (tf.data.Dataset.range(2**62).flat_map(epoch)
               .map(lambda rows: (tf.gather(x, rows), tf.gather(y, rows)), num_parallel_calls=1)
               .prefetch(tf.data.AUTOTUNE))
    return batches, -(-n // batch_size)


def evaluation(data: Dataset, shape: tuple[int, ...], part: str) -> Any:
    """The validation (`val`) or test rows, in large batches."""
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(tensors(data, shape)[part]).batch(EVAL_BATCH)
