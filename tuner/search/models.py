"""Where a study's models come from: the ones tuner builds from layers and units (`TunerModels`), or the user's own
(tuner.search.user_space.UserModels: a build function of theirs, or an existing model whose widths tuner changes).
The objective, the session, the export and the notes ask one of these for a trial's hyperparameters, its model and
its description; `models_for` picks the one a study file names."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from tuner.data import Dataset
from tuner.record import Hyperparams, LayerRow
from tuner.search import space, warmstart
from tuner.spec import Dim, GridSpec, StudySpec

if TYPE_CHECKING:
    import keras

    from tuner.search.source import ModelSource


class TunerModels:
    """tuner's own Dense, Conv2D and LSTM/GRU stacks: counted without building them, built as late as possible."""

    builds_to_count = False  # the parameter count comes from the hyperparameters alone

    def __init__(self, spec: StudySpec, data: Dataset) -> None:
        self.spec, self.data = spec, data

    def sample(self, trial: optuna.Trial) -> Hyperparams:
        return space.sample(trial, self.spec.space, self.spec.training)

    def from_params(self, params: dict[str, Any]) -> Hyperparams:
        return space.from_params(params, self.spec.space, self.spec.training)

    def from_trial(self, trial: optuna.trial.FrozenTrial) -> Hyperparams:
        return self.from_params(trial.params)

    def architecture(self, hp: Hyperparams, model: Any = None) -> list[LayerRow]:
        from tuner.training.model import architecture

        return architecture(hp, self.data.n_features, self.data.n_outputs, self.data.shape)

    def build(self, hp: Hyperparams, first: bool = False) -> keras.Model:
        from tuner.training.model import build_model

        return build_model(hp, self.data.n_features, self.data.n_outputs, self.data.task, self.spec.training.optimizer,
                           self.data.shape)

    def widths(self, hp: Hyperparams) -> dict[str, list[float]]:
        """What the trial's record lists per layer: units, dropout and L2."""
        return {"units": hp.units, "dropout": [float(f"{layer.dropout:.4g}") for layer in hp.layers],
                "l2": [float(f"{layer.l2:.4g}") for layer in hp.layers]}

    def first_trials(self, source: str = "warm_start") -> list[dict[str, Any]]:
        return warmstart.first_trials(self.spec, self.data.n_features, self.data.n_outputs, source)

    def grid(self) -> dict[str, list[Any]] | None:
        """The grid of a grid study (None for another sampler)."""
        if not isinstance(self.spec.sampler, GridSpec):
            return None
        return space.grid(self.spec.space, self.spec.training)

    def dimensions(self) -> list[tuple[str, Dim, str]]:
        """(name, dimension, per layer) for the study note's table."""
        s = self.spec.space
        rows = []
        for field in ("layers", "units", "dropout", "l2", "activation", "learning_rate", "batch_size"):
            dim = getattr(s, field)
            if dim is not None:
                rows.append((field, dim, ("yes" if s.per_layer(field) else "no")
                             if field in ("units", "dropout", "l2") else ""))
        return rows

    def check(self, where: str) -> None:
        """What can be checked before the study is touched, without building a model."""
        from tuner.search import constraints
        from tuner.training import families
        from tuner.training.model import count_params

        families.check(self.spec.space.family, self.data.shape)
        if self.spec.max_params is not None:
            small = constraints.smallest(self.spec.space.family, int(self.spec.space.layers.bounds()[0]),
                                         int(self.spec.space.units.bounds()[0]))
            constraints.check_reachable(small, count_params(small, self.data.n_features, self.data.n_outputs,
                                                            self.data.shape), self.spec.max_params)
        self.first_trials(f"{where}: warm_start")  # they fit the space


def models_for(spec: StudySpec, data: Dataset, roots: Sequence[Path] = ()) -> ModelSource:
    """The models a study's trials train: tuner's, or the user's (`model:`; files looked up under `roots`)."""
    if spec.model is None:
        return TunerModels(spec, data)
    from tuner.search.user_space import UserModels

    return UserModels(spec, data, roots or [Path.cwd()])
