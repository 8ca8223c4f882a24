"""optuna-dashboard on a real tiny study: its HTTP API shows tuner's attributes, notes and the best-model artifact."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import TINY, merge

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
STUDY = merge(TINY, {"pruner": {"name": "median", "n_startup_trials": 1, "n_warmup_steps": 0},
                     "budget": {"trials": 4}})


def run_cli(*args: str) -> Any:
    from tuner.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """A 4-trial study in a fresh SQLite file (artifacts in the default folder), served in-process."""
    from tuner.views import dashboard as board
    from tuner.views.artifacts import resolve_dir

    root = tmp_path_factory.mktemp("dashboard")
    (root / "studies").mkdir()
    path = root / "studies" / "tiny.yaml"
    path.write_text(yaml.safe_dump(STUDY))
    url = f"sqlite:///{root}/tuner.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TUNER_ARTIFACTS", raising=False)
        result = run_cli("start", path, "--storage", url)
        assert result.exit_code == 0, result.output
        server = board.make(url, resolve_dir(None, url), "127.0.0.1", 0)
    board.serve_in_background(server)
    base = board.address(server).removesuffix("/dashboard")
    (study,) = get(f"{base}/api/studies")["study_summaries"]
    yield {"root": root, "url": url, "base": base, "path": path, "id": study["study_id"],
           "detail": get(f"{base}/api/studies/{study['study_id']}")}
    server.shutdown()
    server.server_close()


def attrs(trial: dict[str, Any]) -> dict[str, Any]:
    """The dashboard sends each value as text: JSON for lists and numbers, Python's str() for a bool."""

    def value(text: str) -> Any:
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text

    return {a["key"]: value(a["value"]) for a in trial["user_attrs"]}


def test_trials_carry_width_attributes_and_learning_curves(served) -> None:
    trials = served["detail"]["trials"]
    assert len(trials) == 4
    for trial in trials:
        a = attrs(trial)
        assert len(a["units"]) == len(a["dropout"]) == len(a["l2"]) == len(a["architecture"]) - 1
        assert a["n_params"] == sum(row["params"] for row in a["architecture"])
        assert a["train_seconds"] > 0
        # one intermediate value per epoch run: a pruned trial's curve stops where it was pruned
        assert len(trial["intermediate_values"]) == a["epochs_run"]
        if trial["state"] == "Complete":
            assert a["epochs_run"] == STUDY["training"]["epochs"]
            assert {"train_accuracy", "val_accuracy", "overfit_gap"} <= a.keys()
            assert trial["values"][0] == pytest.approx(max(v["value"] for v in trial["intermediate_values"]))
        else:
            assert trial["state"] == "Pruned" and a["epochs_run"] < STUDY["training"]["epochs"]


def test_study_note_describes_data_space_and_strategy(served) -> None:
    note = served["detail"]["note"]["body"]
    assert note.startswith("## tiny")
    for text in ("`iris` (classification, 3 classes)", "train 90 x 4", "validation 30 x 4", "test 30 x 4", "maximize `val_accuracy`",
                 "| units | 4 .. 32 (log) | yes |", "| l2 | 1e-05 .. 0.01 (log) | no |", "sampler: random (seed 0)",
                 "pruner: median (n_startup_trials 1, n_warmup_steps 0)", "budget: 4 trials"):
        assert text in note, text


def test_each_trial_note_is_its_architecture_table(served) -> None:
    for trial in served["detail"]["trials"]:
        body = trial["note"]["body"]
        a = attrs(trial)
        assert body.startswith(f"### Trial {trial['number']}: {len(a['units'])} layer(s) {a['units']}")
        assert "| layer | units | params | dropout | L2 |" in body
        for row in a["architecture"]:
            assert f"| {row['layer']} | {row['units']} | {row['params']:,} |" in body


def test_best_model_is_one_downloadable_keras_artifact(served, tmp_path: Path) -> None:
    detail, base = served["detail"], served["base"]
    complete = [t for t in detail["trials"] if t["state"] == "Complete"]
    best = max(complete, key=lambda t: t["values"][0])
    (artifact,) = detail["artifacts"]
    assert artifact["filename"] == f"tiny-best-trial-{best['number']}-refit.keras"  # refit on train + validation
    assert [p.name for p in (served["root"] / "artifacts").iterdir()] == [artifact["artifact_id"]]

    target = tmp_path / artifact["filename"]
    urllib.request.urlretrieve(f"{base}/artifacts/{served['id']}/{artifact['artifact_id']}", target)
    from tuner.backend import load_keras

    load_keras()
    import keras

    model = keras.models.load_model(target)
    assert model.get_layer("feature_scaling") is not None  # it takes raw rows
    dense = [layer.units for layer in model.get_layer("tuner_mlp").layers if isinstance(layer, keras.layers.Dense)]
    assert dense == attrs(best)["units"] + [3]
    assert model.predict(keras.ops.zeros((2, 4)), verbose=0).shape == (2, 3)


def test_resume_keeps_one_model_and_an_edited_study_note(served) -> None:
    import optuna
    from optuna_dashboard import get_note, save_note

    from tuner.store import open_storage

    study = optuna.load_study(study_name="tiny", storage=open_storage(served["url"], heartbeat=False))
    save_note(study, "my own words")
    before = study.user_attrs["tuner.best_model"]
    result = run_cli("start", served["path"], "--storage", served["url"], "--trials", "6")
    assert result.exit_code == 0, result.output
    assert get_note(study) == "my own words"
    after = study.user_attrs["tuner.best_model"]
    best = study.best_trial
    assert after["artifact_id"] == before["artifact_id"] and after["trial"] == best.number
    assert len(list((served["root"] / "artifacts").iterdir())) == 1
    assert f"best model: tiny-best-trial-{best.number}-refit.keras" in result.output
    (artifact,) = get(f"{served['base']}/api/studies/{served['id']}")["artifacts"]
    assert artifact["filename"] == f"tiny-best-trial-{best.number}-refit.keras"


def test_taken_port_is_a_short_error(cli, workdir: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        result = cli("dashboard", "--port", s.getsockname()[1])
    assert result.exit_code == 2
    assert "cannot listen on 127.0.0.1" in result.output and "--port" in result.output
    assert "Traceback" not in result.output


def test_start_refuses_a_taken_dashboard_port_before_touching_the_study(cli, write_study, workdir: Path) -> None:
    write_study("tiny")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        result = cli("start", "tiny", "--dashboard", "--dashboard-port", s.getsockname()[1])
    assert result.exit_code == 2 and "cannot listen" in result.output
    assert json.loads(cli("list", "--json").output) == []


def test_binding_beyond_localhost_warns(workdir: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tuner", "dashboard", "--host", "0.0.0.0", "--port", "0"],
                            cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        warning = proc.stderr.readline()
        assert "no authentication" in warning and "127.0.0.1" in warning
        assert "http://0.0.0.0:" in proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_start_with_dashboard_serves_the_study_while_it_runs(write_study, workdir: Path) -> None:
    write_study("tiny", {"budget": {"trials": 3}})
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tuner", "start", "tiny", "--dashboard", "--dashboard-port",
                             str(port)], cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    seen: list[int] = []
    try:
        while proc.poll() is None:
            try:
                if get(f"http://127.0.0.1:{port}/api/studies")["study_summaries"]:
                    seen.append(len(get(f"http://127.0.0.1:{port}/api/studies/1")["trials"]))
            except OSError:  # not listening yet, or gone because the run just ended
                pass
            time.sleep(0.5)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert f"dashboard: http://127.0.0.1:{port}/dashboard/studies/1" in err
    assert seen and seen[0] < 3, seen  # answered while trials were still to come
    assert "dashboard stopped with the run" in err
