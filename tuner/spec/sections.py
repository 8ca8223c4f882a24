"""The sections of a study file below the top level: data, space, training, sampler, pruner, budget, warm start."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from tuner.spec.dim import Dim, Strict

BUNDLED = ("digits", "iris", "wine", "breast_cancer", "diabetes")

# The largest values a study file may give (README, "Search dimensions" and "Training, sampler, pruner, budget").
MAX_LAYERS = 100  # 300 Dense layers take ~30 s to build and train an epoch; 1,000 exceed Python's recursion limit
MAX_UNITS = 65_536
MAX_EPOCHS = 100_000
MAX_BATCH_SIZE = 1_000_000
MAX_LEARNING_RATE = math.inf  # any finite rate: tests drive the loss to NaN with absurd ones
MAX_L2 = 10.0
MAX_TRIALS = 1_000_000
MAX_TIMEOUT = 366 * 24 * 3600  # seconds: a year
MAX_SEED = 2**31 - 1  # a trial's seed is the study's plus the trial number; NumPy's end at 2**32 - 1
MAX_SIZE = 1_000_000  # an entry of data.shape, rows in data.window
MAX_CPUS = 1024  # resources.cpus of one worker
MAX_GPUS = 64  # resources.gpus of one worker
MIN_GPU_SHARE = 0.0001  # the smallest share of a resource Ray tracks
MAX_STEPS = 10**12  # values in a range with a step: Optuna's arithmetic on steps gives out near 10**28
# dimension: (smallest, largest, whole numbers only, how the rule is said; the first check that fails is reported)
DIM_LIMITS: dict[str, tuple[float, float, bool, str]] = {
    "layers": (1, MAX_LAYERS, True, f"needs whole numbers >= 1 and <= {MAX_LAYERS}"),
    "units": (1, MAX_UNITS, True, f"needs whole numbers >= 1 and <= {MAX_UNITS}"),
    "batch_size": (1, MAX_BATCH_SIZE, True, f"needs whole numbers >= 1 and <= {MAX_BATCH_SIZE}"),
    "dropout": (0, 1, False, "rates must lie in [0, 1)"),
    "l2": (0, MAX_L2, False, f"strength must be >= 0 and <= {MAX_L2:g}"),
    "learning_rate": (0, MAX_LEARNING_RATE, False, "must be > 0"),
}
SOURCES = ("bundled", "csv", "npz", "loader", "images")


class SpaceSpec(Strict):
    """What is searched. Units, dropout and L2 may be sampled per layer or shared by all layers.

    With the user's own model (`model:`), `units` may name widths instead (`{conv_1: {low: 16, high: 256}}`), and
    `width_multiplier` is the factor that scales every width of an existing model (`model.widths: multiplier`).
    """

    layers: Dim = Dim(low=1, high=3)
    units: Dim | dict[str, Dim] = Dim(low=8, high=512, log=True)
    l2: Dim = Dim(choices=[0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2])  # 0: no L2
    dropout: Dim = Dim(low=0.0, high=0.5, step=0.05)  # 0: no dropout
    learning_rate: Dim | None = None
    batch_size: Dim | None = None
    activation: Dim = Dim(value="relu")
    family: Literal["dense", "conv2d", "lstm", "gru"] = "dense"
    width_multiplier: Dim | None = None

    @field_validator("units", mode="before")
    @classmethod
    def _named_units(cls, units: Any) -> Any:
        """One dimension written as a mapping (`{low: 8, high: 512}`), or widths by name (`{conv_1: [16, 32]}`)."""
        if not isinstance(units, dict) or set(units) & set(Dim.model_fields):
            return Dim.model_validate(units) if isinstance(units, (dict, list, int, float, str)) else units
        named = {}
        for name, dim in units.items():
            try:
                named[str(name)] = dim if isinstance(dim, Dim) else Dim.model_validate(dim)
            except ValidationError as exc:
                raise ValueError(f"{name}: {exc.errors()[0]['msg'].removeprefix('Value error, ')}") from None
        return named

    @property
    def named_units(self) -> dict[str, Dim] | None:
        """The widths by name, when `units` names them."""
        return self.units if isinstance(self.units, dict) else None

    @field_validator("layers", "units", "l2", "dropout", "learning_rate", "batch_size", "activation")
    @classmethod
    def _within_limits(cls, dim: Any, info: ValidationInfo) -> Any:
        """Finite numbers within DIM_LIMITS (text for the activation), checked before anything computes with them."""
        named = dim.items() if isinstance(dim, dict) else [(None, dim)]
        for name, one in named:
            problem = _dim_problem(info.field_name, one) if isinstance(one, Dim) else None
            if problem:
                raise ValueError(f"{name}: {problem}" if name else problem)
        return dim

    @model_validator(mode="after")
    def _check(self) -> SpaceSpec:
        for name, dim in (self.named_units or {}).items():
            if not dim.numeric() or dim.bounds()[0] < 1 or not dim.integral():
                raise ValueError(f"units: {name}: needs whole numbers >= 1 (got {dim.describe()})")
        if self.width_multiplier is not None and (not self.width_multiplier.numeric() or
                                                  self.width_multiplier.bounds()[0] <= 0):
            raise ValueError(f"width_multiplier: must be > 0 (got {self.width_multiplier.describe()})")
        for field in ("layers", "units", "l2", "dropout", "learning_rate", "batch_size"):
            dim = getattr(self, field)
            if isinstance(dim, Dim) and not dim.numeric():
                raise ValueError(f"{field}: values must be numbers")
        if self.layers.bounds()[0] < 1 or not self.layers.integral():
            raise ValueError(f"layers: needs whole numbers >= 1 (got {self.layers.describe()})")
        if self.named_units is None and (self.units.bounds()[0] < 1 or not self.units.integral()):
            raise ValueError(f"units: needs whole numbers >= 1 (got {self.units.describe()})")
        lo, hi = self.dropout.bounds()
        if lo < 0 or hi >= 1:
            raise ValueError(f"dropout: rates must lie in [0, 1) (got {self.dropout.describe()})")
        if self.l2.bounds()[0] < 0:
            raise ValueError(f"l2: strength must be >= 0 (got {self.l2.describe()}); 0 means no L2")
        if self.learning_rate is not None and self.learning_rate.bounds()[0] <= 0:
            raise ValueError(f"learning_rate: must be > 0 (got {self.learning_rate.describe()})")
        if self.batch_size is not None and (self.batch_size.bounds()[0] < 1 or not self.batch_size.integral()):
            raise ValueError(f"batch_size: needs whole numbers >= 1 (got {self.batch_size.describe()})")
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


class DataSpec(Strict):
    """Where the data comes from and how it is split and scaled."""

    bundled: str | None = None
    csv: str | None = None
    npz: str | None = None
    loader: str | None = None  # file.py:function (or module:function) returning the data
    images: str | None = None  # a folder of images, one sub-folder per class
    image_size: list[int] | None = None  # [height, width] the images are resized to
    color_mode: Literal["grayscale", "rgb", "rgba"] = "rgb"
    target: str | None = None
    features: list[str] | None = None
    x_key: str = "x"
    y_key: str = "y"
    validation_split: float = Field(0.25, gt=0, lt=1)  # of the rows left after the test split
    test_split: float = Field(0.2, ge=0, lt=1)  # set aside first: never trained, pruned or chosen on
    seed: int = Field(0, ge=0, le=MAX_SEED)
    scale: Literal["standard", "minmax", "none"] = "standard"
    scale_target: bool = True
    stratify: bool = True
    shape: list[int] | None = None
    window: int | None = Field(None, ge=1, le=MAX_SIZE)

    @model_validator(mode="after")
    def _check(self) -> DataSpec:
        given = [k for k in SOURCES if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("name exactly one source: bundled: <name>, csv: <file>, npz: <file>, "
                             "loader: <file.py:function> or images: <folder>")
        if self.images is None and (self.image_size is not None or self.color_mode != "rgb"):
            raise ValueError("image_size and color_mode apply only to images: <folder>")
        if self.image_size is not None and (len(self.image_size) != 2 or min(self.image_size) < 1):
            raise ValueError(f"image_size: needs [height, width], whole numbers >= 1 (got {self.image_size})")
        if self.loader is not None and ":" not in self.loader:
            raise ValueError(f"loader: {self.loader!r} names no function; write file.py:function")
        if self.bundled is not None and self.bundled not in BUNDLED:
            raise ValueError(f"bundled: unknown data set {self.bundled!r}; choose one of {', '.join(BUNDLED)}")
        if self.csv is not None and not self.target:
            raise ValueError("csv: needs target: <column> naming the column to predict")
        if self.csv is None and (self.target is not None or self.features is not None):
            raise ValueError("target and features apply only to csv data")
        if self.features is not None and (not self.features or len(set(self.features)) != len(self.features)):
            raise ValueError(f"features: needs at least one column, each named once (got {self.features}); "
                             f"leave it out to use every column but the target")
        if not self.x_key or not self.y_key or self.x_key == self.y_key:
            raise ValueError(f"x_key and y_key must name two different arrays (got {self.x_key!r} and "
                             f"{self.y_key!r})")
        if self.shape is not None and (not self.shape or min(self.shape) < 1 or max(self.shape) > MAX_SIZE):
            raise ValueError(f"shape: needs whole numbers >= 1 and <= {MAX_SIZE}, e.g. [8, 8, 1] (got {self.shape})")
        if self.window is not None and (self.csv is None or self.shape is not None):
            raise ValueError("window: applies to csv data only and replaces shape; remove one of them")
        return self


class TrainingSpec(Strict):
    """How each trial trains, and what it is judged on."""

    epochs: int = Field(20, ge=1, le=MAX_EPOCHS)
    batch_size: int = Field(64, ge=1, le=MAX_BATCH_SIZE)
    learning_rate: float = Field(1e-3, gt=0, le=MAX_LEARNING_RATE, allow_inf_nan=False)
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    metric: str | None = None
    direction: Literal["maximize", "minimize"] | None = None
    patience: int | None = Field(None, ge=1, le=MAX_EPOCHS)


class TPESpec(Strict):
    name: Literal["tpe"]
    seed: int | None = Field(0, ge=0, le=MAX_SEED)
    n_startup_trials: int = Field(10, ge=0, le=MAX_TRIALS)
    group: bool = False  # model the parameters that appear together (a layer count's units) jointly


class RandomSpec(Strict):
    name: Literal["random"]
    seed: int | None = Field(0, ge=0, le=MAX_SEED)


class GridSpec(Strict):
    name: Literal["grid"]
    seed: int | None = Field(0, ge=0, le=MAX_SEED)


SamplerSpec = Annotated[TPESpec | RandomSpec | GridSpec, Field(discriminator="name")]


class NoPrunerSpec(Strict):
    name: Literal["none"]


class MedianSpec(Strict):
    name: Literal["median"]
    n_startup_trials: int = Field(5, ge=0, le=MAX_TRIALS)
    n_warmup_steps: int = Field(2, ge=0, le=MAX_EPOCHS)


class HalvingSpec(Strict):
    name: Literal["successive_halving"]
    min_resource: int | Literal["auto"] = "auto"
    reduction_factor: int = Field(3, ge=2, le=MAX_EPOCHS)

    @field_validator("min_resource")
    @classmethod
    def _resource(cls, value: int | str) -> int | str:
        if value != "auto" and not 1 <= value <= MAX_EPOCHS:
            raise ValueError(f"must be auto or a whole number >= 1 and <= {MAX_EPOCHS} (got {value})")
        return value


class HyperbandSpec(Strict):
    name: Literal["hyperband"]
    min_resource: int = Field(1, ge=1, le=MAX_EPOCHS)
    reduction_factor: int = Field(3, ge=2, le=MAX_EPOCHS)


PrunerSpec = Annotated[NoPrunerSpec | MedianSpec | HalvingSpec | HyperbandSpec, Field(discriminator="name")]
UNION_TAGS = frozenset({"tpe", "random", "grid", "none", "median", "successive_halving", "hyperband"})


class BudgetSpec(Strict):
    trials: int | None = Field(50, ge=1, le=MAX_TRIALS)
    timeout: float | None = Field(None, gt=0, le=MAX_TIMEOUT, allow_inf_nan=False)


class ResourcesSpec(Strict):
    """What one worker asks of a Ray cluster (`tuner start --ray`): Ray places each worker where these are free.

    A fraction of a GPU shares one: `gpus: 0.25` puts four workers on a GPU, each with TensorFlow's memory limited
    to a quarter of it. Above one GPU a worker takes whole GPUs. Without Ray, `gpus` > 0 needs a GPU on this machine.
    """

    cpus: float = Field(1.0, gt=0, le=MAX_CPUS, allow_inf_nan=False)
    gpus: float = Field(0.0, ge=0, le=MAX_GPUS, allow_inf_nan=False)

    @field_validator("gpus")
    @classmethod
    def _gpu_share(cls, gpus: float) -> float:
        if gpus > 1 and not float(gpus).is_integer():
            raise ValueError(f"above 1 a worker takes whole GPUs (got {gpus:g}); give a share <= 1 such as 0.25, "
                             f"or a whole number")
        if 0 < gpus < MIN_GPU_SHARE:
            raise ValueError(f"must be 0 or at least {MIN_GPU_SHARE:g} of a GPU (got {gpus:g})")
        return gpus


class OneShotSpec(Strict):
    """Every width in one training (tuner.search.oneshot): the widest network trained once as a slimmable network,
    `estimates` width vectors scored on its weights, the best `top` of them retrained by the budget's trials."""

    estimates: int = Field(500, ge=1, le=MAX_TRIALS)  # width vectors scored on the shared weights
    top: int = Field(5, ge=1, le=MAX_TRIALS)  # width vectors retrained from scratch, in turn
    epochs: int | None = Field(None, ge=1, le=MAX_EPOCHS)  # the slimmable network's epochs (training.epochs)
    sandwich: int = Field(4, ge=2, le=64)  # widths trained a step: the widest, the narrowest and random ones


class WarmStartSpec(Strict):
    """The first trials: the rule-of-thumb width (unless turned off), then the listed configurations."""

    rule_of_thumb: bool = True
    trials: list[dict[str, Any]] = []

    @model_validator(mode="before")
    @classmethod
    def _switch(cls, data: Any) -> Any:
        return {"rule_of_thumb": data} if isinstance(data, bool) else data

    @model_validator(mode="after")
    def _values(self) -> WarmStartSpec:
        """Each listed value is a finite number (a list of them, one per layer, for units, dropout and L2), and
        the activation a name; whether it lies in the space is checked against the space (tuner.search.warmstart)."""
        for i, config in enumerate(self.trials):
            for key, value in config.items():
                problem = _warm_problem(key, value)
                if problem:
                    raise ValueError(f"trials[{i}].{key}: {value!r} {problem}")
        return self


def _number(value: Any) -> bool:
    """A finite int or float (not a bool, not text)."""
    return isinstance(value, int) and not isinstance(value, bool) or isinstance(value, float) and math.isfinite(value)


def _whole(value: Any) -> bool:
    return isinstance(value, int) or value.is_integer()


def _shown(dim: Dim) -> str:
    text = dim.describe()
    return text if len(text) <= 60 else text[:57] + "..."


def _dim_problem(field: str, dim: Dim) -> str | None:
    """What is wrong with a dimension's values, or None (values that are not numbers are reported elsewhere)."""
    if field == "activation":
        names = [dim.value] if dim.value is not None else dim.choices or []
        if dim.is_range or not all(isinstance(v, str) and v for v in names):
            return f"needs names of Keras activations, e.g. relu or [relu, tanh] (got {_shown(dim)})"
        return None
    numbers = [dim.low, dim.high] + ([dim.step] if dim.step is not None else []) if dim.is_range else \
        [dim.value] if dim.value is not None else list(dim.choices or [])
    if any(isinstance(v, str) for v in numbers):
        return None
    if not all(_number(v) for v in numbers):
        return f"values must be finite numbers (got {_shown(dim)}); write numbers such as 1.0e-3"
    if dim.is_range and dim.step is not None and (dim.high - dim.low) / dim.step > MAX_STEPS:
        return f"step {dim.step:g} cuts {_shown(dim)} into more than {MAX_STEPS:.0e} values; use a larger step"
    low, high, whole, rule = DIM_LIMITS[field]
    values = numbers[:2] if dim.is_range else numbers
    above = field == "learning_rate"  # the one dimension whose smallest value is excluded
    if any(v < low or v > high or (above and v == low) or (field == "dropout" and v == high) for v in values) or \
            whole and not all(_whole(v) for v in numbers):
        return f"{rule} (got {_shown(dim)})"
    return None


_WARM_NUMBERS = ("layers", "units", "dropout", "l2", "learning_rate", "batch_size")


def _warm_problem(key: str, value: Any) -> str | None:
    if key == "activation":
        return None if isinstance(value, str) and value else "is not an activation name; write e.g. relu"
    if key not in _WARM_NUMBERS:
        return None  # an unknown key: tuner.search.warmstart names the keys it takes
    if key == "layers":
        if not _number(value) or not _whole(value) or not 1 <= value <= MAX_LAYERS:
            return f"is not a layer count; write a whole number >= 1 and <= {MAX_LAYERS}"
        return None
    per_layer = key in ("units", "dropout", "l2")
    if key == "units" and isinstance(value, dict) and value:  # widths by name, for the user's own model
        value = list(value.values())
    values = value if per_layer and isinstance(value, list) and value else [value]
    if not all(_number(v) for v in values):
        return "is not a finite number" + (" (or a list of them, one per layer)" if per_layer else "")
    return None
