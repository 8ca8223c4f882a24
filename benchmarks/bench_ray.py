"""Ray against local worker processes: trials per second on the fixed workload (studies/fixed_grid.yaml: 32 grid
cells x 10 epochs on digits) with 1, 2 and 4 workers, `tuner start --workers N` beside `tuner start --ray ADDRESS
--workers N`, one after the other on the same machine and the same PostgreSQL.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_ray.py                  # a fresh database on 127.0.0.1:5432
    PYTHONPATH=. .venv/bin/python benchmarks/bench_ray.py --workers 1,2 --repeats 3

The Ray cluster is one node on this machine (ray.cluster_utils.Cluster, started once, before the rows, with as many
CPUs as the machine has), so both engines get the same cores; each Ray worker asks for cores / N CPUs, which gives
its TensorFlow the threads a local worker gets (tuner.run.workers.threads_per_worker). Each row is the real command
as a user runs it, process start-up included (`wall`); `span` is the first stored trial's start to the last one's
end, start-up left out. Results go to benchmarks/results/ray.json and ray.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "host=127.0.0.1 port=5432 dbname=postgres user=postgres"
RESULTS = ROOT / "benchmarks" / "results"


def run(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[2:6])} ... exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return time.perf_counter() - started


def span(url: str, name: str) -> tuple[int, float]:
    import optuna

    trials = optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)
    first = min(t.datetime_start for t in trials)
    last = max(t.datetime_complete for t in trials)
    return len(trials), (last - first).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", help="a PostgreSQL URL [default: a fresh database on 127.0.0.1:5432]")
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each row (the median is shown)")
    args = parser.parse_args()
    import psycopg
    from ray.cluster_utils import Cluster

    database = None
    if args.storage is None:
        database = f"bench_ray_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')
    url = args.storage or f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
    cores = os.cpu_count() or 1
    work = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    (work / "studies").mkdir()
    grid = yaml.safe_load((ROOT / "studies" / "fixed_grid.yaml").read_text())
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TUNER_STORAGE": url, "TF_CPP_MIN_LOG_LEVEL": "3"}
    started = time.perf_counter()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": cores})
    cluster.wait_for_nodes()
    cluster_s = time.perf_counter() - started
    rows = []
    try:
        for workers in (int(n) for n in args.workers.split(",")):
            study = work / "studies" / f"grid_{workers}.yaml"
            study.write_text(yaml.safe_dump({**grid, "resources": {"cpus": max(cores / workers, 0.01)},
                                             "refit": False}))
            for engine in ("local", "ray"):
                walls, spans, counted = [], [], 0
                for repeat in range(args.repeats):
                    name = f"{engine}-{workers}-{repeat}-{os.getpid()}"
                    cmd = [sys.executable, "-m", "tuner", "start", str(study), "--name", name, "--workers",
                           str(workers)] + (["--ray", cluster.address] if engine == "ray" else [])
                    walls.append(run(cmd, env, work))
                    counted, seconds = span(url, name)
                    spans.append(seconds)
                    print(f"  {engine} x{workers} run {repeat + 1}: {walls[-1]:.1f} s wall, {seconds:.1f} s span",
                          flush=True)
                wall, seconds = statistics.median(walls), statistics.median(spans)
                rows.append({"engine": engine, "workers": workers, "trials": counted, "wall_s": round(wall, 2),
                             "span_s": round(seconds, 2), "trials_per_s_wall": round(counted / wall, 3),
                             "trials_per_s_span": round(counted / seconds, 3)})
    finally:
        cluster.shutdown()
        if database is not None:
            with psycopg.connect(ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    lines = [f"Ray against local workers, fixed workload (32 trials of studies/fixed_grid.yaml), PostgreSQL, "
             f"{cores} cores, median of {args.repeats}; Ray cluster start-up {cluster_s:.1f} s (not in the rows)", "",
             "| workers | local wall s | Ray wall s | local trials/s | Ray trials/s | Ray / local | "
             "local span trials/s | Ray span trials/s |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for local, ray in zip(rows[::2], rows[1::2], strict=True):
        lines.append(f"| {local['workers']} | {local['wall_s']:.1f} | {ray['wall_s']:.1f} | "
                     f"{local['trials_per_s_wall']:.2f} | {ray['trials_per_s_wall']:.2f} | "
                     f"{ray['trials_per_s_wall'] / local['trials_per_s_wall']:.2f}x | "
                     f"{local['trials_per_s_span']:.2f} | {ray['trials_per_s_span']:.2f} |")
    print("\n".join(lines))
    RESULTS.mkdir(exist_ok=True)
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    (RESULTS / "ray.json").write_text(json.dumps({"when": when, "cores": cores, "repeats": args.repeats,
                                                  "cluster_start_s": round(cluster_s, 2), "rows": rows}, indent=2)
                                      + "\n")
    (RESULTS / "ray.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
