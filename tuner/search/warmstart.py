"""Warm starts: the first trials of a new study are enqueued, so the search starts from sensible points.

By default the first trial is the rule-of-thumb width: one hidden layer (or the fewest the space allows) whose
width lies between the input and output sizes, round((inputs + outputs) / 2), with moderate regularization (L2
1e-4, dropout 0.2), each clipped into the space. The study file can list more starting configurations under
`warm_start.trials` (keys layers, units, dropout, l2, learning_rate, batch_size, activation; a missing key takes
the rule-of-thumb value) and turn the rule of thumb off with `warm_start: false` or `rule_of_thumb: false`.
Grid studies get no warm start (the grid covers every point anyway).
"""

from __future__ import annotations

from typing import Any

import optuna

from tuner import record
from tuner.errors import SpecError
from tuner.search import space as spaces
from tuner.spec import Dim, GridSpec, StudySpec

MODERATE_L2 = 1e-4
MODERATE_DROPOUT = 0.2
KEYS = ("layers", "units", "dropout", "l2", "learning_rate", "batch_size", "activation")


def rule_of_thumb(spec: StudySpec, n_inputs: int, n_outputs: int) -> dict[str, Any]:
    """The rule-of-thumb configuration, every value moved into the space."""
    training = spec.training
    config = {"layers": 1, "units": round((n_inputs + n_outputs) / 2), "dropout": MODERATE_DROPOUT,
              "l2": MODERATE_L2, "learning_rate": training.learning_rate, "batch_size": training.batch_size,
              "activation": "relu"}
    return {key: nearest(spaces.dimension(spec.space, training, key), value) for key, value in config.items()}


def first_trials(spec: StudySpec, n_inputs: int, n_outputs: int, source: str = "warm_start") -> list[dict[str, Any]]:
    """Optuna params of the trials to enqueue, checked against the space (a SpecError names the bad entry)."""
    if isinstance(spec.sampler, GridSpec):
        return []
    default = rule_of_thumb(spec, n_inputs, n_outputs)
    configs = ([default] if spec.warm_start.rule_of_thumb else []) + \
        [{**default, **given} for given in spec.warm_start.trials]
    params = []
    for i, config in enumerate(configs):
        where = f"{source}.trials[{i - spec.warm_start.rule_of_thumb}]"
        unknown = sorted(set(config) - set(KEYS))
        if unknown:
            raise SpecError(f"{where}: unknown key(s) {', '.join(unknown)}; use {', '.join(KEYS)}")
        params.append(to_params(config, spec, where))
    return params


def to_params(config: dict[str, Any], spec: StudySpec, where: str) -> dict[str, Any]:
    """A friendly configuration as the trial parameters `space.sample` asks for."""
    n_layers = int(config["layers"])
    params: dict[str, Any] = {}
    for name, field, layer, dim in spaces.sampled(spec.space, spec.training):
        if field == "layers":
            params[name] = _inside(dim, n_layers, f"{where}.layers")
        elif field in record.PER_LAYER_FIELDS:
            given = config[field] if isinstance(config[field], list) else [config[field]] * n_layers
            if len(given) != n_layers:
                raise SpecError(f"{where}.{field}: lists {len(given)} values for {n_layers} layer(s); "
                                f"give one per layer")
            if layer is None or layer < n_layers:
                params[name] = _inside(dim, given[layer or 0], f"{where}.{field}")
        else:
            params[name] = _inside(dim, config[field], f"{where}.{field}")
    spaces.from_params(params, spec.space, spec.training)  # every parameter the space asks for is there
    return params


def enqueue(study: optuna.Study, params: list[dict[str, Any]], base: bool = False) -> int:
    """Queue the first trials of a study that has none yet; returns how many were queued. `base`: the first one is
    the user's existing model as it is (marked, so that results can be compared with it)."""
    if study.get_trials(deepcopy=False):
        return 0
    for i, p in enumerate(params):
        attrs = {record.WARM_START: True, **({record.BASE_MODEL: True} if base and i == 0 else {})}
        study.enqueue_trial(p, user_attrs=attrs, skip_if_exists=True)
    return len(params)


def nearest(dim: Dim, value: Any) -> Any:
    """`value` moved into the dimension: clipped into a range (on its step), or the closest choice."""
    if dim.fixed:
        return dim.values()[0]
    if dim.low is None:
        choices = dim.values()
        if value in choices or isinstance(value, str):
            return value if value in choices else choices[0]
        return min(choices, key=lambda c: abs(float(c) - float(value)))
    clipped = min(max(float(value), dim.low), dim.high)
    if dim.step:
        clipped = dim.low + round((clipped - dim.low) / dim.step) * dim.step
    return int(round(clipped)) if isinstance(value, int) else clipped


def _inside(dim: Dim, value: Any, where: str) -> Any:
    if dim.low is None:
        if value not in dim.values():
            raise SpecError(f"{where}: {value!r} is not one of the space's choices ({dim.describe()})")
        return value
    if isinstance(value, (str, bool)) or not dim.low <= float(value) <= dim.high:
        raise SpecError(f"{where}: {value!r} is outside the space's range {dim.low:g}..{dim.high:g}")
    return value
