"""Refit: the model tuner ships (the best-model artifact, `tuner export`, `tuner.best_model`) is the best trial
retrained on the training and validation rows; the test rows score it. `refit: no` (or `--refit no`) keeps the
trial exactly as it ran; `refit: all` trains on the test rows too and says that no unseen score remains."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def study_of(workdir: Path, name: str = "tiny"):
    import optuna

    return optuna.load_study(study_name=name, storage=f"sqlite:///{workdir / 'tuner.db'}")


def rows_of(spec: dict):
    from tuner.data import load_data
    from tuner.spec import DataSpec

    return load_data(DataSpec(**spec))


def load(path: Path, folder: Path):
    import keras

    named = folder / "model.keras"  # Keras loads only `.keras` files
    shutil.copy(path, named)
    return keras.models.load_model(named)


def test_for_refit_adds_the_validation_rows_and_keeps_dtype_order_and_test_rows() -> None:
    data = rows_of({"bundled": "iris", "seed": 0})
    refit = data.for_refit("yes")
    assert len(refit.x_train) == len(data.x_train) + len(data.x_val)
    assert np.array_equal(refit.x_train[:len(data.x_train)], data.x_train)  # the trial's rows first, in order
    assert np.array_equal(refit.y_train[len(data.x_train):], data.y_val)
    assert refit.x_train.dtype == data.x_train.dtype and refit.scaling is data.scaling  # inputs as the trials'
    assert np.array_equal(refit.x_test, data.x_test) and refit.n_test == data.n_test > 0
    every = data.for_refit("all")
    assert len(every.x_train) == len(data.x_train) + len(data.x_val) + data.n_test and every.n_test == 0
    assert data.for_refit("no") is data


def test_the_shipped_model_is_the_best_trial_refit_on_training_and_validation_rows(cli, write_study,
                                                                                   workdir: Path) -> None:
    write_study("tiny", {"training": {"epochs": 4}, "budget": {"trials": 2}})
    result = cli("start", "tiny")
    assert result.exit_code == 0, result.output
    study = study_of(workdir)
    data = rows_of({"bundled": "iris", "seed": 0})
    kept = study.user_attrs["tuner.best_model"]
    assert kept["trial"] == study.best_trial.number and kept["refit"] == "yes"
    assert kept["trained_rows"] == len(data.x_train) + len(data.x_val) == 120
    assert f"retrained on the 120 training + validation rows; test_accuracy {kept['test']:.4f}" in result.output

    from tuner.training.raw_inputs import raw_rows

    artifact = load(workdir / "artifacts" / kept["artifact_id"], workdir)
    tested = np.mean(np.argmax(artifact.predict(raw_rows(data.x_test, data), verbose=0), axis=1) == data.y_test)
    assert tested == pytest.approx(kept["test"], abs=1e-6)  # the artifact is the model the test score is of

    exported = cli("export", "tiny", "--out", "out")
    assert exported.exit_code == 0, exported.output
    assert "retrained on the 120 training + validation rows" in exported.output
    card = json.loads((workdir / "out" / "hyperparams.json").read_text())
    assert card["refit"] == "yes" and card["trained_rows"] == 120 and card["reproduced"] is None
    own = study.best_trial.user_attrs["best_epoch"] + 1
    assert card["epochs"] == max(1, round(own * 120 / 90))  # the trial's epochs scaled to the refit's rows
    assert card["test"] == pytest.approx(kept["test"], abs=1e-6)  # the same refit from the same seed
    text = (workdir / "out" / "MODEL_CARD.md").read_text()
    assert "retrained on the 120 training + validation rows" in text and "this model never trained on" in text

    assert cli("export", "tiny", "--out", "trial", "--refit", "no").exit_code == 0
    trial = json.loads((workdir / "trial" / "hyperparams.json").read_text())
    assert trial["refit"] == "no" and trial["trained_rows"] == len(data.x_train) and trial["epochs"] == own
    assert trial["reproduced"] == pytest.approx(trial["recorded"], abs=1e-6)
    import keras

    a, b = (keras.models.load_model(workdir / folder / "model.keras") for folder in ("out", "trial"))
    assert not all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights(), strict=True))

    best = cli("best", "tiny")
    assert "validation rows" in best.output and "retrained on the 120 training + validation rows" in best.output


def test_refit_all_trains_on_every_row_and_says_no_unseen_score_remains(cli, write_study, workdir: Path) -> None:
    write_study("tiny", {"training": {"epochs": 2}, "budget": {"trials": 1}})
    assert cli("start", "tiny", "--refit", "no").exit_code == 0
    kept = study_of(workdir).user_attrs["tuner.best_model"]
    assert "refit" not in kept and not kept["filename"].endswith("-refit.keras")  # the trial's own model
    exported = cli("export", "tiny", "--out", "out", "--refit", "all")
    assert exported.exit_code == 0, exported.output
    assert "retrained on the 150 training + validation + test rows; no unseen rows remain" in exported.output
    card = json.loads((workdir / "out" / "hyperparams.json").read_text())
    assert card["test"] is None and card["trained_rows"] == 150
    assert "no unseen score" in (workdir / "out" / "MODEL_CARD.md").read_text()
    wrong = cli("export", "tiny", "--out", "x", "--refit", "maybe")
    assert wrong.exit_code == 2 and "not one of yes, no, all" in wrong.output


def test_the_study_files_refit_key_is_the_default_and_does_not_change_the_study(cli, write_study,
                                                                               workdir: Path) -> None:
    write_study("tiny", {"training": {"epochs": 2}, "budget": {"trials": 1}, "refit": False})
    assert cli("start", "tiny").exit_code == 0
    assert "refit" not in study_of(workdir).user_attrs["tuner.best_model"]
    assert cli("export", "tiny", "--out", "out").exit_code == 0
    assert json.loads((workdir / "out" / "hyperparams.json").read_text())["refit"] == "no"
    write_study("tiny", {"training": {"epochs": 2}, "budget": {"trials": 2}, "refit": "all"})
    resumed = cli("start", "tiny")  # the same search: refit is not part of the study's fingerprint
    assert resumed.exit_code == 0, resumed.output
    assert study_of(workdir).user_attrs["tuner.best_model"]["refit"] == "all"
    write_study("tiny", {"refit": "sometimes"})
    bad = cli("validate", "tiny")
    assert bad.exit_code == 2 and "refit" in bad.output


def test_a_regression_refit_from_the_python_api_scores_in_the_targets_units(workdir: Path) -> None:
    import tuner

    definition = {"data": {"bundled": "diabetes", "seed": 0}, "space": {"layers": 1, "units": [16, 32]},
                  "training": {"epochs": 5, "batch_size": 32}, "sampler": {"name": "random", "seed": 0},
                  "pruner": "none", "budget": {"trials": 2}}
    result = tuner.start(definition, name="api", storage=f"sqlite:///{workdir / 'api.db'}")
    kept = result.study.user_attrs["tuner.best_model"]
    assert kept["refit"] == "yes" and kept["test"] > 10  # mean absolute error in points of progression
    model = tuner.best_model(result.study, workdir / "model")
    data = rows_of({"bundled": "diabetes", "seed": 0})
    from tuner.training.raw_inputs import raw_rows

    predicted = model.predict(raw_rows(data.x_test, data), verbose=0)[:, 0]
    truth = data.y_test * data.target_scaling.std + data.target_scaling.mean
    assert float(np.mean(np.abs(predicted - truth))) == pytest.approx(kept["test"], rel=1e-4)
    trial = tuner.best_model(result.study, workdir / "trial", refit="no")
    assert trial.count_params() == model.count_params()


def test_a_users_build_function_is_refit_as_its_own_model(cli, workdir: Path) -> None:
    (workdir / "studies" / "builds.py").write_text(
        "import keras\n\n"
        "def build(hp):\n"
        "    model = keras.Sequential([keras.Input(hp.input_shape), keras.layers.Dense(hp.units['hidden'], name='hidden'),\n"
        "                              keras.layers.Activation('tanh'), keras.layers.Dense(3, activation='softmax')])\n"
        "    model.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])\n"
        "    return model\n")
    import yaml

    (workdir / "studies" / "user.yaml").write_text(yaml.safe_dump({
        "data": {"bundled": "iris", "seed": 0}, "model": {"build": "builds.py:build"},
        "space": {"units": {"hidden": [8, 32]}},
        "training": {"epochs": 3}, "sampler": {"name": "random", "seed": 0}, "pruner": "none",
        "budget": {"trials": 2}}))
    result = cli("start", "user")
    assert result.exit_code == 0, result.output
    kept = study_of(workdir, "user").user_attrs["tuner.best_model"]
    assert kept["refit"] == "yes" and kept["trained_rows"] == 120
    model = load(workdir / "artifacts" / kept["artifact_id"], workdir)
    inner = model.layers[-1]  # the user's model, behind the scaling the raw rows go through
    assert [type(layer).__name__ for layer in inner.layers] == ["Dense", "Activation", "Dense"]
    assert inner.get_layer("hidden").units == study_of(workdir, "user").best_trial.params["units_hidden"]
