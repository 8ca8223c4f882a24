"""A whole study file: its sections, how they must fit together, and the fingerprint of the search it defines."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import Field, model_validator

from tuner.spec.dim import Dim, Strict
from tuner.spec.sections import (BudgetSpec, DataSpec, GridSpec, MedianSpec, PrunerSpec, SamplerSpec, SpaceSpec,
                                 TPESpec, TrainingSpec, WarmStartSpec)


class StudySpec(Strict):
    """A whole study file."""

    description: str = ""
    data: DataSpec
    task: Literal["classification", "regression"] | None = None
    space: SpaceSpec = SpaceSpec()
    training: TrainingSpec = TrainingSpec()
    sampler: SamplerSpec = TPESpec(name="tpe")
    pruner: PrunerSpec = MedianSpec(name="median")
    budget: BudgetSpec = BudgetSpec()
    objectives: list[Literal["metric", "n_params", "latency"]] = ["metric"]
    max_params: int | None = Field(None, ge=1)
    warm_start: WarmStartSpec = WarmStartSpec()

    @model_validator(mode="before")
    @classmethod
    def _named_shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in ("sampler", "pruner"):
                if isinstance(data.get(key), str):
                    data[key] = {"name": data[key]}
        return data

    @model_validator(mode="after")
    def _check(self) -> StudySpec:
        if isinstance(self.sampler, GridSpec):
            _check_grid(self.space)
        if self.objectives[:1] != ["metric"] or len(set(self.objectives)) != len(self.objectives):
            raise ValueError("objectives: list metric first, then n_params and/or latency, each once "
                             "(e.g. [metric, n_params])")
        return self

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    def fingerprint(self) -> str:
        """A hash of what defines the search (all but the budget, the description and the sampler's seed).

        Settings added after the first release count only when they differ from their defaults, so that studies
        created before them keep their fingerprint; the warm start never counts (it only picks the first trials).
        """
        definition = self.model_dump(mode="json", exclude={"budget": True, "description": True, "sampler": {"seed"},
                                                           "warm_start": True})
        _drop_defaults(definition, StudySpec(data=self.data).model_dump(mode="json"), _LATER_FIELDS)
        return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()[:16]


_LATER_FIELDS = (("objectives",), ("max_params",), ("space", "family"), ("data", "shape"), ("data", "window"))


def _drop_defaults(dump: dict[str, Any], defaults: dict[str, Any], paths: tuple[tuple[str, ...], ...]) -> None:
    for path in paths:
        parent, default = dump, defaults
        for key in path[:-1]:
            parent, default = parent[key], default[key]
        if parent.get(path[-1]) == default.get(path[-1]):
            parent.pop(path[-1], None)


def _check_grid(space: SpaceSpec) -> None:
    for field in SpaceSpec.model_fields:
        dim = getattr(space, field)
        if isinstance(dim, Dim) and dim.is_range:
            raise ValueError(f"sampler grid: space.{field} is a range; give a list of choices instead")
    if not space.layers.fixed:
        for field in ("units", "dropout", "l2"):
            if space.per_layer(field) and not getattr(space, field).fixed:
                raise ValueError(f"sampler grid: space.{field} is per layer while the layer count varies; "
                                 f"set {field}.per_layer: false or fix layers")
