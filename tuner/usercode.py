"""A user's Python function named in a study file: `path/to/file.py:function` (relative to the study file's folder,
like data files, then to the working folder) or `package.module:function` (imported from sys.path). Every mistake is
one line naming the file or module, the function and the study file's key."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tuner.errors import SpecError, first_line


def resolve(ref: str, key: str, roots: Sequence[Path]) -> Callable[..., Any]:
    """The function `ref` names; `key` is the study file's key (e.g. `model.build`) for the messages, `roots` the
    folders a relative file is looked up in, in order."""
    if ":" not in ref:
        raise SpecError(f"{key}: {ref!r} names no function; write `file.py:function` or `module:function`")
    where, name = ref.rsplit(":", 1)
    module = _from_file(where, key, roots) if where.endswith(".py") else _from_module(where, key)
    function = getattr(module, name, None)
    if not callable(function):
        known = ", ".join(n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))) or "none"
        raise SpecError(f"{key}: {where} has no function {name!r} (functions there: {known}); fix the name after ':'")
    return function


def call(function: Callable[..., Any], key: str, *args: Any) -> Any:
    """`function(*args)`; an exception it raises becomes one line naming it, its error and where it was raised."""
    try:
        return function(*args)
    except Exception as exc:  # the user's code: any error it raises is reported, not ours
        raise SpecError(f"{key}: {_name(function)} raised {type(exc).__name__}: {first_line(exc)}"
                        f"{_where(exc)}; fix the function") from None


def _from_file(where: str, key: str, roots: Sequence[Path]) -> Any:
    candidate = Path(where).expanduser()
    paths = [candidate] if candidate.is_absolute() else [root / candidate for root in roots]
    path = next((p for p in paths if p.is_file()), None)
    if path is None:
        looked = ", ".join(str(p.parent) for p in paths)
        raise SpecError(f"{key}: {where} not found (looked in {looked}); give a path relative to the study file")
    name = f"tuner_user_{abs(hash(str(path.resolve())))}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file: a syntax error, an import it lacks, an error at import time
        raise SpecError(f"{key}: {path} cannot be imported ({type(exc).__name__}: {first_line(exc)}"
                        f"{_where(exc, path)}); fix the file") from None
    sys.modules[name] = module
    return module


def _from_module(where: str, key: str) -> Any:
    try:
        return importlib.import_module(where)
    except Exception as exc:  # a module that is missing or fails at import
        raise SpecError(f"{key}: module {where!r} cannot be imported ({type(exc).__name__}: {first_line(exc)}); "
                        f"check the name, or give a file as path/to/file.py:function") from None


def _name(function: Callable[..., Any]) -> str:
    return f"{getattr(function, '__name__', 'the function')}()"


def _where(exc: BaseException, path: Path | None = None) -> str:
    """`, at file.py line N`: the innermost line of the user's code in the traceback."""
    frames = traceback.extract_tb(exc.__traceback__)
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f", at line {exc.lineno}"
    tuner_dir = str(Path(__file__).parent)
    mine = [f for f in frames if not f.filename.startswith(tuner_dir) and "site-packages" not in f.filename]
    if not mine:
        return ""
    frame = mine[-1]
    return f", at {Path(frame.filename).name} line {frame.lineno}"
