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


_gpu_share: str | None = None  # what limit_gpu_memory did in this process


def gpu_count() -> int:
    """The GPUs TensorFlow sees in this process."""
    load_keras()
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))


def memory_limit_mib(share: float, total_mib: int) -> int:
    """TensorFlow's memory limit for a worker given `share` of a GPU of `total_mib` MiB."""
    return max(1, int(share * total_mib))


def limit_gpu_memory(share: float) -> str:
    """Keep TensorFlow to `share` of one GPU (below 1: several workers share it), before any TensorFlow op runs;
    what was done, in words. Only the first visible GPU is used: a logical device whose memory limit is its share of
    the GPU's memory (read with nvidia-smi), or memory growth where that size is unknown. Done once per process."""
    global _gpu_share
    if _gpu_share is not None or share <= 0 or share >= 1:
        return _gpu_share or ("no GPU asked for" if share <= 0 else f"{share:g} whole GPU(s), memory not limited")
    load_keras()
    import tensorflow as tf

    device = (os.environ.get("CUDA_VISIBLE_DEVICES") or "0").split(",")[0]
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        _gpu_share = f"{share:g} of GPU {device}: TensorFlow sees no GPU here, memory not limited"
        return _gpu_share
    total = _gpu_memory_mib(device)
    try:
        tf.config.set_visible_devices(gpus[0], "GPU")
        if total is None:
            tf.config.experimental.set_memory_growth(gpus[0], True)
            _gpu_share = f"{share:g} of GPU {device}: its size unknown (no nvidia-smi), memory growth on"
        else:
            limit = memory_limit_mib(share, total)
            tf.config.set_logical_device_configuration(gpus[0], [tf.config.LogicalDeviceConfiguration(limit)])
            _gpu_share = f"{share:g} of GPU {device}: TensorFlow limited to {limit:,} of {total:,} MiB"
    except RuntimeError:  # TensorFlow set its GPUs up already in this process (tuner called as a library)
        _gpu_share = f"{share:g} of GPU {device}: TensorFlow had started its GPUs already, memory not limited"
    return _gpu_share


def _gpu_memory_mib(device: str) -> int | None:
    """A GPU's memory in MiB as nvidia-smi reports it (`device`: its index or UUID), or None."""
    import subprocess

    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits", "-i", device],
                             capture_output=True, text=True, timeout=20, check=True).stdout
        return int(float(out.strip().splitlines()[0]))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None
