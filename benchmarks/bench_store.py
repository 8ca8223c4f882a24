"""What the store's read pieces are worth on the commands a user waits for: `tuner list`, `tuner status` and
`tuner report` on a store holding 10,000 finished trials, with tuner's store as it is and with a read piece turned
off (benchmarks/store_pieces.py: `optuna-reads` reads whole trials through Optuna's ORM, `optuna-outline` also
drops the outline), the variants alternating, each command run as a user runs it (start-up included).

    PYTHONPATH=. python benchmarks/bench_store.py                       # SQLite in a temporary folder
    PYTHONPATH=. python benchmarks/bench_store.py --storage postgresql+psycopg://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import store_pieces  # noqa: E402
from bench_workers import ROOT, fill  # noqa: E402

RUN = "import sys; from tuner.cli import main; sys.argv[0] = 'tuner'; main()"
VARIANTS = ("tuner", "optuna-reads", "optuna-outline")


def timed(variant: str, args: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", store_pieces.prelude(variant) + RUN, *args], env=env, cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--storage", help="store to use [default: SQLite in a temporary folder]")
    parser.add_argument("--stored", type=int, default=10_000, help="finished trials in the store")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-store-"))
    shutil.copytree(ROOT / "studies", work / "studies")
    url = args.storage or f"sqlite:///{work / 'bench.db'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TUNER_STORAGE": url, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONWARNINGS": "ignore"}
    try:
        name = fill(url, work, args.stored)
        commands = {"list": ["list"], "status": ["status", name], "report": ["report", name, "--out",
                                                                             str(work / "report")]}
        times: dict[tuple[str, str], list[float]] = {}
        for i in range(args.repeats):
            for variant in VARIANTS if i % 2 == 0 else VARIANTS[::-1]:
                for command, cmd in commands.items():
                    times.setdefault((command, variant), []).append(timed(variant, cmd, env, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"store: {url.split('://')[0]}, {args.stored:,} trials, cores: {os.cpu_count()}, median of {args.repeats}")
    print("| command | " + " | ".join(VARIANTS) + " | " + " | ".join(f"{v} / tuner" for v in VARIANTS[1:]) + " |")
    print("| --- " * (2 * len(VARIANTS)) + "|")
    for command in commands:
        medians = [statistics.median(times[(command, v)]) for v in VARIANTS]
        print(f"| tuner {command} | " + " | ".join(f"{m:.2f} s" for m in medians) + " | "
              + " | ".join(f"{m / medians[0]:.2f}x" for m in medians[1:]) + " |")


if __name__ == "__main__":
    main()
