"""The zoo's data: loaders a user writes for `data.loader`, each returning fixed train and validation splits.

Every set is tiny and made the same way on every call (numpy with a fixed seed, or scikit-learn's bundled sets).
Float features come standardized on their training rows, and a regression target too, so tuner's default
`data.scale: standard` and `data.scale_target: true` leave them as they are; token and category ids, and the raw
pixels of `digits_raw`, are given as the user has them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

N_TRAIN = 320
VOCAB = 30
STEPS = 12
Split = dict[str, Any]


def _split(x: np.ndarray, y: np.ndarray, n_train: int = N_TRAIN, seed: int = 0) -> tuple[np.ndarray, ...]:
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def _standardized(x_train: np.ndarray, x_val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each value of a row (flattened) standardized on the training rows; a constant one becomes 0."""
    flat_train, flat_val = x_train.reshape(len(x_train), -1), x_val.reshape(len(x_val), -1)
    center, spread = flat_train.mean(axis=0), flat_train.std(axis=0)
    spread = np.where(spread == 0, 1.0, spread)
    scaled = [((flat - center) / spread).reshape(x.shape).astype("float32")
              for flat, x in ((flat_train, x_train), (flat_val, x_val))]
    return scaled[0], scaled[1]


def _splits(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, **extra: Any) -> Split:
    return {"train": (x_train, y_train), "validation": (x_val, y_val), **extra}


def _standard_splits(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray) -> Split:
    x_train, x_val = _standardized(x_train, x_val)
    return _splits(x_train, y_train, x_val, y_val)


def _token_rows(n: int, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sequences of token ids 1..VOCAB-1; each class draws most of its tokens from its own band of the vocabulary."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    band = (VOCAB - 1) // n_classes
    own = 1 + y[:, None] * band + rng.integers(0, band, (n, STEPS))
    noise = rng.integers(1, VOCAB, (n, STEPS))
    x = np.where(rng.random((n, STEPS)) < 0.6, own, noise)
    return x.astype("int32"), y.astype("int32")


def tokens() -> Split:
    """Two classes of integer token sequences, as arrays."""
    x, y = _token_rows(480, 2, seed=1)
    return _splits(*_split(x, y))


def tokens_dataset() -> Split:
    """Three classes of integer token sequences, as batched tf.data.Datasets, with the classes' names."""
    import tensorflow as tf

    x, y = _token_rows(480, 3, seed=2)
    x_train, y_train, x_val, y_val = _split(x, y)
    train = tf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(32)
    validation = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(32)
    return {"train": train, "validation": validation, "classes": ["low", "middle", "high"]}


def waves() -> Split:
    """Three classes of noisy two-channel waves (16 steps, 2 channels) that differ in frequency."""
    rng = np.random.default_rng(3)
    n, steps = 480, 16
    y = rng.integers(0, 3, n)
    t = np.arange(steps)[None, :]
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    frequency = (0.25 + 0.35 * y)[:, None]
    x = np.stack([np.sin(frequency * t + phase), np.cos(frequency * t + phase)], axis=-1)
    x = x + rng.normal(0, 0.4, x.shape)
    return _standard_splits(*_split(x, y.astype("int32")))


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images[:480, :, :, None].astype("float32"), digits.target[:480].astype("int32")


def digits() -> Split:
    """scikit-learn's 8x8 digits as 8x8x1 images, standardized pixels."""
    return _standard_splits(*_split(*_digits(), n_train=320))


def digits_flat() -> Split:
    """scikit-learn's 8x8 digits as 64 standardized features."""
    x, y = _digits()
    return _standard_splits(*_split(x.reshape(-1, 64), y, n_train=320))


def digits_raw() -> Split:
    """scikit-learn's 8x8 digits as 64 raw pixels (0-16), for a model that scales its own inputs."""
    x, y = _digits()
    return _splits(*_split(x.reshape(-1, 64), y, n_train=320))


def tumours() -> Split:
    """scikit-learn's breast cancer set (30 standardized features, 0 malignant / 1 benign)."""
    from sklearn.datasets import load_breast_cancer

    cancer = load_breast_cancer()
    return _standard_splits(*_split(cancer.data[:544], cancer.target[:544].astype("int32"), n_train=384))


def diabetes() -> Split:
    """scikit-learn's diabetes regression, features and target standardized on the training rows."""
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    x_train, y_train, x_val, y_val = _split(x[:416], y[:416], n_train=320)
    x_train, x_val = _standardized(x_train, x_val)
    mean, std = y_train.mean(), y_train.std()
    return _splits(x_train, ((y_train - mean) / std).astype("float32"), x_val, ((y_val - mean) / std).astype("float32"))
