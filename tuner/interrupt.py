"""Ctrl-C that stops cleanly: the first SIGINT leaves a flag that the epoch callback and the trial loop turn into
KeyboardInterrupt at the next epoch's end (raising from the signal handler itself can land in a weakref callback,
where Python swallows it); a second SIGINT raises at once."""

from __future__ import annotations

import signal
import threading
from types import FrameType

_requested = False


def check() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed since `install`."""
    if _requested:
        raise KeyboardInterrupt


def _handler(signum: int, frame: FrameType | None) -> None:
    global _requested
    if _requested:
        raise KeyboardInterrupt
    _requested = True


def request() -> None:
    """What a first Ctrl-C does, asked for by code: a trial run in another thread (a Ray worker's) stops at its
    next epoch's end."""
    global _requested
    _requested = True


def install() -> None:
    """Clear the flag and catch SIGINT; outside the main thread (which alone gets signals) only `request` sets it."""
    global _requested
    _requested = False
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _handler)
