"""How well the one-shot stage's estimates rank widths: for each study, width vectors spread over its space are
scored on its slimmable networks (tuner.training.slimmable, trained as `one_shot:` trains them) and trained from
scratch with tuner's own path over `--seeds` seeds, at the space's smallest L2 and dropout (as the slimmable network
trains); the Spearman correlation between estimate and mean from-scratch score is the row's figure. `curve`: the
estimate of every width of a one-layer Dense model on digits against from-scratch widths, drawn into
docs/images/oneshot-curve.png.

    python benchmarks/bench_oneshot.py          # every study (your own models last), then the curve
    python benchmarks/bench_oneshot.py --studies digits-1 --vectors 30 --seeds 3

Each study's rows are written to results/oneshot.json as they finish (a long run can be stopped and resumed with the
studies left); results/oneshot.md is the table.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
STUDIES = {"digits-1": ("digits", 1), "digits": ("digits", None), "mixture10": ("mixture10", None),
           "noisy10": ("noisy10", None), "digits_conv": ("digits_conv", None),
           "digits_images": ("digits_images", None), "digits_rewiden": ("digits_rewiden", None)}
# name: (example study, layers fixed to); the last two are your own models (a build function, a re-widened .keras)
USER = {"digits_images", "digits_rewiden"}
GOALS = {"digits-1": 0.9}  # one-layer Dense studies; every other: 0.7


def _vectors(depths: list[int], low: int, high: int, n: int, seed: int) -> list[tuple[int, ...]]:
    """`n` width vectors spread over the space: layer counts in turn, each width on a shuffled log-spaced grid."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        depth = depths[i % len(depths)]
        out.append(tuple(int(round(math.exp(rng.uniform(math.log(low), math.log(high))))) for _ in range(depth)))
    return out


def _study(example: str) -> tuple[Any, Any, Any]:
    from tuner.backend import load_keras
    from tuner.run.session import prepare

    load_keras()
    spec, data, metric, _ = prepare(ROOT / "tuner" / "examples" / f"{example}.yaml")
    return spec, data, metric


def _one_shot(spec: Any, data: Any, depth: int) -> Any:
    """The slimmable network of one layer count, trained as the one-shot stage trains it."""
    from tuner.search.estimators import drawer
    from tuner.training import slimmable

    s, t = spec.space, spec.training
    low, high = int(s.units.bounds()[0]), int(s.units.bounds()[1])
    return slimmable.train(data, (high,) * depth, (low,) * depth, drawer([s.units] * depth, True), epochs=t.epochs,
                           seed=0, batch_size=t.batch_size, learning_rate=t.learning_rate, l2=s.l2.bounds()[0],
                           dropout=s.dropout.bounds()[0], conv=s.family == "conv2d")


def _from_scratch(spec: Any, data: Any, metric: Any, widths: list[tuple[int, ...]], seeds: int) -> list[float]:
    """Each width vector's best-epoch metric, trained from scratch by tuner's path, mean over `seeds` seeds."""
    from tuner.backend import start_trial
    from tuner.record import Hyperparams, Layer
    from tuner.training.fit import fit
    from tuner.training.model import build_model

    s, t = spec.space, spec.training
    trained = []
    for w in widths:
        scores = []
        for seed in range(seeds):
            start_trial(seed)
            hp = Hyperparams(tuple(Layer(u, s.dropout.bounds()[0], s.l2.bounds()[0]) for u in w), "relu",
                             t.learning_rate, t.batch_size, family=s.family)
            model = build_model(hp, data.n_features, data.n_outputs, data.task, shape=data.shape)
            scores.append(max(fit(model, data, hp, t.epochs, [], seed=seed)[metric.name]))
        trained.append(float(np.mean(scores)))
    return trained


def _user_vectors(dims: list[Any], n: int, seed: int) -> list[tuple[int, ...]]:
    """`n` width vectors spread over a user's model's widths: each a shuffled log-spaced grid (or its choices in
    turn)."""
    rng = np.random.default_rng(seed)
    columns = []
    for dim in dims:
        if dim.is_range:
            low, high = float(dim.low), float(dim.high)
            column = [int(round(math.exp(math.log(low) + (math.log(high) - math.log(low)) * i / (n - 1))))
                      for i in range(n)]
        else:
            column = [int(dim.values()[i % len(dim.values())]) for i in range(n)]
        columns.append(list(rng.permutation(column)))
    return [tuple(int(c[i]) for c in columns) for i in range(n)]


def user_row(name: str, vectors: int, seeds: int) -> dict[str, Any]:
    """A user's model: the estimates of the one-shot stage's masked network against the model rebuilt (or built)
    at each width vector, trained from scratch by tuner's path at the space's smallest L2 and dropout."""
    from scipy.stats import spearmanr

    from tuner.backend import start_trial
    from tuner.search import estimators
    from tuner.search.user_space import UserModels
    from tuner.spec.sections import OneShotSpec
    from tuner.training.fit import fit

    spec, data, metric = _study(STUDIES[name][0])
    spec = spec.model_copy(update={"one_shot": spec.one_shot or OneShotSpec()})
    models = UserModels(spec, data, [ROOT / "tuner" / "examples"])
    nets = estimators.UserModel(spec, data, models)
    start = time.perf_counter()
    nets.train(spec.training.epochs, 0, lambda epoch: None, print)
    one_shot_seconds = time.perf_counter() - start
    widths = _user_vectors(list(nets.dims.values()), vectors, seed=1)
    estimates = [nets.score(w, metric.name) for w in widths]
    l2, dropout = estimators.lowest(spec, "l2"), estimators.lowest(spec, "dropout")
    start, trained = time.perf_counter(), []
    for w in widths:
        scores = []
        for seed in range(seeds):
            start_trial(seed)
            hp = models.at(dict(zip(nets.names, w)), l2, dropout)
            scores.append(max(fit(models.build(hp), data, hp, spec.training.epochs, [], seed=seed)[metric.name]))
        trained.append(float(np.mean(scores)))
    scratch_seconds = time.perf_counter() - start
    return {"study": name, "vectors": len(widths), "seeds": seeds, "epochs": spec.training.epochs,
            "spearman": round(float(spearmanr(estimates, trained).statistic), 3), "goal": GOALS.get(name, 0.7),
            "one_shot_seconds": round(one_shot_seconds, 1), "scratch_seconds": round(scratch_seconds, 1),
            "mean_abs_error": round(float(np.mean(np.abs(np.array(estimates) - np.array(trained)))), 4),
            "widths": [list(w) for w in widths], "estimates": [round(e, 4) for e in estimates],
            "trained": [round(v, 4) for v in trained]}


def rank_row(name: str, vectors: int, seeds: int) -> dict[str, Any]:
    from scipy.stats import spearmanr

    if name in USER:
        return user_row(name, vectors, seeds)
    example, fixed = STUDIES[name]
    spec, data, metric = _study(example)
    s = spec.space
    depths = [fixed] if fixed else list(range(int(s.layers.low), int(s.layers.high) + 1))
    start = time.perf_counter()
    nets = {d: _one_shot(spec, data, d) for d in depths}
    one_shot_seconds = time.perf_counter() - start
    widths = _vectors(depths, int(s.units.bounds()[0]), int(s.units.bounds()[1]), vectors, seed=1)
    estimates = [nets[len(w)].score(data, w, metric.name) for w in widths]
    start = time.perf_counter()
    trained = _from_scratch(spec, data, metric, widths, seeds)
    scratch_seconds = time.perf_counter() - start
    rho = float(spearmanr(estimates, trained).statistic)
    return {"study": name, "vectors": len(widths), "seeds": seeds, "epochs": spec.training.epochs,
            "spearman": round(rho, 3), "goal": GOALS.get(name, 0.7), "one_shot_seconds": round(one_shot_seconds, 1),
            "scratch_seconds": round(scratch_seconds, 1),
            "mean_abs_error": round(float(np.mean(np.abs(np.array(estimates) - np.array(trained)))), 4),
            "widths": [list(w) for w in widths], "estimates": [round(e, 4) for e in estimates],
            "trained": [round(v, 4) for v in trained]}


def curve(seeds: int) -> dict[str, Any]:
    """Every width 8..512 of a one-layer Dense model on digits, estimated; 16 widths trained from scratch."""
    spec, data, metric = _study("digits")
    start = time.perf_counter()
    net = _one_shot(spec, data, 1)
    widths = list(range(8, 513))
    estimates = [net.score(data, (w,), metric.name) for w in widths]
    one_shot_seconds = time.perf_counter() - start
    grid = [int(round(8 * 64 ** (i / 15))) for i in range(16)]
    start = time.perf_counter()
    trained = _from_scratch(spec, data, metric, [(w,) for w in grid], seeds)
    scratch_seconds = time.perf_counter() - start
    _draw(widths, estimates, grid, trained, one_shot_seconds, scratch_seconds, seeds)
    return {"one_shot_seconds": round(one_shot_seconds, 1), "scratch_seconds": round(scratch_seconds, 1),
            "widths": widths, "estimates": [round(e, 4) for e in estimates], "grid": grid,
            "trained": [round(v, 4) for v in trained]}


def _draw(widths, estimates, grid, trained, one_shot_seconds, scratch_seconds, seeds) -> None:  # noqa: ANN001
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(widths, estimates, lw=1, label=f"one-shot estimate, every width ({one_shot_seconds:.0f} s in all)")
    ax.plot(grid, trained, "o-", label=f"trained from scratch, 16 widths x {seeds} seeds ({scratch_seconds:.0f} s)")
    ax.set_xscale("log")
    ax.set_xlabel("units in the hidden Dense layer")
    ax.set_ylabel("val_accuracy (digits)")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(ROOT / "docs" / "images" / "oneshot-curve.png", dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--studies", nargs="*", default=list(STUDIES), choices=list(STUDIES))
    parser.add_argument("--vectors", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--no-curve", action="store_true")
    args = parser.parse_args()
    out = RESULTS / "oneshot.json"
    kept = json.loads(out.read_text()) if out.exists() else {}
    for name in args.studies:
        row = rank_row(name, args.vectors, args.seeds)
        kept[name] = row
        out.write_text(json.dumps(kept, indent=1))
        print(f"{name}: Spearman {row['spearman']} over {row['vectors']} vectors (goal {row['goal']}); one-shot "
              f"{row['one_shot_seconds']} s, from scratch {row['scratch_seconds']} s", flush=True)
    if not args.no_curve:
        kept["curve"] = curve(args.seeds)
        out.write_text(json.dumps(kept, indent=1))
    lines = ["| study | width vectors | Spearman (goal) | mean estimate error | one-shot training | from scratch |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name, row in kept.items():
        if name != "curve":
            lines.append(f"| {name} | {row['vectors']} x {row['seeds']} seeds | {row['spearman']} ({row['goal']}) | "
                         f"{row['mean_abs_error']} | {row['one_shot_seconds']} s | {row['scratch_seconds']} s |")
    (RESULTS / "oneshot.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
