"""What the dashboard costs a run: time spent in the trial note / best-model hooks per trial, against training time,
and how long optuna-dashboard takes to answer for the study.

    PYTHONPATH=. python benchmarks/dashboard_overhead.py [STUDY] [TRIALS]

Runs STUDY (default: digits) for TRIALS trials (default 12) into a temporary SQLite store, then prints a table.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class Timed:
    """Wraps a TrialWatch and records how long each of its calls takes."""

    def __init__(self, watch) -> None:
        self.watch, self.started_s, self.trained_s, self.kept = watch, [], [], 0

    def started(self, *args) -> None:
        t = time.perf_counter()
        self.watch.started(*args)
        self.started_s.append(time.perf_counter() - t)

    def trained(self, trial, model, history) -> None:
        before = trial.study.user_attrs.get("tuner.best_model")
        t = time.perf_counter()
        self.watch.trained(trial, model, history)
        self.trained_s.append(time.perf_counter() - t)
        self.kept += trial.study.user_attrs.get("tuner.best_model") != before


def main() -> None:
    study = sys.argv[1] if len(sys.argv) > 1 else "digits"
    trials = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    from tuner.views import dashboard as board
    from tuner.cli._common import quiet_libraries
    from tuner.run.session import open_session

    quiet_libraries()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        session = open_session(str(ROOT / "studies" / f"{study}.yaml"), storage=url)
        timed = Timed(session.objective.watch)
        session.objective.watch = timed
        started = time.perf_counter()
        session.run(trials, None)
        wall = time.perf_counter() - started
        train = [t.user_attrs["train_seconds"] for t in session.study.trials if "train_seconds" in t.user_attrs]

        server = board.make(url, session.artifacts, "127.0.0.1", 0)
        board.serve_in_background(server)
        base = board.address(server).removesuffix("/dashboard")
        answers = []
        for _ in range(10):
            t = time.perf_counter()
            with urllib.request.urlopen(f"{base}/api/studies/{session.study._study_id}") as r:
                size = len(r.read())
            answers.append(time.perf_counter() - t)
        server.shutdown()
        model = next(session.artifacts.iterdir()).stat().st_size

    hooks = sum(timed.started_s) + sum(timed.trained_s)
    print(f"{study}: {trials} trials in {wall:.1f} s wall, {sum(train):.1f} s training")
    print(f"{'step':<40}{'calls':>7}{'median ms':>11}{'total s':>9}")
    print(f"{'trial note (at the start)':<40}{len(timed.started_s):>7}"
          f"{1000 * statistics.median(timed.started_s):>11.1f}{sum(timed.started_s):>9.2f}")
    print(f"{'best-model check (trials trained to the end)':<40}{len(timed.trained_s):>7}"
          f"{1000 * statistics.median(timed.trained_s):>11.1f}{sum(timed.trained_s):>9.2f}")
    print(f"hooks / training time: {hooks / sum(train):.1%}; best model saved {timed.kept} times, "
          f"one file of {model / 1024:.0f} KiB kept")
    print(f"GET /api/studies/<id> ({size / 1024:.0f} KiB): median {1000 * statistics.median(answers):.0f} ms "
          f"over {len(answers)} requests")


if __name__ == "__main__":
    main()
