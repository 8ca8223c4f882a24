"""The parameter budget (`max_params`): an over-budget model is recorded as infeasible before it is built.

Every trial of a study with `max_params` gets the constraint value `n_params - max_params` (<= 0 is feasible) in
both forms Optuna reads: `trial.set_constraint("max_params", v)` (Optuna 5) and the older `constraints` system
attribute (a list), which is the only one optuna-dashboard 0.21 shows. Samplers see the constraint and learn to
stay inside. An infeasible trial is PRUNED at once with a `fail_reason`, never trained, and does not use up the
trial budget (it costs no training time; the search just tries again).
"""

from __future__ import annotations

import optuna

from tuner import record
from tuner.errors import SpecError
from tuner.record import Hyperparams, Layer
from tuner.store import internals


def record_constraint(trial: optuna.Trial, n_params: int, max_params: int | None) -> None:
    """Store the constraint value; raise TrialPruned (after saying why) when the model is over budget."""
    if max_params is None:
        return
    violation = float(n_params - max_params)
    trial.set_constraint(record.CONSTRAINT, violation)
    trial.storage.set_trial_system_attr(internals.trial_id(trial), record.LEGACY_CONSTRAINTS, [violation])
    if violation > 0:
        trial.set_user_attr(record.FAIL_REASON, f"{record.INFEASIBLE}: {n_params} parameters > max_params {max_params}")
        trial.set_user_attr(record.EPOCHS_RUN, 0)
        raise optuna.TrialPruned(f"{n_params} parameters > max_params {max_params}")


def check_reachable(smallest: Hyperparams, n_params: int, max_params: int | None) -> None:
    """Refuse a budget that even the smallest model in the space exceeds (the search could never finish)."""
    if max_params is not None and n_params > max_params:
        raise SpecError(f"max_params: {max_params} is below the smallest model in the space "
                        f"({len(smallest.layers)} layer(s) of {smallest.units[0]} units: {n_params} parameters); "
                        f"raise max_params or lower space.units / space.layers")


def smallest(family: str, n_layers: int, units: int) -> Hyperparams:
    """The smallest model of a space: its fewest layers at its fewest units (only the shape matters here)."""
    return Hyperparams(layers=tuple(Layer(units, 0.0, 0.0) for _ in range(n_layers)), activation="relu",
                       learning_rate=1e-3, batch_size=32, family=family)
