"""Does the rule-of-thumb first trial help? Best validation metric after k trials, with and without warm start.

Runs the same study file (default studies/digits.yaml, with fewer epochs) under several seeds, once with the
default warm start and once with `warm_start: false`, on a throwaway SQLite file, and prints the mean best value
after each of the first k trials, the difference, and in how many seeds the warm start was ahead.

    PYTHONPATH=. python benchmarks/bench_warmstart.py --seeds 5 --trials 6 --epochs 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import optuna  # noqa: E402
import yaml  # noqa: E402

from tuner.cli._common import quiet_libraries  # noqa: E402
from tuner.run.session import open_session  # noqa: E402


def best_curve(study_file: Path, store: str, name: str, seed: int, trials: int) -> list[float]:
    session = open_session(str(study_file), storage=store, name=name, seed=seed)
    session.run(trials, None)
    pick = max if session.metric.direction == "maximize" else min
    curve, best = [], None
    for t in session.study.trials[:trials]:
        if t.state == optuna.trial.TrialState.COMPLETE:
            best = t.value if best is None else pick(best, t.value)
        curve.append(best if best is not None else float("nan"))
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="studies/digits.yaml")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    quiet_libraries()

    raw = yaml.safe_load(Path(args.study).read_text())
    raw["training"]["epochs"] = args.epochs
    raw["pruner"] = {"name": "none"}  # compare the searches, not the pruner
    work = Path(tempfile.mkdtemp(prefix="bench_warmstart_"))
    base_dir = Path(args.study).resolve().parent
    if "csv" in raw["data"] or "npz" in raw["data"]:
        key = "csv" if "csv" in raw["data"] else "npz"
        raw["data"][key] = str(base_dir / raw["data"][key])
    files = {}
    for arm, warm in (("warm", True), ("cold", False)):
        files[arm] = work / f"{arm}.yaml"
        files[arm].write_text(yaml.safe_dump({**raw, "warm_start": warm}))
    store = f"sqlite:///{work}/bench.db"

    curves: dict[str, list[list[float]]] = {"warm": [], "cold": []}
    started = time.monotonic()
    for seed in range(args.seeds):
        for arm in ("warm", "cold"):
            curves[arm].append(best_curve(files[arm], store, f"{arm}-{seed}", seed, args.trials))
            print(f"seed {seed} {arm}: " + " ".join(f"{v:.4f}" for v in curves[arm][-1]), flush=True)
    direction = 1 if raw["training"].get("direction", "maximize") == "maximize" else -1

    print(f"\n{args.study}: {args.epochs} epochs per trial, {args.seeds} seeds, "
          f"{time.monotonic() - started:.0f}s in all")
    print(f"{'after k':>8} {'warm mean':>10} {'cold mean':>10} {'warm-cold':>10} {'warm ahead':>11}")
    for k in range(args.trials):
        warm = [c[k] for c in curves["warm"]]
        cold = [c[k] for c in curves["cold"]]
        ahead = sum(direction * (w - c) > 0 for w, c in zip(warm, cold))
        ties = sum(w == c for w, c in zip(warm, cold))
        print(f"{k + 1:>8} {statistics.mean(warm):>10.4f} {statistics.mean(cold):>10.4f} "
              f"{statistics.mean(warm) - statistics.mean(cold):>+10.4f} {ahead:>4}/{args.seeds}"
              + (f" ({ties} tied)" if ties else ""))


if __name__ == "__main__":
    main()
