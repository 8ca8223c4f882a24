"""How a study's one-shot stage did (tuner.search.oneshot): what it estimated, and how well its estimates ranked the
widths that were then trained from scratch."""

from __future__ import annotations

import math
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from tuner import record

POOR_RANK = 0.5  # below this rank correlation the summary advises a normal search


def pairs(trials: list[FrozenTrial], maximize: bool = True) -> list[tuple[float, float]]:
    """(estimate, best trained value) of each width vector the study retrained and completed."""
    pick = max if maximize else min
    best: dict[tuple[int, ...], tuple[float, float]] = {}
    for t in trials:
        estimate = t.user_attrs.get(record.ESTIMATE)
        if estimate is None or t.state != TrialState.COMPLETE or not t.values:
            continue
        key = tuple(t.user_attrs.get(record.UNITS, ()))
        seen = best.get(key)
        best[key] = (estimate, t.values[0] if seen is None else pick(seen[1], t.values[0]))
    return list(best.values())


def rank(trials: list[FrozenTrial], maximize: bool = True) -> tuple[float, int] | None:
    """(Spearman correlation, widths) between the one-shot estimate and the best trained value of each width vector
    the study retrained; None below three widths, or where either side is one value throughout (no ranking)."""
    import pandas as pd

    table = pd.DataFrame(pairs(trials, maximize), columns=["estimate", "trained"])
    if len(table) < 3 or table["estimate"].nunique() < 2 or table["trained"].nunique() < 2:
        return None
    return float(table["estimate"].corr(table["trained"], method="spearman")), len(table)


def accuracy_noise(study: optuna.Study, value: float) -> float | None:
    """The standard error of an accuracy of `value` on the study's validation rows (None for another metric)."""
    metric = study.user_attrs.get(record.METRIC, "")
    rows = (study.user_attrs.get(record.DATA, {}).get("validation") or [0])[0]
    if not metric.endswith("accuracy") or not rows or not 0 <= value <= 1:
        return None
    return math.sqrt(max(value * (1 - value), 1.0 / rows) / rows)


def summary_line(study: optuna.Study, trials: list[FrozenTrial] | None = None) -> str | None:
    """"one-shot: 500 width vectors estimated from one training (6.1 s); the estimates ranked the 5 retrained
    widths at Spearman 0.90", with advice when that is poor; None for a study without the stage."""
    stage: dict[str, Any] | None = study.user_attrs.get(record.ONE_SHOT_STAGE)
    if stage is None:
        return None
    seconds = stage.get("train_seconds", 0) + stage.get("score_seconds", 0)
    line = f"one-shot: {stage['estimates']} width vectors estimated from one training ({seconds:.1f} s)"
    trials = study.get_trials(deepcopy=False) if trials is None else trials
    maximize = study.directions[0] == optuna.study.StudyDirection.MAXIMIZE
    found = rank(trials, maximize)
    if found is None:
        return line + "; too few retrained widths to check how they rank"
    rho, widths = found
    trained = [value for _, value in pairs(trials, maximize)]
    noise = accuracy_noise(study, sum(trained) / len(trained))
    if noise is not None and max(trained) - min(trained) < 2 * noise:
        return line + (f"; the {widths} retrained widths scored within {max(trained) - min(trained):.4f} of each "
                       f"other, inside the validation score's noise (+-{noise:.4f}): too close to rank")
    line += f"; the estimates ranked the {widths} retrained widths at Spearman {rho:.2f}"
    if rho < POOR_RANK:
        line += f" (below {POOR_RANK}: the estimates are a poor guide here; run a normal search without one_shot)"
    return line
