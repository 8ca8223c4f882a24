"""The objective metric: which Keras log key a study optimizes, and in which direction, checked against what the
task's model logs."""

from __future__ import annotations

from tuner.errors import SpecError
from tuner.record import Metric
from tuner.spec import TrainingSpec
from tuner.training.model import loss_and_metric

__all__ = ["Metric", "resolve_metric"]


def resolve_metric(training: TrainingSpec, task: str) -> Metric:
    """The metric named in the study file (or the task's default), checked against what the model logs."""
    _, metric = loss_and_metric(task)
    allowed = ["loss", metric, "val_loss", f"val_{metric}"]
    name = training.metric or f"val_{metric}"
    if name not in allowed:
        raise SpecError(f"training.metric: {name!r} is not logged for a {task} model; "
                        f"use one of {', '.join(allowed)}")
    direction = training.direction or ("maximize" if name.endswith("accuracy") else "minimize")
    return Metric(name, direction)
