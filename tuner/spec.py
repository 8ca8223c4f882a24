"""The study file: YAML validated into pydantic models at the edge, trusted everywhere after.

Every search dimension is written the same way: a single value (fixed), a list (choices), or a mapping with
`low`/`high` (and `log`, `step`) or `choices`; `per_layer` says whether each layer samples its own value.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tuner.errors import SpecError

BUNDLED = ("digits", "iris", "wine", "breast_cancer", "diabetes")
Scalar = int | float | str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Dim(_Strict):
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


def _numeric(dim: Dim, field: str) -> None:
    if dim.low is None and any(isinstance(v, str) or isinstance(v, bool) for v in dim.values()):
        raise ValueError(f"{field}: values must be numbers")


class SpaceSpec(_Strict):
    """What is searched. Units, dropout and L2 may be sampled per layer or shared by all layers."""

    layers: Dim = Dim(low=1, high=3)
    units: Dim = Dim(low=8, high=512, log=True)
    l2: Dim = Dim(value=0)
    dropout: Dim = Dim(value=0)
    learning_rate: Dim | None = None
    batch_size: Dim | None = None
    activation: Dim = Dim(value="relu")
    family: Literal["dense", "conv2d", "lstm", "gru"] = "dense"

    @model_validator(mode="after")
    def _check(self) -> SpaceSpec:
        for field in ("layers", "units", "l2", "dropout", "learning_rate", "batch_size"):
            dim = getattr(self, field)
            if dim is not None:
                _numeric(dim, field)
        lo, _ = self.layers.bounds()
        if lo < 1 or not _integral(self.layers):
            raise ValueError(f"layers: needs whole numbers >= 1 (got {_show(self.layers)})")
        if self.units.bounds()[0] < 1 or not _integral(self.units):
            raise ValueError(f"units: needs whole numbers >= 1 (got {_show(self.units)})")
        lo, hi = self.dropout.bounds()
        if lo < 0 or hi >= 1:
            raise ValueError(f"dropout: rates must lie in [0, 1) (got {_show(self.dropout)})")
        if self.l2.bounds()[0] < 0:
            raise ValueError(f"l2: strength must be >= 0 (got {_show(self.l2)}); 0 means no L2")
        if self.learning_rate is not None and self.learning_rate.bounds()[0] <= 0:
            raise ValueError(f"learning_rate: must be > 0 (got {_show(self.learning_rate)})")
        if self.batch_size is not None and (self.batch_size.bounds()[0] < 1 or not _integral(self.batch_size)):
            raise ValueError(f"batch_size: needs whole numbers >= 1 (got {_show(self.batch_size)})")
        for field in ("layers", "learning_rate", "batch_size", "activation"):
            dim = getattr(self, field)
            if dim is not None and dim.per_layer is not None:
                raise ValueError(f"{field}: per_layer applies only to units, dropout and l2")
        return self

    def per_layer(self, field: Literal["units", "dropout", "l2"]) -> bool:
        flag = getattr(self, field).per_layer
        return flag if flag is not None else field != "l2"

    @property
    def max_layers(self) -> int:
        return int(self.layers.bounds()[1])


def _integral(dim: Dim) -> bool:
    if dim.low is not None:
        return float(dim.low).is_integer() and float(dim.high).is_integer() and (
            dim.step is None or float(dim.step).is_integer())
    return all(float(v).is_integer() for v in dim.values())


def _show(dim: Dim) -> str:
    if dim.low is not None:
        return f"{dim.low:g}..{dim.high:g}"
    return ", ".join(str(v) for v in dim.values())


class DataSpec(_Strict):
    """Where the data comes from and how it is split and scaled."""

    bundled: str | None = None
    csv: str | None = None
    npz: str | None = None
    target: str | None = None
    features: list[str] | None = None
    x_key: str = "x"
    y_key: str = "y"
    validation_split: float = Field(0.25, gt=0, lt=1)
    seed: int = 0
    scale: Literal["standard", "minmax", "none"] = "standard"
    scale_target: bool = True
    stratify: bool = True
    shape: list[int] | None = None
    window: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _check(self) -> DataSpec:
        given = [k for k in ("bundled", "csv", "npz") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("name exactly one source: bundled: <name>, csv: <file> or npz: <file>")
        if self.bundled is not None and self.bundled not in BUNDLED:
            raise ValueError(f"bundled: unknown data set {self.bundled!r}; choose one of {', '.join(BUNDLED)}")
        if self.csv is not None and not self.target:
            raise ValueError("csv: needs target: <column> naming the column to predict")
        if self.csv is None and (self.target is not None or self.features is not None):
            raise ValueError("target and features apply only to csv data")
        if self.shape is not None and (not self.shape or min(self.shape) < 1):
            raise ValueError(f"shape: needs whole numbers >= 1, e.g. [8, 8, 1] (got {self.shape})")
        if self.window is not None and (self.csv is None or self.shape is not None):
            raise ValueError("window: applies to csv data only and replaces shape; remove one of them")
        return self


class TrainingSpec(_Strict):
    """How each trial trains, and what it is judged on."""

    epochs: int = Field(20, ge=1)
    batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    metric: str | None = None
    direction: Literal["maximize", "minimize"] | None = None
    patience: int | None = Field(None, ge=1)


class TPESpec(_Strict):
    name: Literal["tpe"]
    seed: int | None = 0
    n_startup_trials: int = Field(10, ge=0)


class RandomSpec(_Strict):
    name: Literal["random"]
    seed: int | None = 0


class GridSpec(_Strict):
    name: Literal["grid"]
    seed: int | None = 0


SamplerSpec = Annotated[TPESpec | RandomSpec | GridSpec, Field(discriminator="name")]


class NoPrunerSpec(_Strict):
    name: Literal["none"]


class MedianSpec(_Strict):
    name: Literal["median"]
    n_startup_trials: int = Field(5, ge=0)
    n_warmup_steps: int = Field(2, ge=0)


class HalvingSpec(_Strict):
    name: Literal["successive_halving"]
    min_resource: int | Literal["auto"] = "auto"
    reduction_factor: int = Field(3, ge=2)


class HyperbandSpec(_Strict):
    name: Literal["hyperband"]
    min_resource: int = Field(1, ge=1)
    reduction_factor: int = Field(3, ge=2)


PrunerSpec = Annotated[NoPrunerSpec | MedianSpec | HalvingSpec | HyperbandSpec, Field(discriminator="name")]


class BudgetSpec(_Strict):
    trials: int | None = Field(50, ge=1)
    timeout: float | None = Field(None, gt=0)


class WarmStartSpec(_Strict):
    """The first trials: the rule-of-thumb width (unless turned off), then the listed configurations."""

    rule_of_thumb: bool = True
    trials: list[dict[str, Any]] = []

    @model_validator(mode="before")
    @classmethod
    def _switch(cls, data: Any) -> Any:
        return {"rule_of_thumb": data} if isinstance(data, bool) else data


class StudySpec(_Strict):
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
        if isinstance(dim, Dim) and dim.low is not None:
            raise ValueError(f"sampler grid: space.{field} is a range; give a list of choices instead")
    if not space.layers.fixed:
        for field in ("units", "dropout", "l2"):
            if space.per_layer(field) and not getattr(space, field).fixed:
                raise ValueError(f"sampler grid: space.{field} is per layer while the layer count varies; "
                                 f"set {field}.per_layer: false or fix layers")


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
    return part in {"tpe", "random", "grid", "none", "median", "successive_halving", "hyperband"} or \
        str(part).startswith("function-")
