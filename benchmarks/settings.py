"""Compare search settings on test data: tuner's default study against variants of its sampler or pruner.

Each variant is the data set's study file with some settings replaced (a JSON object merged into it), run for the
same time on the same seeds; its pick (best validation score) is retrained and scored on the shared test split,
exactly as the search-quality rows of run.py do (benchmarks/quality.py). Usage:

    python benchmarks/settings.py --seconds 60 --seeds 3 --data noisy10 mixture10 \\
        --variant '{}' --variant '{"sampler": {"group": true}}' --variant '{"pruner": {"min_resource": 3}}'

Prints one line per run and a table: per variant and data set, trials run, validation and test mean ± sd (worst).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality  # noqa: E402
from run import launch, trials_of, tuner_start  # noqa: E402


def merged(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in change.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--data", nargs="+", choices=list(quality.DATA), default=["noisy10", "mixture10"])
    parser.add_argument("--variant", action="append", type=json.loads, help="settings merged into the study file")
    args = parser.parse_args()
    variants = args.variant or [{}]
    rows = []
    with tempfile.TemporaryDirectory(prefix="tuner-settings-") as tmp:
        work = Path(tmp)
        for data in args.data:
            rest, test = quality.shared_split(data, work)
            base = yaml.safe_load(quality.tuner_study(data, rest, work).read_text())
            for v, change in enumerate(variants):
                study = work / f"{data}.yaml"  # the study's name is its file's stem
                study.write_text(yaml.safe_dump(merged(base, change)))
                picks, counts = [], []
                for seed in range(args.seeds):
                    db = f"sqlite:///{work / f'{data}_{v}_{seed}.db'}"
                    run = tuner_start(study, work, db, "--seed", str(seed), "--timeout", str(args.seconds),
                                      "--trials", "100000")
                    trials = trials_of(db, data)
                    counts.append(len(trials))
                    pick = quality.optuna_picks(trials, run["started"], [args.seconds])[str(args.seconds)]
                    picks.append(pick)
                scores = quality.retrain([None if p is None else {"params": p["params"], "seed": s}
                                          for s, p in enumerate(picks)], rest, test, work, launch)
                for seed, (pick, score, n) in enumerate(zip(picks, scores, counts, strict=True)):
                    print(f"  {data} {json.dumps(change)} seed {seed}: {n} trials, validation "
                          f"{pick['val'] if pick else None}, test {score}", flush=True)
                rows.append((json.dumps(change), data, counts, [p["val"] if p else None for p in picks], scores))
    print(f"\n| variant ({args.seconds} s, {args.seeds} seeds) | data | trials | validation | **test** |")
    print("| --- | --- | --- | --- | --- |")
    for change, data, counts, vals, scores in rows:
        print(f"| `{change}` | {data} | {min(counts)}-{max(counts)} | {quality.summary(vals)} | "
              f"**{quality.summary(scores)}** |")


if __name__ == "__main__":
    main()
