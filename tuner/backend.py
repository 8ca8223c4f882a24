"""TensorFlow and Keras set up for trials: imported once, quietly, their threads limited to this process's share
of the cores, their state reset between trials cheaply."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def _silenced_stderr() -> Iterator[None]:
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # captured stderr (tests): nothing to silence at fd level
        yield
        return
    saved = os.dup(fd)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)


CLEAR_EVERY = 50  # trials between two clears of Keras's session in one process
_trials_since_clear = 0
_frozen = False  # the garbage collector no longer scans what TensorFlow, Keras and the first trial left


def load_keras() -> None:
    """Make sure TensorFlow and Keras are imported, without their start-up noise.

    TensorFlow runs each op on one thread unless TF_NUM_INTRAOP_THREADS says otherwise: tuner's models are small,
    and splitting a 64-row batch across cores costs more than it gains (and two workers on two cores would fight
    over them).
    """
    if "keras" in sys.modules and "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    with _silenced_stderr():
        import keras  # noqa: F401
        import tensorflow  # noqa: F401


def start_trial(seed: int) -> None:
    """Seed Python and NumPy (which seed Keras's initializers and Dropout layers) for the next model.

    TensorFlow's own global seed is left alone here: setting it, like `keras.backend.clear_session()`, drops
    TensorFlow's kernel caches, and re-creating them costs ~85 ms a trial, more than a small trial's training.
    `tuner.training.fit.fit_keras` sets it before plain `model.fit`, the one path that depends on it. Keras's session is
    still cleared every CLEAR_EVERY trials, which keeps a long study's memory flat.

    From the second trial on, the objects that exist then (TensorFlow's and Keras's modules, the first traced
    training step: ~500,000 of them) are frozen out of the garbage collector's reach. Each full collection would
    otherwise scan them all (~150 ms, several times a minute); the trials' own garbage (a model is a cycle of
    layers) is still collected, in a few milliseconds.
    """
    global _trials_since_clear, _frozen
    import gc
    import random

    import keras
    import numpy as np

    if not _frozen and _trials_since_clear >= 1:
        gc.freeze()
        _frozen = True
    _trials_since_clear += 1
    if _trials_since_clear >= CLEAR_EVERY:
        keras.backend.clear_session(free_memory=False)
        _trials_since_clear = 0
    random.seed(seed)
    np.random.seed(seed)


THREADS_VAR = "TUNER_THREADS"  # cores for this process's TensorFlow (see limit_threads)


def limit_threads(threads: int | None = None) -> None:
    """Set TensorFlow's thread pools for this process's share of the cores (`threads`, else TUNER_THREADS); call
    before any TensorFlow op runs.

    tuner's small models gain more from running independent ops side by side than from splitting one op across
    cores (on 2 cores, 1 intra-op x 2 inter-op threads was the fastest), so at most 2 inter-op threads and half
    the cores within an op.
    """
    raw = threads if threads is not None else os.environ.get(THREADS_VAR)
    if not raw:
        return
    load_keras()
    import tensorflow as tf

    cores = int(raw)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(max(1, cores // 2))
        tf.config.threading.set_inter_op_parallelism_threads(min(cores, 2))
    except RuntimeError:  # TensorFlow already ran ops in this process (tuner called as a library): keep its pools
        pass
