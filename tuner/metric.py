"""The objective metric: which Keras log key a study optimizes, and in which direction."""

from __future__ import annotations

from dataclasses import dataclass

from tuner.errors import SpecError
from tuner.model import loss_and_metric
from tuner.spec import TrainingSpec


@dataclass(frozen=True)
class Metric:
    name: str  # the Keras log key, e.g. "val_accuracy"
    direction: str  # "maximize" or "minimize"

    @property
    def base(self) -> str:
        """The training-set counterpart's key ("accuracy" for "val_accuracy")."""
        return self.name.removeprefix("val_")

    @property
    def validation(self) -> str:
        return f"val_{self.base}"

    def better(self, a: float, b: float) -> bool:
        return a > b if self.direction == "maximize" else a < b

    def best_index(self, values: list[float]) -> int:
        pick = max if self.direction == "maximize" else min
        return values.index(pick(values))


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
