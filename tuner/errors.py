"""One root error for everything a user can fix, and narrow subclasses.

A `TunerError` stops the command before anything is written to a study; the CLI prints its message (one or two
lines: what, where, how to fix) and exits with code 2. A `TrialFailed` fails one trial; the study goes on.
"""

from __future__ import annotations


class TunerError(Exception):
    """A mistake the user can fix: bad study file, bad data, unreachable storage, unknown study."""

    exit_code = 2


class SpecError(TunerError):
    """The study file is malformed or describes something impossible."""


class DataError(TunerError):
    """The data a study names cannot be loaded or used."""


class StorageError(TunerError):
    """The storage URL is malformed or the database cannot be reached."""


class StudyNotFound(TunerError):
    """No study of that name is in the store."""


class StudyConflict(TunerError):
    """A study of that name exists with a different definition."""


class TrialFailed(Exception):
    """One trial cannot produce a value (NaN loss, out of memory); it is recorded as failed with this reason."""


def first_line(exc: BaseException) -> str:
    """An exception's first line (at most 200 characters), or its type's name: what a one-line error quotes."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
