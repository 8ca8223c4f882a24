"""The user's own model and data, on real parts: a build function of theirs on a folder of PNG images, an existing
.keras model re-widened (each layer, or one multiplier), a loader function; tuner start, best, export, report and
the dashboard on them; mistakes stopped before anything is written; a build that fails for some widths fails only
that trial."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest
import yaml

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "studies"


def example(workdir: Path, name: str, changes: dict, files: tuple[str, ...] = ()) -> Path:
    """The example study `name` with `changes` merged in, beside copies of the files it uses."""
    study = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    for key, value in changes.items():  # a section is updated key by key; a sampler is replaced whole
        merge = isinstance(value, dict) and key != "sampler" and isinstance(study.get(key), dict)
        study[key] = {**study[key], **value} if merge else value
    for relative in files:
        target = workdir / "studies" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if (EXAMPLES / relative).is_dir() else shutil.copy)(EXAMPLES / relative, target)
    path = workdir / "studies" / f"{name}.yaml"
    path.write_text(yaml.safe_dump(study))
    return path


def stored(workdir: Path, name: str) -> optuna.Study:
    from tuner.store import open_storage

    return optuna.load_study(study_name=name, storage=open_storage(f"sqlite:///{workdir / 'tuner.db'}",
                                                                   heartbeat=False))


def dashboard_shows(workdir: Path, name: str) -> dict:
    """What optuna-dashboard's own API serves for the study: its trials with attributes, notes, curves, artifacts."""
    from optuna_dashboard import wsgi

    from tests.test_constraints import _get
    from tuner.store import open_storage
    from tuner.views.artifacts import open_store

    app = wsgi(open_storage(f"sqlite:///{workdir / 'tuner.db'}", heartbeat=False),
               artifact_store=open_store(workdir / "artifacts"))
    studies = json.loads(_get(app, "/api/studies"))["study_summaries"]
    study_id = next(s["study_id"] for s in studies if s["study_name"] == name)
    detail = json.loads(_get(app, f"/api/studies/{study_id}"))
    complete = [t for t in detail["trials"] if t["state"] == "Complete"]
    assert complete and all(t["intermediate_values"] for t in complete)  # learning curves
    assert all(t["note"]["body"].startswith(f"### Trial {t['number']}") for t in detail["trials"])  # trial notes
    assert all({a["key"] for a in t["user_attrs"]} >= {"units", "n_params", "architecture"} for t in complete)
    (artifact,) = detail["artifacts"]  # the best model so far
    assert artifact["filename"].startswith(f"{name}-best-trial-")
    return detail


def test_a_build_function_on_an_image_folder_runs_end_to_end(cli, workdir: Path) -> None:
    example(workdir, "digits_images", {"training": {"epochs": 3}, "budget": {"trials": 3}, "pruner": "none"},
            ("models/cnn.py", "data/digit_images"))
    result = cli("start", "digits_images")
    assert result.exit_code == 0, result.output
    assert "widths conv_1" in result.output and "test_accuracy" in result.output
    study = stored(workdir, "digits_images")
    trials = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(trials) == 3 and trials[0].user_attrs["warm_start"]  # the listed starting point ran first
    assert trials[0].params["units_conv_1"] == 16 and trials[0].params["units_dense_head"] == 32
    assert all(len(t.intermediate_values) == 3 for t in trials)  # reported every epoch, as the pruner sees

    from tuner.backend import load_keras

    load_keras()
    import keras

    best = max(trials, key=lambda t: t.value)
    # the architecture rows add up to what Keras counts for the model the build function makes
    from tuner.record import ModelParams

    sys.path.insert(0, str(workdir / "studies" / "models"))
    try:
        import cnn
    finally:
        sys.path.pop(0)
    model = cnn.build(ModelParams(units={"conv_1": best.params["units_conv_1"],
                                         "dense_head": best.params["units_dense_head"]}, l2=0.0, dropout=0.0,
                                  learning_rate=1e-3, batch_size=64, activation="relu", input_shape=(8, 8, 1),
                                  n_outputs=10, task="classification"))
    assert best.user_attrs["n_params"] == model.count_params() == sum(r["params"] for r in
                                                                      best.user_attrs["architecture"])
    exported = cli("export", "digits_images", "--out", "out", "--refit", "no")
    assert exported.exit_code == 0, exported.output
    card = json.loads((workdir / "out" / "hyperparams.json").read_text())
    assert card["reproduced"] == pytest.approx(card["recorded"], abs=1 / 360 + 1e-9)
    assert "load_img" in (workdir / "out" / "MODEL_CARD.md").read_text()
    saved = keras.models.load_model(workdir / "out" / "model.keras")
    image = keras.utils.img_to_array(keras.utils.load_img(
        next((workdir / "studies" / "data" / "digit_images" / "7").iterdir()), color_mode="grayscale"))
    assert saved.input_shape == (None, 8, 8, 1)  # raw images in: pixels 0-255, divided inside
    assert json.loads((workdir / "out" / "classes.json").read_text())[int(np.argmax(saved.predict(
        image[None], verbose=0)[0]))] in [str(d) for d in range(10)]
    dashboard_shows(workdir, "digits_images")
    report = cli("report", "digits_images", "--out", "report")
    assert report.exit_code == 0 and (workdir / "report" / "index.html").is_file(), report.output


def test_an_existing_model_is_rewidened_and_compared_with_itself(cli, workdir: Path) -> None:
    example(workdir, "digits_rewiden", {"training": {"epochs": 3}, "budget": {"trials": 3}, "pruner": "none"},
            ("models/digits_base.keras",))
    listed = cli("validate", "digits_rewiden")
    assert listed.exit_code == 0, listed.output
    assert "width layer conv_a+conv_b: 32 (tied: conv_a, conv_b)" in listed.output
    assert "width layer head: 64" in listed.output and "left as it is: digit (it is the output layer)" in listed.output
    result = cli("start", "digits_rewiden")
    assert result.exit_code == 0, result.output
    study = stored(workdir, "digits_rewiden")
    base = study.trials[0]
    assert base.user_attrs["base_model"] and base.params["units_conv_a+conv_b"] == 32 and base.params["units_head"] == 64
    assert base.user_attrs["n_params"] == 43178  # the base model's own count (make_base.py), rebuilt as it is
    best = cli("best", "digits_rewiden").output
    assert "than your model as it was (trial 0" in best or "your model as it was is the best trial" in best
    widened = [t for t in study.trials if t.number > 0][0]
    rows = {r["layer"]: r for r in widened.user_attrs["architecture"]}
    assert rows["conv_a"]["units"] == rows["conv_b"]["units"] == widened.params["units_conv_a+conv_b"]  # tied
    assert rows["digit"]["units"] == 10  # the output layer keeps its width
    dashboard_shows(workdir, "digits_rewiden")
    assert cli("report", "digits_rewiden", "--out", "report").exit_code == 0
    exported = cli("export", "digits_rewiden", "--out", "out", "--refit", "no")
    assert exported.exit_code == 0, exported.output
    card = json.loads((workdir / "out" / "hyperparams.json").read_text())
    assert card["reproduced"] == pytest.approx(card["recorded"], abs=1 / 360 + 1e-9)


def test_one_multiplier_scales_every_width(cli, workdir: Path) -> None:
    example(workdir, "digits_rewiden", {"model": {"widths": "multiplier"},
                                        "space": {"width_multiplier": [0.5, 2.0], "dropout": 0, "l2": 0},
                                        "training": {"epochs": 1}, "budget": {"trials": 3}, "sampler": {"name": "grid"},
                                        "pruner": "none"}, ("models/digits_base.keras",))
    result = cli("start", "digits_rewiden")
    assert result.exit_code == 0, result.output
    by_factor = {t.params["width_multiplier"]: t for t in stored(workdir, "digits_rewiden").trials}
    assert set(by_factor) == {0.5, 2.0}  # a grid of two: the budget of 3 holds at its cells
    for factor, trial in by_factor.items():
        rows = {r["layer"]: r["units"] for r in trial.user_attrs["architecture"]}
        assert rows["conv_a"] == rows["conv_b"] == round(32 * factor) and rows["head"] == round(64 * factor)


BUILDS = '''
import keras


def good(hp):
    inputs = keras.Input(hp.input_shape)
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(hp.units["hidden"], activation="relu", name="hidden")(x)
    return keras.Model(inputs, keras.layers.Dense(hp.n_outputs, activation="softmax", name="out")(x))


def logits(hp):
    inputs = keras.Input(hp.input_shape)
    x = keras.layers.Dense(hp.units["hidden"], activation="relu", name="hidden")(inputs)
    return keras.Model(inputs, keras.layers.Dense(hp.n_outputs, name="out")(x))


def wrong_output(hp):
    inputs = keras.Input(hp.input_shape)
    return keras.Model(inputs, keras.layers.Dense(7, name="hidden")(inputs))


def raises(hp):
    return {}["missing"]


def not_a_model(hp):
    return 3


def sometimes(hp):
    if hp.units["hidden"] > 8:
        raise ValueError("this block takes at most 8 units")
    return good(hp)


def arrays():
    import numpy as np
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4, 3))
    return x, (x[:, 0, 0] > 0).astype(int)


def datasets():
    import numpy as np
    import tensorflow as tf
    x, y = arrays()
    return {"train": tf.data.Dataset.from_tensor_slices((x[:200], y[:200])).batch(32),
            "validation": (x[200:250], y[200:250]), "test": (x[250:], y[250:]), "classes": ["neg", "pos"]}
'''


def user_study(workdir: Path, build: str, units: dict, data: dict | None = None, extra: dict | None = None) -> None:
    (workdir / "studies" / "builds.py").write_text(BUILDS)
    study = {"data": data or {"bundled": "iris"}, "model": {"build": build},
             "space": {"units": units, "dropout": 0, "l2": 0},
             "training": {"epochs": 2}, "sampler": {"name": "random", "seed": 0}, "pruner": "none",
             "budget": {"trials": 3}, **(extra or {})}
    (workdir / "studies" / "user.yaml").write_text(yaml.safe_dump(study))


@pytest.mark.parametrize("build, units, message", [
    ("nothere.py:good", {"hidden": [4]}, "model.build: nothere.py not found"),
    ("builds.py:missing", {"hidden": [4]}, "builds.py has no function 'missing'"),
    ("no_such_module:build", {"hidden": [4]}, "module 'no_such_module' cannot be imported"),
    ("builds.py:raises", {"hidden": [4]}, "raises() raised KeyError: 'missing', at builds.py line"),
    ("builds.py:not_a_model", {"hidden": [4]}, "returned int, not a keras.Model"),
    ("builds.py:wrong_output", {"hidden": [4]}, "output is shaped [7] a row but this classification needs 3"),
    ("builds.py:good", {"hidden": [4], "extra": [2]}, "space.units.extra: the model builds.py:good builds has no "
                                                      "layer named 'extra'"),
])
def test_a_mistake_in_the_users_model_stops_before_anything_is_written(cli, workdir: Path, build: str,
                                                                       units: dict, message: str) -> None:
    user_study(workdir, build, units)
    result = cli("start", "user")
    assert result.exit_code == 2 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) <= 2 and "Traceback" not in result.output
    assert not (workdir / "tuner.db").exists() or json.loads(cli("list", "--json").output) == []


def test_a_build_failing_for_some_widths_fails_that_trial_only(cli, workdir: Path) -> None:
    user_study(workdir, "builds.py:sometimes", {"hidden": [4, 16]}, extra={"sampler": {"name": "grid"},
                                                                           "budget": {"trials": 2}})
    result = cli("start", "user")
    assert result.exit_code == 0, result.output
    trials = {t.params["units_hidden"]: t for t in stored(workdir, "user").trials}
    assert trials[4].state.name == "COMPLETE"
    assert trials[16].state.name == "FAIL" and "at most 8 units" in trials[16].user_attrs["fail_reason"]


def test_an_uncompiled_model_returning_logits_is_compiled_for_them(cli, workdir: Path) -> None:
    user_study(workdir, "builds.py:logits", {"hidden": [16]}, extra={"training": {"epochs": 15}, "budget": {"trials": 1}})
    assert cli("start", "user").exit_code == 0
    (trial,) = stored(workdir, "user").trials
    assert trial.value > 0.6  # trained as logits, not as probabilities


@pytest.mark.parametrize("loader", ["builds.py:arrays", "builds.py:datasets"])
def test_a_loader_function_gives_the_data(cli, workdir: Path, loader: str) -> None:
    user_study(workdir, "builds.py:good", {"hidden": [8]}, data={"loader": loader, "scale": "none"},
               extra={"budget": {"trials": 1}})
    result = cli("validate", "user")
    assert result.exit_code == 0, result.output
    expected = "200 train / 50 validation / 50 test" if loader.endswith("datasets") else "180 train / 60 validation / 60 test"
    assert expected in result.output
    assert cli("start", "user").exit_code == 0
    (trial,) = stored(workdir, "user").trials
    assert trial.state.name == "COMPLETE" and "test_accuracy" in trial.user_attrs


def test_user_models_with_two_workers_on_postgres(workdir: Path) -> None:
    """Both example studies, each with `--workers 2` on the real PostgreSQL: the worker finds the build function
    and the base model under the study's folder, as it finds data files."""
    import uuid

    from tests.test_postgres import _server, env

    name = f"tuner_test_{uuid.uuid4().hex[:10]}"
    with _server("postgres") as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        example(workdir, "digits_images", {"training": {"epochs": 2}, "budget": {"trials": 4}, "pruner": "none"},
                ("models/cnn.py", "data/digit_images"))
        example(workdir, "digits_rewiden", {"training": {"epochs": 2}, "budget": {"trials": 4}, "pruner": "none"},
                ("models/digits_base.keras",))
        for study in ("digits_images", "digits_rewiden"):
            proc = subprocess.run([sys.executable, "-m", "tuner", "start", study, "--workers", "2"], cwd=workdir,
                                  env=env(url), capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, proc.stderr[-2000:]
            trials = optuna.load_study(study_name=study, storage=url).trials
            assert sorted(t.number for t in trials) == [0, 1, 2, 3]
            assert all(t.state.name == "COMPLETE" for t in trials)
    finally:
        with _server("postgres") as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_python_api_runs_a_study_from_a_dict(workdir: Path) -> None:
    import tuner

    (workdir / "studies" / "builds.py").write_text(BUILDS)
    result = tuner.start({"data": {"bundled": "iris"}, "model": {"build": "studies/builds.py:good"},
                          "space": {"units": {"hidden": [4, 8]}}, "training": {"epochs": 2},
                          "budget": {"trials": 2}}, name="from_python", storage=f"sqlite:///{workdir / 'api.db'}")
    assert len(result.study.trials) == 2 and result.best is not None
    again = tuner.load("from_python", f"sqlite:///{workdir / 'api.db'}")
    assert tuner.best(again).number == result.best.number
    model = tuner.best_model(again, workdir / "model")
    assert model.input_shape == (None, 4) and (workdir / "model" / "MODEL_CARD.md").is_file()
    with pytest.raises(tuner.TunerError, match="needs a name"):
        tuner.start({"data": {"bundled": "iris"}})
