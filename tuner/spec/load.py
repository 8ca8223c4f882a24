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
        raise SpecError(f"{source}: expected a mapping of settings at the top level, got {type(raw).__name__}")
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
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise SpecError(f"{path}: malformed YAML{where}: {problem}; fix the syntax there") from None
    return parse_spec(raw, str(path))


def _describe(exc: ValidationError, source: str) -> str:
    error = exc.errors()[0]
    loc = ".".join(str(p) for p in error["loc"] if not _is_union_tag(p))
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        parent = loc.rsplit(".", 1)[0] if "." in loc else "the top level"
        message = f"unknown key; remove it or check its spelling (allowed keys are listed in README under {parent})"
    elif error["type"] == "union_tag_invalid":
        expected = error.get("ctx", {}).get("expected_tags", "")
        message = f"unknown name {error['ctx'].get('tag')!r}; choose one of {expected}"
    elif "input" in error and not isinstance(error["input"], (dict, list)):
        message = f"{message} (got {error['input']!r})"
    field = re.match(r"^([a-z_0-9]+): ", message)
    if field and error["type"] == "value_error" and loc != "study":
        loc, message = f"{loc}.{field.group(1)}", message[field.end():]
    extra = f" ({len(exc.errors()) - 1} more problem(s) after this one)" if len(exc.errors()) > 1 else ""
    return f"{source}: {loc or 'study'}: {message}{extra}"


def _is_union_tag(part: Any) -> bool:
    return part in UNION_TAGS or str(part).startswith("function-")
