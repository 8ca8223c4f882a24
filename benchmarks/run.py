"""Time tuner against the reference scripts on the same work, side by side in one run, and print one table.

Usage (from the repository root):
    python benchmarks/run.py --quick   # a few minutes: every row once, short budgets, one seed
    python benchmarks/run.py --full    # the README figures: repeats, 60 s / 300 s budgets, 5 seeds
    (--speed-only / --quality-only: one half of the rows; --seeds N [--first-seed K], --budgets S...: fewer
    quality runs)

Every tool runs as its own process, started and timed from here (wall time is process start to exit), one at a
time. tuner runs as the real `python -m tuner start ...` on a temporary SQLite file (or PostgreSQL for that row).
The reference scripts in benchmarks/reference/ are what a user would write without tuner. Results also go to
benchmarks/results/<mode>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality as bench_quality  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "benchmarks" / "reference"
PYTHON = sys.executable
POSTGRES = os.environ.get("BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MODES = {
    "quick": {"repeats": 1, "budgets": [60], "seeds": [0], "kerastuner": False, "memory_trials": (30, 150),
              "prefill": 500, "after_prefill": 8, "ceiling_minutes": 0},
    "full": {"repeats": 3, "budgets": [60, 300], "seeds": [0, 1, 2, 3, 4], "kerastuner": True,
             "memory_trials": (50, 500), "prefill": 2000, "after_prefill": 32, "ceiling_minutes": 30},
}


def launch(cmd: list[str], cwd: Path, watch: Any = None, stop_after: float | None = None) -> dict[str, Any]:
    """Run one process to its exit: wall seconds, launch time (naive UTC, as Optuna stores it), peak RSS, stdout.

    With `stop_after`, the process is killed that many seconds after launch (for tools without a time budget).
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=errors, text=True)
        timer = threading.Timer(stop_after, proc.kill) if stop_after is not None else None
        if timer is not None:
            timer.start()
        if watch is not None:
            watch(proc)
        out = proc.stdout.read() if proc.stdout else ""
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        if timer is not None:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0 and not (stop_after is not None and wall >= stop_after):
            errors.seek(0)
            tail = (out + errors.read()).strip().splitlines()[-3:]
            raise RuntimeError(f"{' '.join(cmd[:4])} ... exited {proc.returncode}: {' / '.join(tail)[-300:]}")
    return {"wall_s": wall, "started": started, "peak_rss_mb": usage.ru_maxrss / 1024, "stdout": out}


def tuner_start(study: Path | str, work: Path, storage: str, *extra: str, watch: Any = None) -> dict[str, Any]:
    return launch([PYTHON, "-m", "tuner", "start", str(study), "--storage", storage, *extra], work, watch)


def trials_of(storage: str, name: str) -> list[Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)


def tuner_figures(run: dict[str, Any], trials: list[Any]) -> dict[str, Any]:
    """Epochs, time to first trial and overhead share from the stored trials.

    Overhead share = 1 - training time / search span, over the trials after the first: the first one also loads
    TensorFlow and traces the first model (inside its training time), which would dilute the share.
    """
    done = [t for t in trials if t.datetime_complete is not None]
    first = min(t.datetime_start for t in trials)
    steady = sorted(done, key=lambda t: t.datetime_start)[1:]
    span = (max(t.datetime_complete for t in steady) - steady[0].datetime_start).total_seconds() if steady else 0
    train = sum(t.user_attrs.get("train_seconds", 0.0) for t in steady)
    epochs = sum(t.user_attrs.get("epochs_run", 0) for t in done)
    run = {k: v for k, v in run.items() if k != "stdout"}
    return {**run, "trials": len(trials), "epochs": epochs, "first_trial_s": (first - run["started"]).total_seconds(),
            "overhead_share": max(0.0, 1 - train / span) if span > 0 else None,
            "overhead_ms_per_trial": (span - train) / len(steady) * 1000 if steady else None,
            "best": max((t.value for t in done if t.value is not None), default=None)}


def reference_figures(script: str, work: Path) -> dict[str, Any]:
    """Run one of benchmarks/reference/ and take its figures from the JSON line it prints last."""
    run = launch([PYTHON, str(REFERENCE / script)], work)
    info = json.loads(run.pop("stdout").strip().splitlines()[-1])
    return {**run, "epochs": info["epochs"], "trials": info["trials"], "best": info["best"],
            "first_trial_s": info["startup_s"]}


def tf_import_seconds(work: Path) -> float:
    code = "import time; t = time.perf_counter(); import tensorflow, keras; print(time.perf_counter() - t)"
    return float(launch([PYTHON, "-c", code], work)["stdout"].strip().splitlines()[-1])


# ---------------------------------------------------------------- fixed workload


def fixed_workload(work: Path, repeats: int, rows: dict[str, Any]) -> None:
    grid = ROOT / "studies" / "fixed_grid.yaml"
    tuner_runs, anchor_runs = [], []
    for i in range(repeats):
        db = f"sqlite:///{work / f'fixed_{i}.db'}"
        tuner_runs.append(tuner_figures(tuner_start(grid, work, db), trials_of(db, "fixed_grid")))
        anchor = reference_figures("anchor_fixed_grid.py", work)
        anchor_runs.append(anchor)
        print(f"  fixed workload {i + 1}/{repeats}: tuner {tuner_runs[-1]['wall_s']:.1f} s, "
              f"hand-written {anchor['wall_s']:.1f} s", flush=True)
    rows["fixed_tuner"], rows["fixed_anchor"] = tuner_runs, anchor_runs


@contextlib.contextmanager
def scratch_study(storage: str, name: str, rows: dict[str, Any], row: str) -> Iterator[None]:
    """A row measured on study `name`: a failed run becomes a note, and the study is deleted afterwards."""
    import optuna

    try:
        yield
    except RuntimeError as exc:
        rows["notes"].append(f"{row} row skipped: {str(exc)[:400]}")
    finally:
        try:
            optuna.delete_study(study_name=name, storage=storage)
        except Exception:  # noqa: BLE001 - nothing was created
            pass


def fixed_on_postgres(work: Path, rows: dict[str, Any]) -> None:
    name = f"bench_fixed_{os.getpid()}"
    with scratch_study(POSTGRES, name, rows, "PostgreSQL"):
        run = tuner_start(ROOT / "studies" / "fixed_grid.yaml", work, POSTGRES, "--name", name)
        rows["fixed_postgres"] = [tuner_figures(run, trials_of(POSTGRES, name))]


def two_workers(work: Path, rows: dict[str, Any]) -> None:
    help_text = launch([PYTHON, "-m", "tuner", "start", "--help"], work)["stdout"]
    if "--workers" not in help_text:
        rows["notes"].append("two-worker row skipped: this tuner's `start` has no --workers option")
        return
    db = f"sqlite:///{work / 'fixed_w2.db'}"
    run = tuner_start(ROOT / "studies" / "fixed_grid.yaml", work, db, "--workers", "2")
    figures = tuner_figures(run, trials_of(db, "fixed_grid"))
    figures["overhead_share"] = None  # trials overlap: training time is not a share of one timeline
    rows["fixed_workers2"] = [figures]


def user_model_workload(work: Path, repeats: int, rows: dict[str, Any]) -> None:
    """The fixed workload on a user's model: 16 widths of a residual CNN (studies/models/cnn.py) x 10 epochs on the
    digit images, by tuner (one worker, and two) and by the hand-written script, one after the other."""
    study = ROOT / "studies" / "fixed_grid_cnn.yaml"
    ones, twos, anchors = [], [], []
    for i in range(repeats):
        db = f"sqlite:///{work / f'user_{i}.db'}"
        ones.append(tuner_figures(tuner_start(study, work, db), trials_of(db, "fixed_grid_cnn")))
        db2 = f"sqlite:///{work / f'user_w2_{i}.db'}"
        two = tuner_figures(tuner_start(study, work, db2, "--workers", "2"), trials_of(db2, "fixed_grid_cnn"))
        twos.append({**two, "overhead_share": None})
        anchor = reference_figures("anchor_user_cnn.py", work)
        anchors.append(anchor)
        print(f"  user-model workload {i + 1}/{repeats}: tuner {ones[-1]['wall_s']:.1f} s, with 2 workers "
              f"{twos[-1]['wall_s']:.1f} s, hand-written {anchor['wall_s']:.1f} s", flush=True)
    rows["user_tuner"], rows["user_workers2"], rows["user_anchor"] = ones, twos, anchors


# ---------------------------------------------------------------- overhead with a full study


def overhead_after_prefill(work: Path, storage: str, label: str, prefill: int, more: int,
                           rows: dict[str, Any]) -> None:
    """The fixed workload's space with a random sampler, on a study that already holds `prefill` trials."""
    import optuna

    spec = yaml.safe_load((ROOT / "studies" / "fixed_grid.yaml").read_text())
    spec["sampler"] = {"name": "random", "seed": 0}
    spec["budget"] = {"trials": 1}
    path = work / "studies" / "prefilled.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(spec))
    name = f"bench_prefilled_{label}_{os.getpid()}"
    with scratch_study(storage, name, rows, f"{label} overhead"):
        tuner_start(path, work, storage, "--name", name)
        study = optuna.load_study(study_name=name, storage=storage)
        seed = study.get_trials()[0]
        copies = [optuna.trial.create_trial(params=seed.params, distributions=seed.distributions, value=seed.value,
                                            user_attrs=seed.user_attrs, intermediate_values=seed.intermediate_values)
                  for _ in range(prefill - 1)]
        study.add_trials(copies)
        run = tuner_start(path, work, storage, "--name", name, "--trials", str(prefill + more))
        new = [t for t in trials_of(storage, name) if t.number >= prefill]
        rows[f"prefilled_{label}"] = [tuner_figures(run, new)]


# ---------------------------------------------------------------- memory


def memory_flat(work: Path, early: int, late: int, rows: dict[str, Any]) -> None:
    """Peak RSS of one `tuner start` process when the study holds `early` trials, and when it holds `late`."""
    spec = yaml.safe_load((ROOT / "studies" / "fixed_grid.yaml").read_text())
    spec.update({"sampler": {"name": "random", "seed": 0}, "budget": {"trials": late}})
    spec["training"]["epochs"] = 1
    path = work / "studies" / "memory.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(spec))
    db_file = work / "memory.db"
    seen: dict[int, float] = {}

    def watch(proc: subprocess.Popen) -> None:
        while _running(proc.pid):
            hwm = _vm_hwm_mb(proc.pid)
            count = _count(db_file)
            for mark in (early, late):
                if count >= mark and mark not in seen and hwm:
                    seen[mark] = hwm
            if hwm and count < late:
                seen["last"] = hwm  # type: ignore[index]
            time.sleep(0.2)

    run = tuner_start(path, work, f"sqlite:///{db_file}", watch=watch)
    seen.setdefault(late, seen.get("last", run["peak_rss_mb"]))  # type: ignore[arg-type]
    rows["memory"] = {"early_trials": early, "late_trials": late, "early_mb": seen.get(early),
                      "late_mb": seen[late], "wall_s": run["wall_s"]}


def _running(pid: int) -> bool:
    """True while the child runs; unlike Popen.poll() it leaves the exit status for os.wait4 to collect."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None


def _vm_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _count(db_file: Path) -> int:
    if not db_file.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("select count(*) from trials where state != 'RUNNING'").fetchone()[0])
    except sqlite3.Error:
        return 0


# ---------------------------------------------------------------- search quality at equal time


def quality(work: Path, budgets: list[int], seeds: list[int], kerastuner: bool, rows: dict[str, Any],
            data_sets: list[str], ceiling_minutes: float) -> None:
    """Per data set, tool, budget and seed: the tool's pick (its best validation score by then), retrained and
    scored on the shared test split (benchmarks/quality.py); and the ceiling, the pick of one long tuner run."""
    import optuna

    horizon = max(budgets)
    rows["quality"], rows["ceiling"] = {}, {}
    for data in data_sets:
        rest, test = bench_quality.shared_split(data, work)
        study = bench_quality.tuner_study(data, rest, work)
        swap = ["--npz", str(rest)]
        picks: dict[str, dict[int, dict[str, Any]]] = {"tuner": {}, "optuna-plain": {}}
        if kerastuner:
            picks["keras-tuner"] = {}
        for seed in seeds:
            db = f"sqlite:///{work / f'quality_{data}_{seed}.db'}"
            run = tuner_start(study, work, db, "--seed", str(seed), "--timeout", str(horizon), "--trials", "100000")
            picks["tuner"][seed] = bench_quality.optuna_picks(trials_of(db, data), run["started"], budgets)
            db = f"sqlite:///{work / f'plain_{data}_{seed}.db'}"
            run = launch([PYTHON, str(ROOT / "benchmarks" / "seeded.py"), str(seed), *swap,
                          str(REFERENCE / "anchor_optuna_plain.py"), str(horizon), db], work)
            picks["optuna-plain"][seed] = bench_quality.optuna_picks(
                trials_of(db, optuna.get_all_study_names(db)[0]), run["started"], budgets)
            if kerastuner:  # one Hyperband iteration, stopped at the horizon: only results by then count
                folder = work / f"kt_{data}_{seed}"
                run = launch([PYTHON, str(ROOT / "benchmarks" / "seeded.py"), str(seed), *swap,
                              str(REFERENCE / "anchor_kerastuner.py"), "30", str(folder)], work,
                             stop_after=horizon + 5)
                picks["keras-tuner"][seed] = bench_quality.kerastuner_picks(folder, run["started"], budgets)
            print(f"  quality {data} seed {seed}: " + ", ".join(
                f"{tool} {(p[seed][str(horizon)] or {}).get('val')}" for tool, p in picks.items()), flush=True)
        jobs = [(tool, seed, str(b)) for tool in picks for seed in seeds for b in budgets]
        scores = bench_quality.retrain([None if picks[t][s][b] is None else {"params": picks[t][s][b]["params"],
                                                                             "seed": s} for t, s, b in jobs],
                                       rest, test, work, launch)
        table = {tool: {str(b): [] for b in budgets} for tool in picks}
        for (tool, seed, b), score in zip(jobs, scores, strict=True):
            pick = picks[tool][seed][b]
            table[tool][b].append({"seed": seed, "val": pick["val"] if pick else None, "test": score,
                                   "params": pick["params"] if pick else None})
        rows["quality"][data] = table
        if ceiling_minutes > 0:
            db = f"sqlite:///{work / f'ceiling_{data}.db'}"
            seconds = int(ceiling_minutes * 60)
            run = tuner_start(study, work, db, "--seed", "0", "--timeout", str(seconds), "--trials", "1000000")
            pick = bench_quality.optuna_picks(trials_of(db, data), run["started"], [seconds + 60])[str(seconds + 60)]
            (score,) = bench_quality.retrain([{"params": pick["params"], "seed": 0}], rest, test, work, launch)
            rows["ceiling"][data] = {"minutes": ceiling_minutes, "val": pick["val"], "test": score,
                                     "params": pick["params"]}
            print(f"  ceiling {data}: validation {pick['val']:.4f}, test {score:.4f}", flush=True)


# ---------------------------------------------------------------- the table


def _mean(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def _fmt(value: float | None, pattern: str = "{:.2f}") -> str:
    return "n/a" if value is None else pattern.format(value)


def table(rows: dict[str, Any]) -> str:
    lines = ["| what | wall s | epochs/s | overhead share (ms a trial) | first trial s | peak RSS MB | best |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    labels = {"fixed_anchor": "fixed workload, hand-written (reference/anchor_fixed_grid.py)",
              "fixed_tuner": "fixed workload, `tuner start fixed_grid` (SQLite)",
              "fixed_postgres": "fixed workload, `tuner start fixed_grid` (PostgreSQL)",
              "fixed_workers2": "fixed workload, `tuner start fixed_grid --workers 2`",
              "user_anchor": "user's model, hand-written (reference/anchor_user_cnn.py)",
              "user_tuner": "user's model, `tuner start fixed_grid_cnn` (SQLite)",
              "user_workers2": "user's model, `tuner start fixed_grid_cnn --workers 2`",
              "prefilled_sqlite": f"fixed space, study already holding {rows.get('prefill', 0):,} trials (SQLite)",
              "prefilled_postgres": f"fixed space, study already holding {rows.get('prefill', 0):,} trials (PostgreSQL)"}
    for key, label in labels.items():
        runs = rows.get(key)
        if not runs:
            continue
        wall = _mean([r["wall_s"] for r in runs])
        eps = _mean([r["epochs"] / r["wall_s"] for r in runs])
        share = _mean([r.get("overhead_share") for r in runs])
        per_trial = _mean([r.get("overhead_ms_per_trial") for r in runs])
        shown = "n/a" if share is None else f"{share:.1%} ({per_trial:.1f} ms)"
        lines.append(f"| {label} | {_fmt(wall)} | {_fmt(eps, '{:.1f}')} | {shown} | "
                     f"{_fmt(_mean([r['first_trial_s'] for r in runs]))} | "
                     f"{_fmt(_mean([r['peak_rss_mb'] for r in runs]), '{:.0f}')} | "
                     f"{_fmt(_mean([r['best'] for r in runs]), '{:.4f}')} |")
    out = ["\n".join(lines), ""]
    out += bench_quality.table(rows.get("quality", {}), rows.get("ceiling", {}))
    out.append("| target | measured | met |")
    out.append("| --- | --- | --- |")
    for name, measured, met in targets(rows):
        out.append(f"| {name} | {measured} | {'yes' if met else 'no' if met is not None else 'n/a'} |")
    out += [""] + [f"note: {n}" for n in rows["notes"]]
    return "\n".join(out)


def targets(rows: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    found = []
    tuner_wall = _mean([r["wall_s"] for r in rows.get("fixed_tuner", [])])
    anchor_wall = _mean([r["wall_s"] for r in rows.get("fixed_anchor", [])])
    if tuner_wall and anchor_wall:
        ratio = anchor_wall / tuner_wall
        found.append(("fixed workload: hand-written wall / tuner wall >= 5", f"{ratio:.2f}x", ratio >= 5))
    if rows.get("tf_import_s") is not None and rows.get("fixed_tuner"):
        first = _mean([r["first_trial_s"] for r in rows["fixed_tuner"]])
        limit = rows["tf_import_s"] + 1
        found.append(("start-up: first trial <= TF import + 1 s",
                      f"{first:.2f} s vs {rows['tf_import_s']:.2f} + 1 s", first <= limit))
    for key, label in (("fixed_tuner", "SQLite"), ("fixed_postgres", "PostgreSQL"),
                       ("prefilled_sqlite", f"SQLite, {rows.get('prefill', 0):,} trials"),
                       ("prefilled_postgres", f"PostgreSQL, {rows.get('prefill', 0):,} trials")):
        if rows.get(key):
            share = _mean([r["overhead_share"] for r in rows[key]])
            found.append((f"overhead < 5% ({label})", f"{share:.1%}", share < 0.05))
    if rows.get("memory"):
        m = rows["memory"]
        if m["early_mb"]:
            growth = m["late_mb"] / m["early_mb"] - 1
            found.append((f"memory flat: peak RSS at trial {m['late_trials']} vs {m['early_trials']} within 10%",
                          f"{m['early_mb']:.0f} -> {m['late_mb']:.0f} MB ({growth:+.1%})", abs(growth) <= 0.10))
    user_anchor = _mean([r["wall_s"] for r in rows.get("user_anchor", [])])
    for key, label in (("user_tuner", "one worker"), ("user_workers2", "--workers 2")):
        wall = _mean([r["wall_s"] for r in rows.get(key, [])])
        if wall and user_anchor:
            found.append((f"user's model: hand-written wall / tuner wall >= 2 ({label})", f"{user_anchor / wall:.2f}x",
                          user_anchor / wall >= 2))
    found += bench_quality.targets(rows.get("quality", {}), rows.get("ceiling", {}))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--quick", action="store_const", const="quick", dest="mode")
    group.add_argument("--full", action="store_const", const="full", dest="mode")
    parser.add_argument("--seeds", type=int, help="quality runs over seeds 0..N-1 (overrides the mode's)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="with --seeds N: seeds FIRST..FIRST+N-1 (to add seeds to an earlier run)")
    parser.add_argument("--budgets", type=int, nargs="+", help="quality budgets in seconds (overrides the mode's)")
    parser.add_argument("--data", nargs="+", choices=list(bench_quality.DATA), default=list(bench_quality.DATA),
                        help="quality data sets (default: all)")
    parser.add_argument("--ceiling-minutes", type=float,
                        help="minutes of the long tuner run that gives each data set's ceiling (0: none)")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--quality-only", action="store_true",
                      help="only the search-quality rows (results in <mode>-quality.json / .md)")
    only.add_argument("--speed-only", action="store_true",
                      help="every row but search quality (results in <mode>-speed.json / .md)")
    args = parser.parse_args()
    mode = args.mode
    cfg = dict(MODES[mode])
    if args.seeds:
        cfg["seeds"] = list(range(args.first_seed, args.first_seed + args.seeds))
    if args.budgets:
        cfg["budgets"] = sorted(args.budgets)
    rows: dict[str, Any] = {"mode": mode, "notes": [], "prefill": cfg["prefill"]}
    with tempfile.TemporaryDirectory(prefix="tuner-bench-") as tmp:
        work = Path(tmp)
        print(f"benchmark ({mode}) in {work}", flush=True)
        rows["tf_import_s"] = tf_import_seconds(work)
        if not args.quality_only:
            fixed_workload(work, cfg["repeats"], rows)
            fixed_on_postgres(work, rows)
            two_workers(work, rows)
            user_model_workload(work, cfg["repeats"], rows)
            for label, storage in (("sqlite", f"sqlite:///{work / 'prefilled.db'}"), ("postgres", POSTGRES)):
                overhead_after_prefill(work, storage, label, cfg["prefill"], cfg["after_prefill"], rows)
            memory_flat(work, *cfg["memory_trials"], rows)
        if not args.speed_only:
            minutes = cfg["ceiling_minutes"] if args.ceiling_minutes is None else args.ceiling_minutes
            quality(work, cfg["budgets"], cfg["seeds"], cfg["kerastuner"], rows, args.data, minutes)
        if not cfg["kerastuner"] and not args.speed_only:
            rows["notes"].append("KerasTuner is run in --full only")
    text = table(rows)
    print(f"\nTensorFlow import: {rows['tf_import_s']:.2f} s\n")
    print(text)
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    stem = f"{mode}-quality" if args.quality_only else f"{mode}-speed" if args.speed_only else mode
    (results / f"{stem}.json").write_text(json.dumps(rows, default=str, indent=1))
    (results / f"{stem}.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
