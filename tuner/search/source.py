"""What a study's models come from, as the objective, the session and the export use it: tuner's own stacks
(tuner.search.models.TunerModels) or the user's (tuner.search.user_space.UserModels) both are a `ModelSource`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import keras
    import optuna

    from tuner.record import LayerRow
    from tuner.spec import Dim


class ModelSource(Protocol):
    """A trial's hyperparameters (sampled, or read back from a stored trial), its model and its description."""

    builds_to_count: bool  # True: the parameter count needs the model built (the user's models)

    def sample(self, trial: optuna.Trial) -> Any: ...

    def from_params(self, params: dict[str, Any]) -> Any: ...

    def from_trial(self, trial: optuna.trial.FrozenTrial) -> Any: ...

    def build(self, hp: Any, first: bool = False) -> keras.Model: ...

    def architecture(self, hp: Any, model: Any) -> list[LayerRow]:
        """One row per layer that has weights, the output last."""

    def widths(self, hp: Any) -> dict[str, list[float]]:
        """What the trial's record lists per layer."""

    def first_trials(self, source: str = "warm_start") -> list[dict[str, Any]]:
        """The trials to enqueue first (warm starts), as parameters."""

    def grid(self) -> dict[str, list[Any]] | None:
        """The grid sampler's search space, or None when the study is not a grid."""

    def dimensions(self) -> list[tuple[str, Dim, str]]:
        """Every searched parameter: its name, its dimension and what it is."""

    def check(self, where: str) -> None:
        """Raise a one-line SpecError where the study cannot run (checked before anything is written)."""
