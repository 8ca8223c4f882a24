"""The model each tool ships, scored on rows no tool saw: a quality benchmark run in parts.

A cell is one (data set, tool, budget, seed). Each is stored as it finishes in benchmarks/results/cells/ with the
commit and a hash of the code it ran, and skipped on a later run when a cell of the same code is there, so a long
table is filled over several runs; `--cells` picks a subset by glob (DATA/TOOL/BUDGET/SEED, e.g. 'noisy10/*/60/*').

Every tool gets the same 80% of the rows (benchmarks/quality.py's shared split); the other 20% score what it ships:
- tuner: the data set's study file as it is (its own test split, refit on by default) on those rows, `tuner start`
  for BUDGET seconds, then `tuner export` (the best trial retrained on training + validation rows);
- tuner-norefit: the same search, exported with `--refit no` (the best trial as it ran);
- tuner-top3: the same search; the top three trials are trained again with a second seed and the best mean of
  the two validation scores is exported with refit (benchmarks/exported.py recheck);
- optuna-plain, keras-tuner: the reference scripts for BUDGET seconds; their pick (best validation score) retrained
  by benchmarks/retrain.py, as a user of those scripts would.

    python benchmarks/shipped.py --budgets 60 --seeds 0 1 2 --data digits noisy10 mixture10
    python benchmarks/shipped.py --table            # the table of every stored cell, written to results/shipped.md
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality  # noqa: E402
from run import PYTHON, REFERENCE, ROOT, launch, trials_of, tuner_start  # noqa: E402

CELLS = ROOT / "benchmarks" / "results" / "cells"
TABLE = ROOT / "benchmarks" / "results" / "shipped.md"
TUNER_TOOLS = ["tuner", "tuner-norefit", "tuner-top3"]
TOOLS = [*TUNER_TOOLS, "optuna-plain", "keras-tuner"]
HERE = Path(__file__).resolve().parent
CODE = [ROOT / "tuner", HERE / "shipped.py", HERE / "exported.py", HERE / "quality.py", HERE / "retrain.py",
        HERE / "seeded.py", REFERENCE]  # tuner/ holds the example studies


def code_hash() -> str:
    """A hash of everything a cell's figure depends on: tuner, these scripts, the reference scripts, the studies."""
    digest = hashlib.sha256()
    for top in CODE:
        for path in sorted([top] if top.is_file() else top.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(ROOT)).encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def commit() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "tuner", "benchmarks", "studies"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return head.strip() + ("+changes" if dirty else "")


def cell_path(data: str, tool: str, budget: int, seed: int) -> Path:
    return CELLS / f"{data}-{tool}-{budget}s-seed{seed}.json"


def stored(data: str, tool: str, budget: int, seed: int, code: str | None) -> dict[str, Any] | None:
    """The stored cell, if any (of the same code, unless `code` is None)."""
    path = cell_path(data, tool, budget, seed)
    if not path.exists():
        return None
    cell = json.loads(path.read_text())
    return cell if code is None or cell["code"] == code else None


def save(cell: dict[str, Any]) -> None:
    CELLS.mkdir(parents=True, exist_ok=True)
    path = cell_path(cell["data"], cell["tool"], cell["budget"], cell["seed"])
    path.write_text(json.dumps(cell, indent=1) + "\n")
    print(f"  {cell['data']} {cell['tool']} {cell['budget']} s seed {cell['seed']}: test {cell['test']:.4f} "
          f"(validation {cell['val']}, {cell['trials']} trials)", flush=True)


def helper(work: Path, *args: str) -> Any:
    run = launch([PYTHON, str(HERE / "exported.py"), *args], work)
    return json.loads(run["stdout"].strip().splitlines()[-1])


def tuner_study(data: str, rest: Path, work: Path) -> Path:
    """The data set's study file as it ships, reading the shared rows instead of its own data (its own test split,
    validation split, scaling and refit setting kept)."""
    study = yaml.safe_load((ROOT / "studies" / f"{data}.yaml").read_text())
    kept = {k: v for k, v in study["data"].items() if k not in ("bundled", "npz", "csv")}
    study["data"] = {"npz": str(rest), **kept}
    path = work / f"{data}.yaml"
    path.write_text(yaml.safe_dump(study))
    return path


def tuner_cells(data: str, budget: int, seed: int, tools: list[str], rest: Path, test: Path,
                work: Path) -> list[dict[str, Any]]:
    """One tuner search, shipped the ways `tools` ask for."""
    study = tuner_study(data, rest, work)
    db = f"sqlite:///{work / f'{data}-{budget}-{seed}.db'}"
    run = tuner_start(study, work, db, "--seed", str(seed), "--timeout", str(budget), "--trials", "100000",
                      "--refit", "no")
    trials = trials_of(db, data)
    pick = quality.optuna_picks(trials, run["started"], [budget + 3600])[str(budget + 3600)]
    cells = []
    for tool in tools:
        t0, extra, trial = time.perf_counter(), {}, []
        refit = "no" if tool == "tuner-norefit" else "yes"
        if tool == "tuner-top3":
            extra = helper(work, "recheck", db, data, "3")
            trial = ["--trial", str(extra["trial"])]
        out = work / f"export-{tool}-{budget}-{seed}"
        launch([PYTHON, "-m", "tuner", "export", data, "--storage", db, "--out", str(out), "--refit", refit,
                *trial], work)
        card = json.loads((out / "hyperparams.json").read_text()) if (out / "hyperparams.json").exists() else {}
        cells.append({"test": helper(work, "score", str(out), str(test)), "val": pick["val"],
                      "trials": len(trials), "search_s": run["wall_s"], "ship_s": time.perf_counter() - t0,
                      "params": card or pick["params"], **({"recheck": extra} if extra else {})})
    return cells


def reference_cell(data: str, tool: str, budget: int, seed: int, rest: Path, test: Path,
                   work: Path) -> dict[str, Any]:
    import optuna

    swap = ["--npz", str(rest)]
    if tool == "optuna-plain":
        db = f"sqlite:///{work / f'plain-{data}-{budget}-{seed}.db'}"
        run = launch([PYTHON, str(HERE / "seeded.py"), str(seed), *swap, str(REFERENCE / "anchor_optuna_plain.py"),
                      str(budget), db], work)
        trials = trials_of(db, optuna.get_all_study_names(db)[0])
        pick, count = quality.optuna_picks(trials, run["started"], [budget])[str(budget)], len(trials)
    else:  # one Hyperband iteration, stopped at the budget: only results by then count
        folder = work / f"kt-{data}-{budget}-{seed}"
        run = launch([PYTHON, str(HERE / "seeded.py"), str(seed), *swap, str(REFERENCE / "anchor_kerastuner.py"),
                      "30", str(folder)], work, stop_after=budget + 5)
        pick = quality.kerastuner_picks(folder, run["started"], [budget])[str(budget)]
        count = len(list(folder.glob("*/trial_*/trial.json")))
    t0 = time.perf_counter()
    (score,) = quality.retrain([None if pick is None else {"params": pick["params"], "seed": seed}],
                               rest, test, work, launch)
    return {"test": score, "val": pick["val"] if pick else None, "trials": count, "search_s": run["wall_s"],
            "ship_s": time.perf_counter() - t0, "params": pick["params"] if pick else None}


def measure(datas: list[str], tools: list[str], budgets: list[int], seeds: list[int], patterns: list[str],
            any_code: bool) -> None:
    code, head = code_hash(), commit()
    wanted = [(d, t, b, s) for d in datas for b in budgets for s in seeds for t in tools
              if any(fnmatch.fnmatch(f"{d}/{t}/{b}/{s}", p) for p in patterns)]
    todo = [c for c in wanted if stored(*c, None if any_code else code) is None]
    print(f"{len(wanted)} cells asked for, {len(wanted) - len(todo)} already measured (code {code}), "
          f"{len(todo)} to run", flush=True)
    for data in datas:
        with tempfile.TemporaryDirectory(prefix="tuner-shipped-") as tmp:
            work = Path(tmp)
            rest, test = quality.shared_split(data, work)
            for budget in budgets:
                for seed in seeds:
                    mine = [t for t in tools if (data, t, budget, seed) in todo]
                    results = {}
                    if ours := [t for t in mine if t in TUNER_TOOLS]:
                        results.update(zip(ours, tuner_cells(data, budget, seed, ours, rest, test, work),
                                           strict=True))
                    for tool in (t for t in mine if t not in TUNER_TOOLS):
                        results[tool] = reference_cell(data, tool, budget, seed, rest, test, work)
                    for tool, figures in results.items():
                        save({"data": data, "tool": tool, "budget": budget, "seed": seed, **figures,
                              "commit": head, "code": code, "load": round(os.getloadavg()[0], 2),
                              "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())})


def fmt(values: list[float]) -> str:
    if not values:
        return "n/a"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.4f} ± {sd:.4f} (worst {min(values):.4f})"


def table() -> str:
    """Every stored cell: per data set and budget, each tool's test mean ± sd (worst seed), per-seed scores and
    the commits the cells came from; then the issue's targets, met or not."""
    cells = [json.loads(p.read_text()) for p in sorted(CELLS.glob("*.json"))]
    groups: dict[tuple[str, int], dict[str, list[dict[str, Any]]]] = {}
    for cell in cells:
        groups.setdefault((cell["data"], cell["budget"]), {}).setdefault(cell["tool"], []).append(cell)
    out = ["| data, budget | tool | seeds | trials | **test** mean ± sd (worst seed) | test per seed | commit |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    checks = []
    for (data, budget), by_tool in sorted(groups.items()):
        for tool in (t for t in TOOLS if t in by_tool):
            rows = sorted(by_tool[tool], key=lambda c: c["seed"])
            seeds = ",".join(str(c["seed"]) for c in rows)
            trials = f"{min(c['trials'] for c in rows)}-{max(c['trials'] for c in rows)}"
            per = " ".join(f"{c['test']:.4f}" for c in rows)
            commits = ", ".join(sorted({c["commit"] for c in rows}))
            out.append(f"| {data}, {budget} s | {tool} | {seeds} | {trials} | **{fmt([c['test'] for c in rows])}** "
                       f"| {per} | {commits} |")
        checks += targets(data, budget, by_tool)
    out += ["", "| target | figures | met |", "| --- | --- | --- |"]
    out += [f"| {what} | {figures} | {'yes' if met else 'no'} |" for what, figures, met in checks]
    return "\n".join(out) + "\n"


def targets(data: str, budget: int, by_tool: dict[str, list[dict[str, Any]]]) -> list[tuple[str, str, bool]]:
    """tuner's test mean at least 0.015 above each reference's mean, its worst seed above their means (on the seeds
    both have)."""
    found = []
    for tool in ("tuner", "tuner-top3"):
        for other in ("optuna-plain", "keras-tuner"):
            if tool not in by_tool or other not in by_tool:
                continue
            seeds = {c["seed"] for c in by_tool[tool]} & {c["seed"] for c in by_tool[other]}
            if not seeds:
                continue
            ours = [c["test"] for c in by_tool[tool] if c["seed"] in seeds]
            theirs = statistics.fmean(c["test"] for c in by_tool[other] if c["seed"] in seeds)
            mean, worst = statistics.fmean(ours), min(ours)
            found.append((f"{data} at {budget} s ({len(seeds)} seeds): {tool} mean >= {other} mean + 0.015, "
                          f"worst seed > {other} mean", f"{mean:.4f} / worst {worst:.4f} vs {theirs:.4f}",
                          mean >= theirs + 0.015 and worst > theirs))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", choices=list(quality.DATA), default=list(quality.DATA))
    parser.add_argument("--tools", nargs="+", choices=TOOLS, default=TOOLS)
    parser.add_argument("--budgets", nargs="+", type=int, default=[60])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--cells", nargs="+", default=["*"], help="globs over DATA/TOOL/BUDGET/SEED")
    parser.add_argument("--any-code", action="store_true", help="skip a stored cell even when the code changed")
    parser.add_argument("--table", action="store_true", help="only write the table of the stored cells")
    args = parser.parse_args()
    if not args.table:
        measure(args.data, args.tools, args.budgets, args.seeds, args.cells, args.any_code)
    text = table()
    TABLE.write_text(f"# The shipped model on unseen rows (benchmarks/shipped.py)\n\n{text}")
    print(text)


if __name__ == "__main__":
    main()
