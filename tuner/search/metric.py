"""The objective metric: which Keras log key a study optimizes, and in which direction, checked against what the
task's model logs. A study of the user's own model may name any metric their compiled model logs (`val_auc`);
that it is logged is checked when the model is built."""

from __future__ import annotations

from tuner.errors import SpecError
from tuner.record import Metric
from tuner.spec import TrainingSpec
from tuner.training.model import loss_and_metric

__all__ = ["Metric", "resolve_metric"]

HIGHER_IS_BETTER = ("accuracy", "auc", "precision", "recall", "f1", "fbeta", "iou", "top_k", "r2")
LOWER_IS_BETTER = ("loss", "mae", "mse", "error", "crossentropy", "hinge", "poisson", "divergence", "logcosh")


def resolve_metric(training: TrainingSpec, task: str, own_model: bool = False) -> Metric:
    """The metric named in the study file (or the task's default), checked against what the model logs.
    `own_model`: the user's model, which may log metrics of its own compile (checked when it is built)."""
    _, metric = loss_and_metric(task)
    allowed = ["loss", metric, "val_loss", f"val_{metric}"]
    name = training.metric or f"val_{metric}"
    if name not in allowed and not own_model:
        raise SpecError(f"training.metric: {name!r} is not logged for a {task} model; "
                        f"use one of {', '.join(allowed)}")
    return Metric(name, training.direction or _direction(name))


def _direction(name: str) -> str:
    base = name.removeprefix("val_").lower()
    if any(word in base for word in HIGHER_IS_BETTER):
        return "maximize"
    if any(word in base for word in LOWER_IS_BETTER):
        return "minimize"
    raise SpecError(f"training.direction: tuner cannot tell whether {name!r} is better higher or lower; set "
                    f"training.direction: maximize or minimize")
