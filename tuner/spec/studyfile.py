"""A whole study file: its sections, how they must fit together, and the fingerprint of the search it defines."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import Field, model_validator

from tuner.spec.dim import Dim, Strict
from tuner.spec.model import ModelSpec
from tuner.spec.sections import (BudgetSpec, DataSpec, GridSpec, HalvingSpec, HyperbandSpec, MedianSpec,
                                 OneShotSpec, PrunerSpec, ResourcesSpec, SamplerSpec, SpaceSpec, TPESpec, TrainingSpec,
                                 WarmStartSpec)


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
    one_shot: OneShotSpec | None = None  # every width from one training, then the best retrained
    model: ModelSpec | None = None  # the user's own model; None: tuner builds it from layers and units
    resources: ResourcesSpec = ResourcesSpec()  # what one worker asks of a Ray cluster; not part of the search
    refit: bool | Literal["all"] = True  # the shipped model: retrained on training + validation rows (all: + test)

    @model_validator(mode="before")
    @classmethod
    def _named_shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in ("sampler", "pruner"):
                if isinstance(data.get(key), str):
                    data[key] = {"name": data[key]}
            if isinstance(data.get("one_shot"), bool):
                data["one_shot"] = {} if data["one_shot"] else None
        return data

    @model_validator(mode="after")
    def _check(self) -> StudySpec:
        _check_model(self)
        if isinstance(self.sampler, GridSpec):
            _check_grid(self.space, user_model=self.model is not None)
        minimum = self.pruner.min_resource if isinstance(self.pruner, HalvingSpec | HyperbandSpec) else None
        if isinstance(minimum, int) and minimum > self.training.epochs:
            raise ValueError(f"pruner.min_resource: {minimum} epochs is more than training.epochs "
                             f"({self.training.epochs}); give at most {self.training.epochs}")
        if self.one_shot is not None:
            _check_one_shot(self)
        if self.objectives[:1] != ["metric"] or len(set(self.objectives)) != len(self.objectives):
            raise ValueError("objectives: list metric first, then n_params and/or latency, each once "
                             "(e.g. [metric, n_params])")
        return self

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    def fingerprint(self) -> str:
        """A hash of what defines the search (all but the budget, the description, the sampler's seed and the refit).

        Settings added after the first release count only when they differ from their defaults, so that studies
        created before them keep their fingerprint; the warm start never counts (it only picks the first trials).
        """
        definition = self.model_dump(mode="json", exclude={"budget": True, "description": True, "sampler": {"seed"},
                                                           "warm_start": True, "refit": True, "one_shot": True,
                                                           "resources": True})
        _drop_defaults(definition, StudySpec(data=self.data).model_dump(mode="json"), _LATER_FIELDS)
        return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()[:16]


ESTIMABLE = ("accuracy", "loss", "mae", "mse")  # the metrics a one-shot stage estimates on shared weights
_LATER_FIELDS = (("objectives",), ("max_params",), ("space", "family"), ("data", "shape"), ("data", "window"),
                 ("model",), ("space", "width_multiplier"), ("data", "loader"), ("data", "images"),
                 ("data", "image_size"), ("data", "color_mode"), ("sampler", "group"))


def _drop_defaults(dump: dict[str, Any], defaults: dict[str, Any], paths: tuple[tuple[str, ...], ...]) -> None:
    for path in paths:
        parent, default = dump, defaults
        for key in path[:-1]:
            parent, default = parent[key], default[key]
        if parent.get(path[-1]) == default.get(path[-1]):
            parent.pop(path[-1], None)


def _check_model(spec: StudySpec) -> None:
    """What a study file may say about its model: named widths need the user's model; a build function needs
    them; tuner's layer settings do not apply to the user's model."""
    space, model = spec.space, spec.model
    default = SpaceSpec()  # what is left as it is (a stored definition spells out every default)
    given = {field for field in ("layers", "family", "units") if getattr(space, field) != getattr(default, field)}
    if model is None:
        if space.named_units is not None:
            raise ValueError("space.units: names widths, which needs the user's own model: add model: {build: "
                             "file.py:function} or model: {keras: file.keras}")
        if space.width_multiplier is not None:
            raise ValueError("space.width_multiplier: applies to an existing model (model: {keras: ...}); remove it")
        return
    for field in ("layers", "family"):
        if field in given:
            raise ValueError(f"space.{field}: applies to the models tuner builds, not to model: {{...}}; remove it")
    if model.build is not None and space.named_units is None:
        raise ValueError("space.units: with model.build, name the widths the function takes, e.g. units: {conv_1: "
                         "{low: 16, high: 256, log: true}, dense_head: [64, 128, 256]}")
    if model.build is not None and space.width_multiplier is not None:
        raise ValueError("space.width_multiplier: applies to an existing model (model.keras or model.function)")
    if model.rewidens and model.widths == "multiplier" and "units" in given:
        raise ValueError("space.units: with model.widths: multiplier every width follows space.width_multiplier; "
                         "remove units, or use widths: each")
    if model.rewidens and model.widths == "each" and space.width_multiplier is not None:
        raise ValueError("space.width_multiplier: needs model.widths: multiplier")


def _check_one_shot(spec: StudySpec) -> None:
    """What the one-shot stage can estimate: tuner's Dense and Conv2D stacks or the user's own model, with one
    activation, on the metric and size (what masks cannot narrow in a user's model is checked once it is loaded)."""
    if spec.model is None and spec.space.family not in ("dense", "conv2d"):
        raise ValueError("one_shot: works on tuner's own Dense and Conv2D stacks (space.family dense or conv2d) and "
                         "on your own model (model:); remove one_shot to search this model trial by trial")
    if spec.training.metric is not None and spec.training.metric.removeprefix("val_") not in ESTIMABLE:
        raise ValueError(f"one_shot: estimates {', '.join(ESTIMABLE)} on shared weights, not "
                         f"{spec.training.metric!r}; use one of those as training.metric or remove one_shot")
    if "latency" in spec.objectives:
        raise ValueError("one_shot: cannot estimate latency on shared weights; use objectives: [metric] or "
                         "[metric, n_params]")
    if not spec.space.activation.fixed:
        raise ValueError("one_shot: the shared weights are trained with one activation; give space.activation a "
                         "single value")
    if isinstance(spec.sampler, GridSpec):
        raise ValueError("one_shot: chooses the widths itself; use sampler tpe or random")


def _check_grid(space: SpaceSpec, user_model: bool = False) -> None:
    fields = ("l2", "dropout", "learning_rate", "batch_size", "activation", "width_multiplier") if user_model \
        else SpaceSpec.model_fields
    for field in fields:
        dim = getattr(space, field)
        if isinstance(dim, Dim) and dim.is_range:
            raise ValueError(f"sampler grid: space.{field} is a range; give a list of choices instead")
    for name, dim in (space.named_units or {}).items():
        if dim.is_range:
            raise ValueError(f"sampler grid: space.units.{name} is a range; give a list of choices instead")
    if user_model:
        return
    if not space.layers.fixed:
        for field in ("units", "dropout", "l2"):
            if space.per_layer(field) and not getattr(space, field).fixed:
                raise ValueError(f"sampler grid: space.{field} is per layer while the layer count varies; "
                                 f"set {field}.per_layer: false or fix layers")
