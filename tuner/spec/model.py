"""The `model` section of a study file: the user's own model instead of one tuner builds from layers and units.

- `build: file.py:function` (or `module:function`): a function that takes the trial's hyperparameters
  (tuner.record.ModelParams) and returns a keras.Model; `space.units` names the widths it takes.
- `keras: file.keras` or `function: file.py:function` (a function of no arguments returning a model): an existing
  model whose width-bearing hidden layers tuner finds and re-widens, each on its own (`widths: each`) or all by one
  factor (`widths: multiplier`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from tuner.spec.dim import Strict


class ModelSpec(Strict):
    build: str | None = None
    keras: str | None = None
    function: str | None = None
    widths: Literal["each", "multiplier"] = "each"

    @model_validator(mode="after")
    def _check(self) -> ModelSpec:
        given = [k for k in ("build", "keras", "function") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("name exactly one of build: file.py:function, keras: file.keras or "
                             "function: file.py:function")
        if self.build is not None and self.widths != "each":
            raise ValueError("widths: applies to an existing model (keras: or function:), not to build:")
        return self

    @property
    def rewidens(self) -> bool:
        """An existing model whose widths tuner changes (not a build function of the user's)."""
        return self.build is None
