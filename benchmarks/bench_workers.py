"""Scale-out figures: trials per minute with 1 and 2 local workers on the default study, and how long
`tuner list` / `tuner status` take on a store holding 10,000 trials.

    PYTHONPATH=. python benchmarks/bench_workers.py                 # SQLite in a temporary folder
    PYTHONPATH=. python benchmarks/bench_workers.py --storage postgresql+psycopg://postgres@127.0.0.1/bench
    PYTHONPATH=. python benchmarks/bench_workers.py --reads-only --storage URL   # only the list/status rows
    PYTHONPATH=. python benchmarks/bench_workers.py --quick         # 4 trials per row, 2,000 stored trials

Each worker row is `tuner start digits --workers N --trials T` run as a user runs it (process start-up and
TensorFlow import included). The store for the read rows is filled without training, with multi-row INSERTs into Optuna's tables.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import optuna

ROOT = Path(__file__).resolve().parents[1]


def tuner(*args: str, env: dict[str, str], cwd: Path) -> float:
    """Seconds one `tuner ...` command takes, start-up included."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tuner", *args], env=env, cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - started


def fill(url: str, cwd: Path, n: int) -> str:
    """A study of the default definition holding `n` finished trials with realistic params and attributes."""
    from tuner.search import space
    from tuner.run.session import open_session

    os.chdir(cwd)
    session = open_session("digits", storage=url, name=f"bench-{n}")
    source = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    rng = random.Random(0)
    batch = []
    first = len(session.study.get_trials(deepcopy=False))  # the study file may have queued trials already
    for number in range(first, first + n):
        trial = source.ask()
        hp = space.sample(trial, session.spec.space, session.spec.training)
        pruned = rng.random() < 0.6
        epochs = rng.randint(1, 10) if pruned else 30
        batch.append(optuna.trial.create_trial(
            state=optuna.trial.TrialState.PRUNED if pruned else optuna.trial.TrialState.COMPLETE,
            value=None if pruned else rng.uniform(0.8, 0.99), params=trial.params, distributions=trial.distributions,
            intermediate_values={e: rng.uniform(0.5, 0.99) for e in range(epochs)},
            user_attrs={"units": list(hp.units), "n_params": 1000 + number, "epochs_run": epochs, "seed": number}))
        batch[-1].number = number
        source.tell(trial, 0.0)
    _bulk_insert(session.study, batch)
    return session.study.study_name


def _bulk_insert(study: optuna.Study, trials: list[optuna.trial.FrozenTrial]) -> None:
    """Insert finished trials with a few multi-row INSERTs into Optuna's own tables (add_trials commits each
    trial through the ORM: minutes for 10,000)."""
    from tuner.store import schema

    schema.insert_finished_trials(study._storage._backend.engine, study._study_id, trials)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--storage", help="store to use [default: SQLite in a temporary folder]")
    parser.add_argument("--trials", type=int, default=10, help="trials per worker row")
    parser.add_argument("--stored", type=int, default=10_000, help="trials in the store for the read rows")
    parser.add_argument("--reads-only", action="store_true", help="only the list/status rows")
    parser.add_argument("--quick", action="store_true", help="4 trials per row, 2,000 stored trials")
    args = parser.parse_args()
    if args.quick:
        args.trials, args.stored = 4, 2_000
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    work = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    shutil.copytree(ROOT / "studies", work / "studies")
    url = args.storage or f"sqlite:///{work / 'bench.db'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TUNER_STORAGE": url, "TF_CPP_MIN_LOG_LEVEL": "3"}
    rows: list[tuple[str, str, str]] = []
    try:
        per_minute = {}
        for workers in () if args.reads_only else (1, 2):
            name = f"bench-w{workers}-{os.getpid()}"
            seconds = tuner("start", "digits", "--name", name, "--workers", str(workers), "--trials",
                            str(args.trials), env=env, cwd=work)
            per_minute[workers] = args.trials / seconds * 60
            rows.append((f"{workers} worker{'s' if workers > 1 else ''}, {args.trials} trials of digits",
                         f"{seconds:.1f} s", f"{per_minute[workers]:.1f} trials/min"))
        if per_minute:
            rows.append(("2 workers / 1 worker", "", f"{per_minute[2] / per_minute[1]:.2f}x"))

        started = time.perf_counter()
        name = fill(url, work, args.stored)
        rows.append((f"fill the store with {args.stored:,} trials (no training)", f"{time.perf_counter() - started:.1f} s", ""))
        for label, cmd in (("tuner list", ["list"]), (f"tuner status {name}", ["status", name]),
                           ("tuner --help (floor: start-up)", ["--help"])):
            times = [tuner(*cmd, env=env, cwd=work) for _ in range(3)]
            rows.append((f"{label} ({args.stored:,} trials stored)" if "help" not in label else label,
                         f"{statistics.median(times):.2f} s", f"median of 3, min {min(times):.2f} s"))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    width = max(len(r[0]) for r in rows)
    print(f"store: {url.split('://')[0]}, cores: {os.cpu_count()}")
    print(f"{'what':<{width}}  {'time':>9}  figure")
    for what, seconds, figure in rows:
        print(f"{what:<{width}}  {seconds:>9}  {figure}")


if __name__ == "__main__":
    main()
