"""Search space: a trial's sampled values turned into plain hyperparameters. Knows Optuna's trial API, not Keras."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import optuna

from tuner.spec import Dim, SpaceSpec, TrainingSpec

INTEGER = {"layers", "units", "batch_size"}


@dataclass(frozen=True)
class Layer:
    units: int
    dropout: float
    l2: float


@dataclass(frozen=True)
class Hyperparams:
    """Everything needed to build and train one model; only the layers a trial has are listed."""

    layers: tuple[Layer, ...]
    activation: str
    learning_rate: float
    batch_size: int
    family: str = "dense"

    @property
    def units(self) -> list[int]:
        return [layer.units for layer in self.layers]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Hyperparams:
        return cls(layers=tuple(Layer(**layer) for layer in data["layers"]), activation=data["activation"],
                   learning_rate=data["learning_rate"], batch_size=data["batch_size"],
                   family=data.get("family", "dense"))


def sample(trial: optuna.Trial, space: SpaceSpec, training: TrainingSpec) -> Hyperparams:
    """Ask the trial for every dimension that is not fixed; fixed ones are taken as they are."""
    n_layers = int(_suggest(trial, "n_layers", space.layers, integer=True))
    shared: dict[str, Any] = {}

    def layer_value(field: str, index: int) -> Any:
        dim: Dim = getattr(space, field)
        if space.per_layer(field) and not dim.fixed:
            return _suggest(trial, f"{field}_{index}", dim, integer=field in INTEGER)
        if field not in shared:
            shared[field] = _suggest(trial, field, dim, integer=field in INTEGER)
        return shared[field]

    layers = tuple(Layer(units=int(layer_value("units", i)), dropout=float(layer_value("dropout", i)),
                         l2=float(layer_value("l2", i))) for i in range(n_layers))
    return Hyperparams(
        layers=layers,
        activation=str(_suggest(trial, "activation", space.activation)),
        learning_rate=float(_suggest(trial, "learning_rate", space.learning_rate or Dim(value=training.learning_rate))),
        batch_size=int(_suggest(trial, "batch_size", space.batch_size or Dim(value=training.batch_size), True)),
        family=space.family,
    )


def from_params(params: dict[str, Any], space: SpaceSpec, training: TrainingSpec) -> Hyperparams:
    """Rebuild a finished trial's hyperparameters from its recorded params."""
    return sample(optuna.trial.FixedTrial(params), space, training)


def grid(space: SpaceSpec) -> dict[str, list[Any]]:
    """The search space as GridSampler wants it (only dimensions that are sampled)."""
    cells: dict[str, list[Any]] = {}
    if not space.layers.fixed:
        cells["n_layers"] = space.layers.values()
    for field in ("units", "dropout", "l2"):
        dim = getattr(space, field)
        if dim.fixed:
            continue
        if space.per_layer(field):
            for i in range(space.max_layers):
                cells[f"{field}_{i}"] = dim.values()
        else:
            cells[field] = dim.values()
    for field in ("activation", "learning_rate", "batch_size"):
        dim = getattr(space, field)
        if dim is not None and not dim.fixed:
            cells[field] = dim.values()
    return cells


def _suggest(trial: optuna.Trial, name: str, dim: Dim, integer: bool = False) -> Any:
    if dim.fixed:
        value = dim.values()[0]
        return int(value) if integer else value
    if dim.choices is not None:
        return trial.suggest_categorical(name, [int(v) if integer else v for v in dim.choices])
    if integer:
        return trial.suggest_int(name, int(dim.low), int(dim.high), step=int(dim.step or 1), log=dim.log)
    return trial.suggest_float(name, dim.low, dim.high, step=dim.step, log=dim.log)
