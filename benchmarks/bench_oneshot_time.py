"""Time to quality, one-shot against a full search: `tuner start STUDY` (the study as it ships) and `tuner start STUDY
--one-shot` (its one-shot settings, or the defaults: the stage, its retrained trials, then the study's ordinary
search), `--minutes` of each, run side by side, at the same time, each in a fresh SQLite store, with the same seeds.

After each trial the study's chosen model is its best trial by validation score; its test score (recorded with the
trial, never used by the search) is read off. The reference is the full search's chosen model at its end. A run's
time to quality is the wall time from its launch to the first moment its chosen model's test score is within
`--within` (0.005) of that reference; "not reached" where it never is. The same race is also read off on the
validation score the searches choose by (against the full search's final one). Run in parts (`--studies`); every
finished study is kept in results/oneshot-time.json, and results/oneshot-time.md is the table (`--studies` with no
name rewrites it from the json).

    python benchmarks/bench_oneshot_time.py --studies digits --minutes 10
    python benchmarks/bench_oneshot_time.py --studies wide10 --minutes 10   # 30,000 rows (benchmarks/data/)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TUNER = str(Path(sys.executable).with_name("tuner"))


def launch(study: Path, folder: Path, args: list[str]) -> tuple[subprocess.Popen, float]:
    env = {**os.environ, "TUNER_STORAGE": f"sqlite:///{folder}/tuner.db"}
    started = time.time()
    proc = subprocess.Popen([TUNER, "start", str(study), "--refit", "no", *args], cwd=folder, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, started


def timeline(folder: Path, name: str, started: float) -> list[tuple[float, float, float, bool]]:
    """(seconds from launch, chosen trial's validation score, its test score, whether it is a retrained one-shot
    width) after each trained trial."""
    import optuna

    from tuner import record
    from tuner.store import open_storage

    study = optuna.load_study(study_name=name, storage=open_storage(f"sqlite:///{folder}/tuner.db", heartbeat=False))
    metric = study.user_attrs[record.METRIC]
    test = record.test_key(metric.removeprefix("val_"))
    done = sorted((t for t in study.trials if t.state.name == "COMPLETE" and not t.user_attrs.get(record.ONE_SHOT)
                   and test in t.user_attrs), key=lambda t: t.datetime_complete)
    best, out = None, []
    for t in done:
        if best is None or t.value > best.value:
            best = t
        out.append((round(t.datetime_complete.timestamp() - started, 1), best.value, best.user_attrs[test],
                    record.ESTIMATE in best.user_attrs))
    return out


def first(line: list[tuple[float, float, float, bool]], target: float, column: int = 2) -> tuple | None:
    """The point where the chosen trial's test score (`column` 1: its validation score) first reached `target`."""
    return next((point for point in line if point[column] >= target), None)


def reached(line: list[tuple[float, float, float, bool]], target: float, column: int = 2) -> float | None:
    point = first(line, target, column)
    return None if point is None else point[0]


def by_validation(row: dict[str, Any]) -> tuple[float | None, float | None]:
    """The same race on the validation score the searches choose by: when each run's chosen trial came within
    `within` of the full search's final one."""
    target = row["full_timeline"][-1][1] - row["within"]
    return reached(row["full_timeline"], target, 1), reached(row["one_shot_timeline"], target, 1)


def reached_by(line: list[tuple[float, float, float, bool]], target: float) -> str | None:
    """Which kind of trial the one-shot run first reached the target with."""
    point = first(line, target)
    return None if point is None else "retrained" if point[3] else "search"


def study_file(name: str) -> Path:
    """An example study (studies/NAME.yaml) or one of benchmarks/data/ (its data written when missing)."""
    here = ROOT / "benchmarks" / "data" / f"{name}.yaml"
    if not here.exists():
        return ROOT / "studies" / f"{name}.yaml"
    maker = here.with_name(f"make_{name}.py")
    if maker.exists() and not here.with_name(f"{name}.npz").exists():
        subprocess.run([sys.executable, str(maker)], check=True)
    return here


def run_study(name: str, minutes: float, within: float) -> dict[str, Any]:
    study = study_file(name)
    limits = ["--timeout", str(minutes * 60), "--trials", "100000"]
    with tempfile.TemporaryDirectory() as full_dir, tempfile.TemporaryDirectory() as shot_dir:
        full, full_start = launch(study, Path(full_dir), limits)
        shot, shot_start = launch(study, Path(shot_dir), ["--one-shot", *limits])
        shot_out, _ = shot.communicate()
        shot_seconds = time.time() - shot_start
        full_out, _ = full.communicate()
        full_seconds = time.time() - full_start
        if full.returncode or shot.returncode:
            raise SystemExit(f"{name}: a run failed\n{full_out[-2000:]}\n{shot_out[-2000:]}")
        full_line = timeline(Path(full_dir), name, full_start)
        shot_line = timeline(Path(shot_dir), name, shot_start)
    reference = full_line[-1][2]
    target = reference - within
    full_at, shot_at = reached(full_line, target), reached(shot_line, target)
    return {"study": name, "minutes": minutes, "within": within, "reference_test": round(reference, 4),
            "full": {"trials": len(full_line), "seconds": round(full_seconds, 1), "reached_at": full_at,
                     "final_test": round(full_line[-1][2], 4)},
            "one_shot": {"trials": len(shot_line), "seconds": round(shot_seconds, 1), "reached_at": shot_at,
                         "reached_by": reached_by(shot_line, target),
                         "final_test": round(shot_line[-1][2], 4) if shot_line else None,
                         "stage": next((line for line in shot_out.splitlines() if "estimates in" in line), "")},
            "speedup": round(full_at / shot_at, 2) if full_at and shot_at else None,
            "full_timeline": full_line, "one_shot_timeline": shot_line}


def _seconds(value: float | None) -> str:
    return "not reached" if value is None else f"{value} s"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--studies", nargs="*", default=["digits", "mixture10", "noisy10"])
    parser.add_argument("--minutes", type=float, default=10.0, help="each run's time (default 10)")
    parser.add_argument("--within", type=float, default=0.005)
    args = parser.parse_args()
    out = RESULTS / "oneshot-time.json"
    kept = json.loads(out.read_text()) if out.exists() else {}
    for name in args.studies:
        row = run_study(name, args.minutes, args.within)
        kept[name] = row
        out.write_text(json.dumps(kept, indent=1))
        print(json.dumps({k: v for k, v in row.items() if not k.endswith("timeline")}), flush=True)
    lines = ["| study | reference: the full search's choice at its end, test score | full search reached it at | "
             "one-shot reached it at (with) | one-shot's choice at its end, test score | one-shot stage | speed-up | "
             "by validation score: full, one-shot, speed-up |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in kept.values():
        f, o = row["full"], row["one_shot"]
        by = f" ({o['reached_by']} trial)" if o.get("reached_by") else ""
        full_val, shot_val = by_validation(row)
        lines.append(f"| {row['study']} | {row['reference_test']} ({row['minutes']:g} min, {f['trials']} trials) | "
                     f"{f['reached_at']} s | {_seconds(o['reached_at'])}{by} | {o['final_test']} ({o['trials']} "
                     f"trials) | {o['stage'].removeprefix('one-shot: ').split(';')[0]} | {_ratio(row['speedup'])} | "
                     f"{_seconds(full_val)}, {_seconds(shot_val)}, "
                     f"{_ratio(round(full_val / shot_val, 2) if full_val and shot_val else None)} |")
    (RESULTS / "oneshot-time.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
