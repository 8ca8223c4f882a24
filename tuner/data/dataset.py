"""A study's data, ready for Keras: train, validation and test arrays, the task, the class names (in the order of
the model's outputs), the input columns, the inputs' dtype and shape as they came, and what was fitted on the
training rows (feature scaling, the target's standardization), so that results can be given in the target's own
units and an exported model can take raw inputs."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Scaling:
    """Features as the model sees them: (raw - center) / spread, per input column; fitted on the training rows
    (`standard`, `minmax`) or the division of `pixels` by 255."""

    center: np.ndarray
    spread: np.ndarray
    kind: str = "standard"

    def describe(self) -> str:
        return "pixels / 255" if self.kind == "pixels" else f"{self.kind} (fitted on the training rows)"


@dataclass(frozen=True)
class TargetScaling:
    """A regression target as the model is trained on it: (raw - mean) / std; metrics are given back in raw units."""

    mean: float
    std: float


@dataclass(frozen=True)
class Dataset:
    """Train, validation and test arrays, ready for Keras (float32 features, or the integer or bool dtype a loader
    gave them in; int labels, label i for the model's output i, or float32 targets).

    The test rows were set aside before the train/validation split: no trial trains, is pruned or is chosen on
    them; they are empty when the study sets no test split.
    """

    name: str
    task: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    classes: tuple[str, ...]
    feature_names: tuple[str, ...]
    shape: tuple[int, ...] | None = None  # each row's shape for image or sequence models; rows stay flat
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    scaling: Scaling | None = None  # None: features are used as they are
    unscaled: str = ""  # why the features are used as they are, when `scaling` is None (`integer-typed`)
    target_scaling: TargetScaling | None = None  # None: the target is used as it is
    target: str = "target"  # the name of what is predicted (a CSV's column)
    raw_shape: tuple[int, ...] | None = None  # the shape raw inputs come in, when not flat rows (images, a loader's)

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_outputs(self) -> int:
        return len(self.classes) if self.task == "classification" else 1

    @property
    def input_columns(self) -> list[str]:
        """What each value of a raw input row is, in order (a window of a series: every column at every step,
        oldest step first)."""
        names = list(self.feature_names)
        if len(names) == self.n_features:
            return names
        if self.shape and len(self.shape) == 2 and len(names) == self.shape[1]:
            steps = self.shape[0]
            return [f"{name} at t-{steps - step}" for step in range(steps) for name in names]
        return [f"x{i}" for i in range(self.n_features)]

    @property
    def n_test(self) -> int:
        return 0 if self.x_test is None else len(self.x_test)

    @property
    def row_shape(self) -> tuple[int, ...]:
        """The shape of one raw input row: the loader's or the images', else flat."""
        return self.raw_shape or (self.n_features,)

    @property
    def scaled(self) -> str:
        """Whether the features are scaled, how or why not: `scaled: pixels / 255`, `not scaled: integer-typed`."""
        return f"scaled: {self.scaling.describe()}" if self.scaling is not None else f"not scaled: {self.unscaled}"

    def input_lines(self) -> list[str]:
        """Each input's dtype and shape as the exported model takes it, and whether and why it is scaled."""
        model = tuple(self.shape) if self.shape else self.row_shape
        reshaped = f", reshaped to {model} for the model" if model != self.row_shape else ""
        return [f"input x: {self.x_train.dtype} {self.row_shape}, {self.scaled}{reshaped}"]

    def for_refit(self, refit: str) -> Dataset:
        """The rows a final model trains on: the training rows and the validation rows (`refit` "yes"; the
        validation rows stay as they are, to log a score that is no longer unseen), with the test rows too ("all":
        none remain unseen), or the training rows alone ("no"). The scaling stays the one fitted on the training
        rows, so the model takes inputs as the trials' did."""
        if refit == "no":
            return self
        parts = [(self.x_train, self.y_train), (self.x_val, self.y_val)]
        if refit == "all" and self.n_test:
            parts.append((self.x_test, self.y_test))
        return replace(self, x_train=np.concatenate([x for x, _ in parts]),
                       y_train=np.concatenate([y for _, y in parts]),
                       **({"x_test": None, "y_test": None} if refit == "all" else {}))

    def describe(self) -> dict:
        return {"name": self.name, "task": self.task, "train": list(self.x_train.shape),
                "validation": list(self.x_val.shape), "features": self.n_features,
                "classes": len(self.classes) if self.task == "classification" else None,
                **({"shape": list(self.shape)} if self.shape else {}),
                **({"test": list(self.x_test.shape)} if self.n_test else {}),
                **({"target": self.target} if self.task == "regression" else {})}
