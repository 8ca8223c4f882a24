"""How tuner's trials are held to `model.fit`'s runs: the mean values agree within two standard errors of their
difference plus a stated tolerance, and tuner's mean learning curve stays above chance wherever `model.fit`'s is
clearly above it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tests.zoo import ZooModel
from tests.zoo.plain import Runs, arrays, maximized, splits

TOLERANCE = 0.03  # accuracy or AUC, added to two standard errors
RELATIVE_TOLERANCE = 0.05  # MAE: a share of model.fit's mean
MARGIN = 0.05  # accuracy or AUC above chance (MAE: a share of chance below it) that counts as learning


def chance(entry: ZooModel) -> float:
    """The metric of a model that learned nothing: the validation share of the most common class, an AUC of 0.5,
    or the MAE of predicting the training mean."""
    given = splits(entry)
    (_, y_train), (_, y_val) = arrays(given["train"]), arrays(given["validation"])
    if entry.metric == "val_auc":
        return 0.5
    if entry.task == "regression":
        return float(np.mean(np.abs(y_val - y_train.mean())))
    return float(np.bincount(y_val.astype(int)).max() / len(y_val))


def summary(runs: Runs) -> str:
    values = np.array(runs.values)
    return f"{values.mean():.4f} ± {values.std(ddof=1) / math.sqrt(len(values)):.4f}"


def agreement(entry: ZooModel, mine: Runs, theirs: Runs) -> list[str]:
    """What does not agree between tuner's runs (`mine`) and model.fit's (`theirs`); empty when all does."""
    problems = []
    a, b = np.array(mine.values), np.array(theirs.values)
    spread = 2 * math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    tolerance = RELATIVE_TOLERANCE * abs(b.mean()) if entry.task == "regression" else TOLERANCE
    if abs(a.mean() - b.mean()) > spread + tolerance:
        problems.append(f"mean {entry.metric}: tuner {summary(mine)} vs model.fit {summary(theirs)}, apart by "
                        f"{abs(a.mean() - b.mean()):.4f} > 2 SE {spread:.4f} + tolerance {tolerance:.4f}")
    level = chance(entry)
    curve_mine, curve_theirs = np.mean(mine.curves, axis=0), np.mean(theirs.curves, axis=0)
    if len(curve_mine) != len(curve_theirs):
        problems.append(f"tuner's curves have {len(curve_mine)} epochs, model.fit's {len(curve_theirs)}")
        return problems
    for epoch, (m, t) in enumerate(zip(curve_mine, curve_theirs, strict=True)):
        if _above(entry, t, level, 2) and not _above(entry, m, level, 1):
            problems.append(f"epoch {epoch}: tuner's mean {entry.metric} {m:.4f} is at chance ({level:.4f}) where "
                            f"model.fit's is {t:.4f}")
    return problems


def _above(entry: ZooModel, value: float, level: float, margins: int) -> bool:
    if maximized(entry.metric):
        return value >= level + margins * MARGIN
    return value <= level * (1 - margins * MARGIN)


def row(entry: ZooModel, kind: str, path: str, mine: Runs, theirs: Runs | Any) -> str:
    """One line of the zoo's table: entry, how tuner got the model, its path, both means."""
    return f"{entry.name:<26} {kind:<8} {path:<7} tuner {summary(mine)}  model.fit {summary(theirs)}"
