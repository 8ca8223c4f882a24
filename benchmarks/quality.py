"""Search quality on rows no search saw: each tool's pick, retrained, scored on a shared test split.

For each data set, 20% of the rows (stratified, fixed seed) are set aside as the test split before any tool runs;
every tool gets only the other rows, and splits them 75/25 into training and validation rows the same way (tuner
with `data.test_split: 0`, the reference scripts through `seeded.py --npz`). At each budget the configuration a tool
would pick is its best validation score among the trials it finished by then; that configuration is retrained by
`benchmarks/retrain.py` (one procedure for every tool: the reference scripts' model, 30 epochs, the weights of the
best validation epoch, the tool's seed) and scored on the test split. The ceiling is the test score of the pick of
one long tuner run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "benchmarks" / "reference"
DATA = {"digits": None, "noisy10": ROOT / "studies" / "data" / "noisy10.npz",
        "mixture10": ROOT / "studies" / "data" / "mixture10.npz"}
TEST_SHARE, TEST_SEED = 0.2, 20261201


def shared_split(name: str, work: Path) -> tuple[Path, Path]:
    """The rows every tool may use (an NPZ shaped like digits) and the test rows none may."""
    from sklearn.model_selection import train_test_split

    if DATA[name] is None:
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
    else:
        with np.load(DATA[name]) as arrays:
            x, y = arrays["x"], arrays["y"]
    x_rest, x_test, y_rest, y_test = train_test_split(x.astype("float64"), y, test_size=TEST_SHARE,
                                                      random_state=TEST_SEED, stratify=y)
    rest, test = work / f"{name}-rest.npz", work / f"{name}-test.npz"
    np.savez(rest, x=x_rest, y=y_rest)
    np.savez(test, x=x_test, y=y_test)
    return rest, test


def tuner_study(name: str, rest: Path, work: Path) -> Path:
    """The study file of the data set, on the rows every tool may use, with no test split of its own."""
    study = yaml.safe_load((ROOT / "studies" / f"{name}.yaml").read_text())
    study["data"] = {"npz": str(rest), "test_split": 0, "validation_split": 0.25, "seed": 0, "scale": "minmax"}
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(study))
    return path


def optuna_picks(trials: list[Any], started: Any, budgets: list[int]) -> dict[str, dict[str, Any] | None]:
    """Per budget, the best complete trial finished by then: its validation score and parameters."""
    done = [t for t in trials if t.state.name == "COMPLETE" and t.value is not None and t.datetime_complete]
    picks = {}
    for budget in budgets:
        seen = [t for t in done if (t.datetime_complete - started).total_seconds() <= budget]
        best = max(seen, key=lambda t: t.value, default=None)
        picks[str(budget)] = None if best is None else {"val": float(best.value), "params": dict(best.params)}
    return picks


def kerastuner_picks(folder: Path, started: Any, budgets: list[int]) -> dict[str, dict[str, Any] | None]:
    import datetime as dt

    launch = started.replace(tzinfo=dt.UTC).timestamp()
    done = []
    for path in folder.glob("*/trial_*/trial.json"):
        trial = json.loads(path.read_text())
        if trial.get("score") is not None and trial.get("status") == "COMPLETED":
            done.append((path.stat().st_mtime - launch, float(trial["score"]),
                         trial["hyperparameters"]["values"]))
    picks = {}
    for budget in budgets:
        seen = [d for d in done if d[0] <= budget]
        best = max(seen, key=lambda d: d[1], default=None)
        picks[str(budget)] = None if best is None else {"val": best[1], "params": best[2]}
    return picks


def retrain(picks: list[dict[str, Any]], rest: Path, test: Path, work: Path, launch: Any) -> list[float]:
    """Test scores of the picks ({params, seed}), retrained one after another in one process."""
    jobs = work / "retrain-jobs.json"
    jobs.write_text(json.dumps({"rest": str(rest), "test": str(test), "picks": picks}))
    run = launch([__import__("sys").executable, str(ROOT / "benchmarks" / "retrain.py"), str(jobs)], work)
    return json.loads(run["stdout"].strip().splitlines()[-1])


def summary(values: list[float | None]) -> str:
    import statistics

    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.4f} ± {sd:.4f} (min {min(values):.4f})"


def table(quality: dict[str, Any], ceiling: dict[str, Any]) -> list[str]:
    out = []
    for data, by_tool in quality.items():
        budgets = list(next(iter(by_tool.values())).keys())
        seeds = len(next(iter(next(iter(by_tool.values())).values())))
        head = " | ".join(f"validation at {b} s | **test at {b} s**" for b in budgets)
        out += [f"| {data} ({seeds} seeds, mean ± sd (worst seed)) | {head} |",
                "| --- |" + " --- | --- |" * len(budgets)]
        for tool, by_budget in by_tool.items():
            cells = " | ".join(f"{summary([p['val'] for p in by_budget[b]])} | "
                               f"**{summary([p['test'] for p in by_budget[b]])}**" for b in budgets)
            out.append(f"| {tool} | {cells} |")
        if data in ceiling:
            c = ceiling[data]
            out.append(f"| ceiling: one {c['minutes']:g}-minute tuner run | {c['val']:.4f} | **{c['test']:.4f}** |"
                       + " |" * (2 * len(budgets) - 2))
        out.append("")
    return out


def targets(quality: dict[str, Any], ceiling: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    import statistics

    found = []
    for data, by_tool in quality.items():
        others = [t for t in by_tool if t != "tuner"]
        for budget, picks in by_tool["tuner"].items():
            ours = [p["test"] for p in picks if p["test"] is not None]
            if not ours:
                continue
            mean, worst = statistics.fmean(ours), min(ours)
            for tool in others:
                theirs = [p["test"] for p in by_tool[tool][budget] if p["test"] is not None]
                if theirs:
                    them = statistics.fmean(theirs)
                    found.append((f"{data} at {budget} s: tuner's test mean and worst seed >= {tool}'s mean, "
                                  f"mean ahead", f"{mean:.4f} / {worst:.4f} vs {them:.4f}",
                                  mean > them and worst >= them))
            if budget == "300" and data in ceiling:
                gap = ceiling[data]["test"] - mean
                limit = {"digits": 0.01, "noisy10": 0.02}.get(data)
                if limit is not None:
                    found.append((f"{data} at 300 s: tuner's test mean within {limit} of the ceiling",
                                  f"{mean:.4f} vs {ceiling[data]['test']:.4f} ({gap:+.4f})", gap <= limit))
            if budget == "300" and data == "noisy10" and "optuna-plain" in by_tool:
                theirs = [p["test"] for p in by_tool["optuna-plain"][budget] if p["test"] is not None]
                if len(ours) > 1 and len(theirs) > 1:
                    a, b = statistics.stdev(ours), statistics.stdev(theirs)
                    found.append(("noisy10 at 300 s: tuner's test sd <= half the hand-written script's",
                                  f"{a:.4f} vs {b:.4f}", a <= b / 2))
    return found
