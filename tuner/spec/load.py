"""Reading a study file: YAML parsed and validated, every mistake turned into one line naming the file and field."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tuner.errors import SpecError
from tuner.spec.sections import UNION_TAGS
from tuner.spec.studyfile import StudySpec


def parse_spec(raw: Any, source: str = "study") -> StudySpec:
    """Validate already-parsed YAML; errors name the source and the field."""
    if not isinstance(raw, dict):
        got = "an empty file" if raw is None else f"a {type(raw).__name__}: {_short(raw)}"
        raise SpecError(f"{source}: expected a mapping of settings at the top level (data: ..., space: ...), got "
                        f"{got}")
    try:
        return StudySpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(_describe(exc, source)) from None


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a study file."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{path}: no such study file; check the path (study files live in studies/)")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
                        f"save the study file as UTF-8") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or "invalid YAML"
        raise SpecError(f"{path}: malformed YAML{where}: {problem}; fix the syntax there") from None
    except RecursionError:
        raise SpecError(f"{path}: malformed YAML: brackets nested too deeply; a study file needs only a few "
                        f"levels") from None
    except ValueError as exc:  # read as YAML, but no Python value: a date such as 2024-02-30, a 5,000-digit number
        raise SpecError(f"{path}: malformed YAML: {str(exc).splitlines()[0]}; fix that value") from None
    return parse_spec(raw, str(path))


def _describe(exc: ValidationError, source: str) -> str:
    error = exc.errors()[0]
    loc = ".".join(_key(p) for p in error["loc"] if not _is_union_tag(p))
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        parent = loc.rsplit(".", 1)[0] if "." in loc else "the top level"
        message = f"unknown key; remove it or check its spelling (docs/study-files.md lists the keys under {parent})"
    elif error["type"] == "union_tag_invalid":
        expected = error.get("ctx", {}).get("expected_tags", "")
        message = f"unknown name {error['ctx'].get('tag')!r}; choose one of {expected}"
    else:
        message = _PLAIN[error["type"]].format(**error.get("ctx", {})) if error["type"] in _PLAIN else message
        if "input" in error and not isinstance(error["input"], (dict, list)) and "(got " not in message:
            message = f"{message} (got {_short(error['input'])})"
    field = re.match(r"^([a-z_0-9.]+): ", message)
    if field and error["type"] == "value_error" and loc != "study":
        loc, message = f"{loc}.{field.group(1)}" if loc else field.group(1), message[field.end():]
    extra = f" ({len(exc.errors()) - 1} more problem(s) after this one)" if len(exc.errors()) > 1 else ""
    return f"{source}: {loc or 'study'}: {message}{extra}"


# pydantic's messages for a number out of bounds, said the way the rest of the messages are
_PLAIN = {"greater_than": "must be > {gt}", "greater_than_equal": "must be >= {ge}", "less_than": "must be < {lt}",
          "less_than_equal": "must be <= {le}", "finite_number": "must be a finite number, not inf or nan",
          "int_parsing_size": "is far too large", "int_from_float": "must be a whole number",
          "union_tag_not_found": "needs a name (docs/study-files.md lists them: e.g. name: tpe, name: median)"}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _key(part: Any) -> str:
    """A key as the error names it: quoted when it is not plain text (spaces around it, a line break)."""
    text = str(part)
    return text if text.isprintable() and text.strip() == text and text else _short(part)


def _is_union_tag(part: Any) -> bool:
    return part in UNION_TAGS or str(part) in ("int", "float", "str") or \
        str(part).startswith(("function-", "literal["))
