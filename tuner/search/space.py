"""Search space: a trial's sampled values turned into plain hyperparameters. Knows Optuna's trial API, not Keras.

A dimension that is not fixed is sampled as the parameter tuner.record.param_name gives it: `n_layers`, a
per-layer value for each layer the trial has (`units_0`, `units_1`, ...) or one value all layers share (`units`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import optuna

from tuner.record import (INTEGER_FIELDS, PER_LAYER_FIELDS, SHARED_FIELDS, WIDTH_MULTIPLIER, Hyperparams, Layer,
                          param_name)
from tuner.spec import Dim, SpaceSpec, TrainingSpec


def dimension(space: SpaceSpec, training: TrainingSpec, field: str) -> Dim:
    """The study's dimension for `field`; the learning rate and batch size fall back to `training`'s values."""
    if field == "learning_rate":
        return space.learning_rate or Dim(value=training.learning_rate)
    if field == "batch_size":
        return space.batch_size or Dim(value=training.batch_size)
    return getattr(space, field)


def sampled(space: SpaceSpec, training: TrainingSpec) -> Iterator[tuple[str, str, int | None, Dim]]:
    """(parameter name, field, layer or None, dimension) of every parameter the space can sample, for every layer
    it may have; fixed dimensions are not sampled."""
    if not space.layers.fixed:
        yield param_name("layers"), "layers", None, space.layers
    for field in PER_LAYER_FIELDS:
        dim = dimension(space, training, field)
        if dim.fixed:
            continue
        if space.per_layer(field):
            for i in range(space.max_layers):
                yield param_name(field, i), field, i, dim
        else:
            yield param_name(field), field, None, dim
    for field in SHARED_FIELDS:
        dim = dimension(space, training, field)
        if not dim.fixed:
            yield param_name(field), field, None, dim


def sample(trial: optuna.Trial, space: SpaceSpec, training: TrainingSpec) -> Hyperparams:
    """Ask the trial for every dimension that is not fixed; fixed ones are taken as they are. A trial only samples
    values for the layers it has."""
    n_layers = int(suggest(trial, "layers", None, space.layers))

    def value(field: str, layer: int | None = None) -> Any:
        dim = dimension(space, training, field)
        shared = layer is None or dim.fixed or not space.per_layer(field)
        return suggest(trial, field, None if shared else layer, dim)

    layers = tuple(Layer(units=int(value("units", i)), dropout=float(value("dropout", i)),
                         l2=float(value("l2", i))) for i in range(n_layers))
    return Hyperparams(layers=layers, activation=str(value("activation")),
                       learning_rate=float(value("learning_rate")), batch_size=int(value("batch_size")),
                       family=space.family)


def from_params(params: dict[str, Any], space: SpaceSpec, training: TrainingSpec) -> Hyperparams:
    """Rebuild a finished trial's hyperparameters from its recorded params."""
    return sample(optuna.trial.FixedTrial(params), space, training)


def grid(space: SpaceSpec, training: TrainingSpec | None = None) -> dict[str, list[Any]]:
    """The search space as GridSampler wants it (only dimensions that are sampled)."""
    return {name: dim.values() for name, _, _, dim in sampled(space, training or TrainingSpec())}


def user_sampled(space: SpaceSpec, training: TrainingSpec, widths: dict[str, Dim], multiplier: Dim | None,
                 unread: tuple[str, ...] = ()) -> Iterator[tuple[str, str, str | None, Dim]]:
    """(parameter name, field, width name or None, dimension) of every parameter a user's model samples: one width
    per name (`units_conv_1`), or the one factor of every width (`width_multiplier`), then L2, dropout and the
    shared settings; fixed dimensions, and those the model never reads (`unread`), are not sampled."""
    if multiplier is not None:
        if not multiplier.fixed:
            yield WIDTH_MULTIPLIER, WIDTH_MULTIPLIER, None, multiplier
    else:
        for name, dim in widths.items():
            if not dim.fixed:
                yield param_name("units", name), "units", name, dim
    for field in ("l2", "dropout", *SHARED_FIELDS):
        dim = dimension(space, training, field)
        if not dim.fixed and field not in unread:
            yield param_name(field), field, None, dim


def sample_user(trial: optuna.Trial, space: SpaceSpec, training: TrainingSpec, widths: dict[str, Dim],
                multiplier: Dim | None, unread: tuple[str, ...] = ()) -> dict[str, Any]:
    """The values of a user's model's dimensions for one trial: `units` by name (or `width_multiplier`), `l2`,
    `dropout` and the shared settings; fixed ones as they are; those the model never reads (`unread`) not sampled
    (L2 and dropout 0, the rest their first value)."""
    values: dict[str, Any] = {}
    if multiplier is not None:
        values[WIDTH_MULTIPLIER] = float(suggest(trial, WIDTH_MULTIPLIER, None, multiplier))
    else:
        values["units"] = {name: int(suggest(trial, "units", name, dim)) for name, dim in widths.items()}
    for field in ("l2", "dropout", *SHARED_FIELDS):
        dim = dimension(space, training, field)
        if field not in unread:
            values[field] = suggest(trial, field, None, dim)
        else:
            values[field] = 0.0 if field in ("l2", "dropout") else dim.values()[0] if not dim.is_range else dim.low
    return values


def suggest(trial: optuna.Trial, field: str, layer: int | str | None, dim: Dim) -> Any:
    """One dimension's value for the trial: sampled as `param_name(field, layer)`, or the fixed value."""
    integer = field in INTEGER_FIELDS
    if dim.fixed:
        value = dim.values()[0]
        return int(value) if integer else value
    name = param_name(field, layer)
    if dim.choices is not None:
        return trial.suggest_categorical(name, [int(v) if integer else v for v in dim.choices])
    if integer:
        return trial.suggest_int(name, int(dim.low), int(dim.high), step=int(dim.step or 1), log=dim.log)
    return trial.suggest_float(name, dim.low, dim.high, step=dim.step, log=dim.log)
