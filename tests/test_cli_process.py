"""The CLI as a user runs it, in a real process: start-up cost (no TensorFlow for read-only commands) and Ctrl-C."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from tuner.store import studies
from tuner.spec import parse_spec
from tuner.store import open_storage
from tests.conftest import TINY, merge

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import sys
from typer.testing import CliRunner
from tuner.cli import app
result = CliRunner().invoke(app, sys.argv[1:])
assert result.exit_code == 0, result.output
print("TF_IMPORTED" if "tensorflow" in sys.modules or "keras" in sys.modules else "TF_NOT_IMPORTED")
"""


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}


def test_read_only_commands_do_not_import_tensorflow(workdir: Path, write_study) -> None:
    path = write_study("tiny")
    spec = parse_spec(TINY)
    store = open_storage(f"sqlite:///{workdir / 'tuner.db'}")
    study = studies.create_or_resume(store, "tiny", spec, path.parent, {"name": "iris"}, "val_accuracy", "maximize")
    study.add_trial(optuna.trial.create_trial(
        params={"n_layers": 1}, distributions={"n_layers": optuna.distributions.IntDistribution(1, 2)}, value=0.9,
        user_attrs={"units": [8], "n_params": 75, "architecture": [
            {"layer": "dense_0", "units": 8, "params": 40, "dropout": 0.0, "l2": 0.0},
            {"layer": "output", "units": 3, "params": 27, "dropout": 0.0, "l2": 0.0}]}))
    for args in (["--help"], ["list"], ["status", "tiny"], ["best", "tiny"], ["validate", "tiny"]):
        out = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=workdir, env=env(), capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip().endswith("TF_NOT_IMPORTED"), (args, out.stdout)


@pytest.mark.slow
def test_ctrl_c_records_the_trial_and_a_later_start_resumes(workdir: Path, write_study) -> None:
    # trials of a few seconds (digits, small batches), so the second one can be caught running
    write_study("tiny", {"data": {"bundled": "digits"}, "training": {"epochs": 40, "batch_size": 8},
                         "budget": {"trials": 3}, "warm_start": False})
    db = workdir / "tuner.db"
    proc = subprocess.Popen([sys.executable, "-m", "tuner", "start", "tiny"], cwd=workdir, env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # wait until one trial is done and the next is running
        if db.exists():
            try:
                with sqlite3.connect(db) as con:
                    states = [s for (s,) in con.execute("select state from trials order by number")]
            except sqlite3.OperationalError:  # the file exists, Optuna's tables not yet
                states = []
            if states.count("COMPLETE") >= 1 and states[-1:] == ["RUNNING"]:
                break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the study never reached its second trial")
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output
    assert "interrupted" in output and "Traceback" not in output
    assert "run the same command to resume" in output

    store = open_storage(f"sqlite:///{db}", heartbeat=False)
    trials = optuna.load_study(study_name="tiny", storage=store).trials
    interrupted = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    assert len(interrupted) == 1 and interrupted[0].user_attrs["fail_reason"] == "interrupted"

    done = subprocess.run([sys.executable, "-m", "tuner", "start", "tiny", "--trials", "3"], cwd=workdir, env=env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    trials = optuna.load_study(study_name="tiny", storage=store).trials
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 3  # the interrupted trial was redone; the budget is a total for the study
