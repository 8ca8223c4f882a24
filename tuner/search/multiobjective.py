"""Accuracy against size: a study with `objectives: [metric, n_params]` (and/or `latency`) has several objectives.

`latency` is the measured inference time per sample in microseconds: after training, the median of 5 timed
`predict_on_batch` calls on (up to) 256 validation rows, divided by the row count, recorded as `latency_us`. It is
a measurement on a shared machine, so it is noisier than the parameter count. How such trials are pruned is in
tuner.search.pruning (the size-aware median rule); their Pareto front is read by tuner.views.summary.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from tuner.search.metric import Metric
from tuner.spec import StudySpec

LATENCY_ROWS = 256
DIRECTIONS = {"n_params": "minimize", "latency": "minimize"}


def directions(spec: StudySpec, metric: Metric) -> list[str]:
    return [metric.direction if name == "metric" else DIRECTIONS[name] for name in spec.objectives]


def values(spec: StudySpec, metric_value: float, n_params: int,
           latency: float | None = None) -> float | tuple[float, ...]:
    """What the objective returns: the metric alone, or the metric and the model's size (and/or latency)."""
    if not spec.multi_objective:
        return metric_value
    known = {"metric": metric_value, "n_params": float(n_params), "latency": latency}
    return tuple(known[name] for name in spec.objectives)


def measure_latency(model: Any, rows: Any, repeats: int = 5) -> float:
    """Inference time per sample in microseconds (median of `repeats` batched calls, after one warm-up)."""
    from tuner.training.fit import as_input

    batch = as_input(model, rows[:LATENCY_ROWS])
    model.predict_on_batch(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_on_batch(batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times) / len(batch) * 1e6
