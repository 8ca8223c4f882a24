"""Right answers on the user's own model: the base trial of a re-widened model is that model as it is, a sigmoid or
logit binary output trains, any metric the compiled model logs can be the study's, and only what a build function
reads is searched. Real Keras models on real SQLite stores, through the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest
import yaml

pytestmark = pytest.mark.slow

BUILDS = '''
import keras


def sigmoid(hp):
    inputs = keras.Input(hp.input_shape)
    x = keras.layers.Dense(hp.units["hidden"], activation="relu", name="hidden")(inputs)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="out")(x))


def logit(hp):
    inputs = keras.Input(hp.input_shape)
    x = keras.layers.Dense(hp.units["hidden"], activation="relu", name="hidden")(inputs)
    return keras.Model(inputs, keras.layers.Dense(1, name="out")(x))


def sigmoid_compiled(hp):
    model = sigmoid(hp)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def auc(hp):
    model = sigmoid(hp)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy",
                  metrics=["accuracy", keras.metrics.AUC(name="auc")])
    return model


def top2(hp):
    inputs = keras.Input(hp.input_shape)
    x = keras.layers.Dense(hp.units["hidden"], activation="relu", name="hidden")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(hp.n_outputs, activation="softmax", name="out")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=[keras.metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")])
    return model


def no_regularization(hp):
    return sigmoid(hp)


def dropout_only(hp):
    inputs = keras.Input(hp.input_shape)
    x = keras.layers.Dense(hp.units["hidden"], activation="relu", name="hidden")(inputs)
    x = keras.layers.Dropout(hp.dropout)(x)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="out")(x))
'''


def study(workdir: Path, build: str, changes: dict | None = None) -> None:
    (workdir / "studies" / "builds.py").write_text(BUILDS)
    spec = {"data": {"bundled": "breast_cancer", "seed": 0}, "model": {"build": f"builds.py:{build}"},
            "space": {"units": {"hidden": [16]}}, "training": {"epochs": 8, "batch_size": 32},
            "sampler": {"name": "random", "seed": 0}, "pruner": "none", "budget": {"trials": 2}}
    for key, value in (changes or {}).items():
        spec[key] = {**spec[key], **value} if isinstance(spec.get(key), dict) else value
    (workdir / "studies" / "user.yaml").write_text(yaml.safe_dump(spec))


def trials(workdir: Path, name: str = "user") -> list[optuna.trial.FrozenTrial]:
    from tuner.store import open_storage

    storage = open_storage(f"sqlite:///{workdir / 'tuner.db'}", heartbeat=False)
    return optuna.load_study(study_name=name, storage=storage).trials


def keras_fit_accuracy(build: str, epochs: int = 8) -> float:
    """The same model on the same rows through plain `model.fit`: the best epoch's validation accuracy."""
    import importlib.util

    import keras

    from tuner.data import load_data
    from tuner.record import ModelParams
    from tuner.spec import DataSpec

    data = load_data(DataSpec(bundled="breast_cancer", seed=0))
    spec = importlib.util.spec_from_file_location("builds", Path("studies/builds.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    keras.utils.set_random_seed(0)
    model = getattr(module, build)(ModelParams(units={"hidden": 16}, l2=0.0, dropout=0.0, learning_rate=0.01,
                                               batch_size=32, activation="relu", input_shape=(30,), n_outputs=2,
                                               task="classification"))
    history = model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=epochs,
                        batch_size=32, verbose=0)
    return max(history.history["val_accuracy"])


@pytest.mark.parametrize("build", ["sigmoid", "logit", "sigmoid_compiled"])
def test_one_output_unit_for_two_classes_trains_as_model_fit_does(cli, workdir: Path, build: str) -> None:
    study(workdir, build, {"training": {"learning_rate": 0.01}})
    result = cli("start", "user")
    assert result.exit_code == 0, result.output
    done = [t for t in trials(workdir) if t.state.name == "COMPLETE"]
    assert len(done) == 2 and all(t.value > 0.9 for t in done), [t.value for t in done]  # chance is 0.63
    assert all(t.user_attrs["test_accuracy"] > 0.85 for t in done)
    if build == "sigmoid_compiled":  # compiled by the user: the same rows through model.fit reach the same
        assert abs(done[0].value - keras_fit_accuracy(build)) < 0.04
    exported = cli("export", "user", "--out", "out")
    assert exported.exit_code == 0, exported.output
    card = (workdir / "out" / "MODEL_CARD.md").read_text()
    snippet = card.split("```python\n")[1].split("```")[0]
    said = subprocess.run([sys.executable, "-c", snippet], cwd=workdir / "out", capture_output=True, text=True,
                          timeout=300)
    assert said.returncode == 0, said.stderr[-2000:]
    assert said.stdout.strip().splitlines()[-1] in ("0", "1")  # a class name from classes.json

    import keras

    from tuner.data import load_data
    from tuner.spec import DataSpec

    data = load_data(DataSpec(bundled="breast_cancer", seed=0))
    model = keras.models.load_model(workdir / "out" / "model.keras")
    scores = model.predict(data.x_val * data.scaling.spread + data.scaling.center, verbose=0)[:, 0]
    picked = scores > (0.0 if build == "logit" else 0.5)
    assert np.mean(picked == data.y_val) > 0.9  # one unit read as the card says: the second class's score


def test_a_wrong_output_for_two_classes_says_what_fits(cli, workdir: Path) -> None:
    study(workdir, "sigmoid")
    (workdir / "studies" / "builds.py").write_text(BUILDS.replace('Dense(1, activation="sigmoid"',
                                                                  'Dense(3, activation="sigmoid"'))
    result = cli("validate", "user")
    assert result.exit_code == 2 and "needs 1 value (a sigmoid or a logit) or 2 (one per class)" in result.output


def test_any_metric_the_compiled_model_logs_is_the_studys(cli, workdir: Path) -> None:
    study(workdir, "auc", {"training": {"metric": "val_auc"}})
    listed = cli("validate", "user")
    assert listed.exit_code == 0, listed.output
    assert "val_auc (maximize)" in listed.output
    assert cli("start", "user").exit_code == 0
    done = [t for t in trials(workdir) if t.state.name == "COMPLETE"]
    assert len(done) == 2 and all(0.9 < t.value <= 1.0 for t in done)
    assert all("test_auc" in t.user_attrs and "train_auc" in t.user_attrs for t in done)

    study(workdir, "top2", {"data": {"bundled": "iris", "seed": 0}, "training": {"metric": "val_top2"}})
    result = cli("validate", "user")
    assert result.exit_code == 2 and "training.direction" in result.output  # `top2` says nothing of its direction
    study(workdir, "top2", {"data": {"bundled": "iris", "seed": 0},
                            "training": {"metric": "val_top2", "direction": "maximize"}})
    assert cli("validate", "user").exit_code == 0


def test_a_metric_nobody_logs_is_refused_before_anything_is_written(cli, workdir: Path) -> None:
    study(workdir, "sigmoid", {"training": {"metric": "val_auc"}})
    result = cli("start", "user")
    assert result.exit_code == 2 and "logged only by a model compiled with it" in result.output, result.output
    assert not (workdir / "tuner.db").exists() or "user" not in cli("list").output
    study(workdir, "auc", {"training": {"metric": "val_precision"}})
    result = cli("start", "user")
    assert result.exit_code == 2 and "not among the compiled model's metrics" in result.output


def test_only_what_the_build_function_reads_is_searched(cli, workdir: Path) -> None:
    study(workdir, "no_regularization", {"space": {"units": {"hidden": [8, 16]}, "l2": {"low": 1e-5, "high": 1e-2,
                                                                                            "log": True}}})
    listed = cli("validate", "user")
    assert listed.exit_code == 0, listed.output
    assert "not searched: l2: builds.py:no_regularization never reads hp.l2 (space.l2 is ignored)" in listed.output
    assert "not searched: dropout" in listed.output and "search dropout" not in listed.output
    assert cli("start", "user").exit_code == 0
    for trial in trials(workdir):
        assert set(trial.params) == {"units_hidden"}  # nothing searched that the model never reads
        assert trial.user_attrs["dropout"] == [0.0] and trial.user_attrs["l2"] == [0.0]

    study(workdir, "dropout_only", {"space": {"dropout": {"low": 0.1, "high": 0.5}}})
    (workdir / "tuner.db").unlink()
    listed = cli("validate", "user")
    assert "search dropout: 0.1 .. 0.5" in listed.output and "not searched: l2" in listed.output
    assert cli("start", "user").exit_code == 0
    assert all(set(t.params) == {"dropout"} for t in trials(workdir))


BASE = '''
import keras


def make():
    inputs = keras.Input((64,))
    x = keras.layers.Dense(24, activation="relu", name="wide")(inputs)
    x = keras.layers.Dense(12, activation="relu", kernel_regularizer=keras.regularizers.L2(1e-4), name="narrow")(x)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="digit")(x))
    model.compile(optimizer=keras.optimizers.Adam(0.005), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model
'''


@pytest.mark.parametrize("space, outside", [
    ({}, []),  # the defaults hold 0 for L2 and dropout
    ({"l2": {"low": 1e-5, "high": 1e-2, "log": True}, "dropout": {"low": 0.1, "high": 0.4},
      "learning_rate": {"low": 1e-4, "high": 1e-3, "log": True}}, ["dropout", "l2", "learning_rate"]),
])
def test_the_base_trial_is_the_model_as_it_is(cli, workdir: Path, space: dict, outside: list[str]) -> None:
    (workdir / "studies" / "base.py").write_text(BASE)
    spec = {"data": {"bundled": "digits", "seed": 0}, "model": {"function": "base.py:make"}, "space": space,
            "training": {"epochs": 3}, "sampler": {"name": "tpe", "seed": 0}, "pruner": "none",
            "budget": {"trials": 3}}
    (workdir / "studies" / "base.yaml").write_text(yaml.safe_dump(spec))
    result = cli("start", "base")
    assert result.exit_code == 0, result.output
    base, *others = trials(workdir, "base")
    assert base.user_attrs["base_model"]
    assert base.params["units_wide"] == 24 and base.params["units_narrow"] == 12
    for name in ("l2", "dropout", "learning_rate"):
        if name in outside:
            assert name not in base.params  # the space cannot hold the base model's value: not its parameter
        elif name in base.params:
            assert base.params[name] == 0
    assert all(row["dropout"] == 0 and row["l2"] == 0 for row in base.user_attrs["architecture"])
    assert base.user_attrs["n_params"] == 64 * 24 + 24 + 24 * 12 + 12 + 12 * 10 + 10
    ran = base.user_attrs["base_ran_with"]
    assert "its own widths (wide 24, narrow 12), no L2 or dropout added, its compiled Adam at learning rate 0.005" \
        in ran
    assert all(name in ran for name in outside)
    assert all(set(t.params) >= {"l2", "dropout"} for t in others)  # the others search them as before

    from tuner.search.models import models_for
    from tuner.store import studies
    from tuner.backend import load_keras

    load_keras()
    stored = optuna.load_study(study_name="base", storage=f"sqlite:///{workdir / 'tuner.db'}")
    definition = studies.definition(stored)
    from tuner.data import load_data

    models = models_for(definition.spec, load_data(definition.spec.data, None, definition.base_dir),
                        [definition.base_dir])
    model = models.build(models.from_trial(base))
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.005)  # its own optimizer setting
    narrow = model.get_layer("narrow")
    assert narrow.kernel_regularizer is not None and np.isclose(narrow.kernel_regularizer.l2, 1e-4)  # its own L2
    assert not any(type(layer).__name__ == "Dropout" for layer in model.layers)
    best = cli("best", "base").output
    assert "your model as it was" in best
