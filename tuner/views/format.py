"""How a value is printed in every table tuner shows: four significant digits, `-` for nothing, lists element by
element."""

from __future__ import annotations

from typing import Any


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    return str(value)
