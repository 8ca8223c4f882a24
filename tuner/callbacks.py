"""Keras callbacks the objective adds to every trial. Importing this module imports Keras."""

from __future__ import annotations

from typing import Any

import keras

from tuner import interrupt
from tuner.errors import TrialFailed


class EpochGuard(keras.callbacks.Callback):
    """Counts epochs, stops at an epoch's end once Ctrl-C was pressed, and fails the trial when the monitored key
    is missing from the logs.

    Without it, the pruning callback would only warn about a missing key and never prune.
    """

    def __init__(self, monitor: str) -> None:
        super().__init__()
        self.monitor = monitor
        self.epochs = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epochs = epoch + 1
        interrupt.check()
        if self.monitor not in (logs or {}):
            raise TrialFailed(f"metric {self.monitor!r} is not in the training logs ({', '.join(logs or {})})")
