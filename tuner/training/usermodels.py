"""The user's own Keras models: built by their function (or rebuilt from their model), checked against the task,
compiled for it when they come uncompiled, and described layer by layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tuner.errors import SpecError, TrialFailed
from tuner.record import LayerRow
from tuner.training.model import loss_and_metric, make_optimizer
from tuner.training.rewiden import WIDTH_KEYS

if TYPE_CHECKING:
    import keras


def from_function(function: Callable[..., Any], key: str, *args: Any, first: bool = False) -> keras.Model:
    """The model `function(*args)` returns. A mistake is a SpecError on the `first` call (the check before the
    study starts), and fails only that trial later (a build that fails for some widths: incompatible shapes)."""
    import keras

    from tuner import usercode

    try:
        model = usercode.call(function, key, *args)
    except SpecError as exc:
        if first:
            raise
        raise TrialFailed(f"the model could not be built: {str(exc).split(': ', 1)[-1]}") from None
    if not isinstance(model, keras.Model):
        raise SpecError(f"{key}: {getattr(function, '__name__', 'the function')}() returned "
                        f"{type(model).__name__}, not a keras.Model; return the model it builds")
    return model


def check_output(model: keras.Model, task: str, n_outputs: int, key: str) -> None:
    """The model takes one input, and its output fits the task: one value per class (or, for two classes, one: a
    sigmoid probability or a logit), or one number."""
    if len(model.outputs) != 1:
        raise SpecError(f"{key}: the model has {len(model.outputs)} outputs; tuner tunes models with one")
    if len(model.inputs) != 1:
        raise SpecError(f"{key}: the model has {len(model.inputs)} inputs but tuner feeds it one array a row; take "
                        f"one keras.Input and split it inside the model (e.g. with slicing layers)")
    shape = tuple(model.outputs[0].shape[1:])
    width = shape[-1] if shape else None
    if len(shape) == 1 and (width == n_outputs or binary(task, n_outputs, width)):
        return
    want = f"{n_outputs} values (one per class)" if task == "classification" else "one number"
    if task == "classification" and n_outputs == 2:
        want = "1 value (a sigmoid or a logit) or 2 (one per class)"
    raise SpecError(f"{key}: the model's output is shaped {list(shape)} a row but this {task} needs {want}; "
                    f"change its last layers")


def binary(task: str, n_classes: int, width: int | None) -> bool:
    """One output unit for two classes: the probability (or logit) of the second."""
    return task == "classification" and n_classes == 2 and width == 1


def compiled(model: keras.Model, task: str, optimizer: str, learning_rate: float, metric: str,
             key: str) -> keras.Model:
    """The model compiled for the task (loss, metric and optimizer from the study's training settings) unless it
    came compiled; then its own loss and metrics are kept and the study's metric must be one of them. One output
    unit for two classes is compiled with binary cross-entropy (from logits for a linear output) and binary
    accuracy (at 0.5, or 0 for logits), logged as `accuracy`."""
    import keras

    if model.compiled:
        logged = {m for m in _metric_names(model)} | {"loss"}
        if metric.removeprefix("val_") not in logged:
            raise SpecError(f"training.metric: {metric!r} is not among the compiled model's metrics "
                            f"({', '.join(sorted(logged))}); name one of them, or return the model uncompiled")
        return model
    loss, name = loss_and_metric(task)
    if metric.removeprefix("val_") not in (name, "loss"):
        raise SpecError(f"training.metric: {metric!r} is logged only by a model compiled with it; compile the model "
                        f"with that metric (e.g. metrics=[keras.metrics.AUC(name='auc')]) or use val_{name}")
    logits = last_activation(model) == "linear"
    if binary(task, 2, model.outputs[0].shape[-1]):
        loss = keras.losses.BinaryCrossentropy(from_logits=logits)
        name = keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0 if logits else 0.5)
    elif task == "classification" and logits:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)  # the model outputs logits
    model.compile(optimizer=make_optimizer(optimizer, learning_rate), loss=loss, metrics=[name])
    return model


def set_learning_rate(model: keras.Model, learning_rate: float) -> None:
    """A compiled model's learning rate, as the trial sampled it."""
    model.optimizer.learning_rate = learning_rate


def rows(model: keras.Model, dropout: dict[str, float] | None = None,
         l2: dict[str, float] | None = None) -> list[LayerRow]:
    """One row per layer that has weights (the last one is the output): width (units or filters) where it has one,
    parameters (Keras's own count, so they add up to `model.count_params()`), and the dropout and L2 tuner gave it
    (None where the user's own code decides)."""
    table = []
    for layer in model.layers:
        params = layer.count_params() if layer.built else 0
        if not params:
            continue
        key = WIDTH_KEYS.get(type(layer).__name__)
        table.append(LayerRow(layer.name, getattr(layer, key) if key else None, int(params),
                              None if dropout is None else dropout.get(layer.name, 0.0),
                              None if l2 is None else l2.get(layer.name, 0.0)))
    return table


def _metric_names(model: keras.Model) -> list[str]:
    config = model.get_compile_config() or {}
    names = []
    for metric in (config.get("metrics") or []):
        names.append(metric if isinstance(metric, str) else metric.get("config", {}).get("name", ""))
    return [{"acc": "accuracy"}.get(n, n) for n in names]


def last_activation(model: keras.Model) -> str:
    activation = getattr(model.layers[-1], "activation", None)
    return getattr(activation, "__name__", "linear") if activation is not None else "linear"
