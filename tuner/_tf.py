"""Import TensorFlow and Keras once, quietly (their C++ start-up lines go to the real stderr otherwise)."""

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


def load_keras() -> None:
    """Make sure TensorFlow and Keras are imported, without their start-up noise."""
    if "keras" in sys.modules and "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _silenced_stderr():
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
