"""The sections of a study file below the top level: data, space, training, sampler, pruner, budget, warm start."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from tuner.spec.dim import Dim, Strict

BUNDLED = ("digits", "iris", "wine", "breast_cancer", "diabetes")


class SpaceSpec(Strict):
    """What is searched. Units, dropout and L2 may be sampled per layer or shared by all layers."""

    layers: Dim = Dim(low=1, high=3)
    units: Dim = Dim(low=8, high=512, log=True)
    l2: Dim = Dim(choices=[0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2])  # 0: no L2
    dropout: Dim = Dim(low=0.0, high=0.5, step=0.05)  # 0: no dropout
    learning_rate: Dim | None = None
    batch_size: Dim | None = None
    activation: Dim = Dim(value="relu")
    family: Literal["dense", "conv2d", "lstm", "gru"] = "dense"

    @model_validator(mode="after")
    def _check(self) -> SpaceSpec:
        for field in ("layers", "units", "l2", "dropout", "learning_rate", "batch_size"):
            dim = getattr(self, field)
            if dim is not None and not dim.numeric():
                raise ValueError(f"{field}: values must be numbers")
        if self.layers.bounds()[0] < 1 or not self.layers.integral():
            raise ValueError(f"layers: needs whole numbers >= 1 (got {self.layers.describe()})")
        if self.units.bounds()[0] < 1 or not self.units.integral():
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
    target: str | None = None
    features: list[str] | None = None
    x_key: str = "x"
    y_key: str = "y"
    validation_split: float = Field(0.25, gt=0, lt=1)  # of the rows left after the test split
    test_split: float = Field(0.2, ge=0, lt=1)  # set aside first: never trained, pruned or chosen on
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


class TrainingSpec(Strict):
    """How each trial trains, and what it is judged on."""

    epochs: int = Field(20, ge=1)
    batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    metric: str | None = None
    direction: Literal["maximize", "minimize"] | None = None
    patience: int | None = Field(None, ge=1)


class TPESpec(Strict):
    name: Literal["tpe"]
    seed: int | None = 0
    n_startup_trials: int = Field(10, ge=0)


class RandomSpec(Strict):
    name: Literal["random"]
    seed: int | None = 0


class GridSpec(Strict):
    name: Literal["grid"]
    seed: int | None = 0


SamplerSpec = Annotated[TPESpec | RandomSpec | GridSpec, Field(discriminator="name")]


class NoPrunerSpec(Strict):
    name: Literal["none"]


class MedianSpec(Strict):
    name: Literal["median"]
    n_startup_trials: int = Field(5, ge=0)
    n_warmup_steps: int = Field(2, ge=0)


class HalvingSpec(Strict):
    name: Literal["successive_halving"]
    min_resource: int | Literal["auto"] = "auto"
    reduction_factor: int = Field(3, ge=2)


class HyperbandSpec(Strict):
    name: Literal["hyperband"]
    min_resource: int = Field(1, ge=1)
    reduction_factor: int = Field(3, ge=2)


PrunerSpec = Annotated[NoPrunerSpec | MedianSpec | HalvingSpec | HyperbandSpec, Field(discriminator="name")]
UNION_TAGS = frozenset({"tpe", "random", "grid", "none", "median", "successive_halving", "hyperband"})


class BudgetSpec(Strict):
    trials: int | None = Field(50, ge=1)
    timeout: float | None = Field(None, gt=0)


class WarmStartSpec(Strict):
    """The first trials: the rule-of-thumb width (unless turned off), then the listed configurations."""

    rule_of_thumb: bool = True
    trials: list[dict[str, Any]] = []

    @model_validator(mode="before")
    @classmethod
    def _switch(cls, data: Any) -> Any:
        return {"rule_of_thumb": data} if isinstance(data, bool) else data
