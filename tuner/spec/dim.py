"""One search dimension of a study file: a single value (fixed), a list (choices), or a mapping with `low`/`high`
(and `log`, `step`) or `choices`; `per_layer` says whether each layer samples its own value."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

Scalar = int | float | str


class Strict(BaseModel):
    """A section of the study file: unknown keys are refused, values never change once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Dim(Strict):
    """One search dimension: exactly one of `value`, `choices` or `low`..`high`."""

    value: Scalar | None = None
    choices: list[Scalar] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    per_layer: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, list):
            return {"choices": data}
        if isinstance(data, (int, float, str)) and not isinstance(data, bool):
            return {"value": data}
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> Dim:
        kinds = [self.value is not None, self.choices is not None, self.low is not None or self.high is not None]
        if sum(kinds) != 1:
            raise ValueError("give one of: a single value, a list of choices, or low and high")
        if self.choices is not None and not self.choices:
            raise ValueError("choices is empty; list at least one value")
        if kinds[2]:
            if self.low is None or self.high is None:
                raise ValueError("a range needs both low and high")
            if self.low > self.high:
                raise ValueError(f"low ({self.low:g}) is greater than high ({self.high:g}); swap them")
            if self.log and self.low <= 0:
                raise ValueError(f"a log range needs low > 0 (got {self.low:g}); use a list with 0 for 'none'")
            if self.log and self.step is not None:
                raise ValueError("step cannot be used with log: true")
            if self.step is not None and self.step <= 0:
                raise ValueError(f"step must be > 0 (got {self.step:g})")
        return self

    @property
    def fixed(self) -> bool:
        return self.value is not None or (self.choices is not None and len(self.choices) == 1)

    @property
    def is_range(self) -> bool:
        return self.low is not None

    def values(self) -> list[Scalar]:
        """Every value the dimension can take, where that is a finite list (fixed or choices)."""
        if self.value is not None:
            return [self.value]
        if self.choices is not None:
            return list(self.choices)
        raise ValueError("a range has no finite list of values")

    def bounds(self) -> tuple[float, float]:
        """The smallest and largest value the dimension can take (numeric dimensions only)."""
        if self.low is not None and self.high is not None:
            return self.low, self.high
        numbers = [float(v) for v in self.values()]
        return min(numbers), max(numbers)

    def integral(self) -> bool:
        """Whether every value the dimension can take is a whole number."""
        if self.low is not None:
            return float(self.low).is_integer() and float(self.high).is_integer() and (
                self.step is None or float(self.step).is_integer())
        return all(float(v).is_integer() for v in self.values())

    def middle(self) -> Any:
        """The dimension's middle (geometric for a log range, on its step), or its first choice."""
        if self.low is None:
            return self.values()[0]
        mid = math.sqrt(self.low * self.high) if self.log else (self.low + self.high) / 2
        if self.step:
            mid = self.low + round((mid - self.low) / self.step) * self.step
        return int(round(mid)) if self.integral() else mid

    def contains(self, value: Scalar) -> bool:
        """Whether the dimension can take `value` exactly (on its step, for a range)."""
        if self.low is None:
            return value in self.values()
        if isinstance(value, (str, bool)) or not self.low <= float(value) <= self.high:
            return False
        return self.step is None or abs((float(value) - self.low) / self.step - round((float(value) - self.low)
                                                                                      / self.step)) < 1e-9

    def numeric(self) -> bool:
        return self.low is not None or not any(isinstance(v, (str, bool)) for v in self.values())

    def describe(self) -> str:
        """The dimension as people read it: `8 .. 512 (log)`, `16, 64, 256`, `relu`."""
        if self.low is not None:
            step = f", step {self.step:g}" if self.step else ""
            return f"{self.low:g} .. {self.high:g}" + (" (log)" if self.log else "") + step
        return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in self.values())
