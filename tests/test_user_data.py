"""The user's data as they gave it, on real parts: a loader's token ids stay integers and unscaled into an Embedding
model (from tf.data.Datasets and from `(x, y)` arrays), its `classes` keep their order through training, the
best-model artifact and `tuner export`, its images go into the exported model in their own shape, and `tuner
validate` says each input's dtype, shape and scaling."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import optuna
import pytest
import yaml

LOADERS = '''
import numpy as np


def tokens(n=300, seed=0, dtype="int32"):
    """Sequences of 20 token ids; class c draws its ids from those equal to c modulo 3 (a vocabulary of 32): only
    the ids themselves tell the classes apart, not their size."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    return (3 * rng.integers(1, 10, (n, 20)) + y[:, None]).astype(dtype), y


def token_datasets():
    import tensorflow as tf
    x, y = tokens()
    return {"train": tf.data.Dataset.from_tensor_slices((x[:200], y[:200])).batch(16),
            "validation": tf.data.Dataset.from_tensor_slices((x[200:], y[200:]))}


def token_arrays():
    return tokens(dtype="int64")


def counts():
    """Counts of six things (int64); the class is which of the first three is the largest."""
    rng = np.random.default_rng(2)
    x = rng.integers(0, 10, (300, 6))
    return x, np.argmax(x[:, :3], axis=1)


def float_tokens():
    x, y = tokens()
    return x.astype("float64"), y


def named():
    """Three separable clusters, labels 0, 1, 2 named in an order that is not sorted."""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 240)
    x = rng.normal(size=(240, 4)) * 0.3 + np.eye(3, 4)[y] * 3
    return {"train": (x[:160], y[:160]), "validation": (x[160:], y[160:]), "classes": ["one", "two", "three"]}


def images():
    from sklearn.datasets import load_digits
    digits = load_digits()
    return digits.images[:600, :, :, None].astype("float32"), digits.target[:600]
'''

BUILDS = '''
import keras


def lstm(hp):
    inputs = keras.Input(hp.input_shape)
    x = keras.layers.Embedding(32, 8, name="tokens")(inputs)
    x = keras.layers.LSTM(hp.units["lstm"], name="lstm")(x)
    return keras.Model(inputs, keras.layers.Dense(hp.n_outputs, activation="softmax", name="out")(x))


def attention(hp):
    inputs = keras.Input(hp.input_shape, dtype="int64")
    x = keras.layers.Embedding(32, 16, name="tokens")(inputs)
    x = keras.layers.MultiHeadAttention(2, 8, name="attention")(x, x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    x = keras.layers.Dense(hp.units["hidden"], activation="relu", name="hidden")(x)
    return keras.Model(inputs, keras.layers.Dense(hp.n_outputs, activation="softmax", name="out")(x))


def dense(hp):
    inputs = keras.Input(hp.input_shape)
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(hp.units["hidden"], activation="relu", name="hidden")(x)
    return keras.Model(inputs, keras.layers.Dense(hp.n_outputs, activation="softmax", name="out")(x))
'''


def study(workdir: Path, loader: str, build: str | None = None, units: dict | None = None,
          data: dict | None = None, epochs: int = 3, learning_rate: float = 1e-2) -> None:
    """studies/user.yaml: one trial of the loader's data into a build function of ours (or tuner's own MLP)."""
    (workdir / "studies" / "loaders.py").write_text(LOADERS)
    (workdir / "studies" / "builds.py").write_text(BUILDS)
    spec = {"data": {"loader": f"loaders.py:{loader}", **(data or {})},
            "space": {"units": units or {"hidden": [16]}, "dropout": 0, "l2": 0, "learning_rate": [learning_rate],
                      **({} if build else {"layers": 1, "units": [16]})},
            "training": {"epochs": epochs, "batch_size": 16}, "sampler": {"name": "random", "seed": 0},
            "pruner": "none", "budget": {"trials": 1}}
    if build:
        spec["model"] = {"build": f"builds.py:{build}"}
    (workdir / "studies" / "user.yaml").write_text(yaml.safe_dump(spec))


def user_module(workdir: Path, file: str):
    """The user's own file, imported as their code would import it."""
    found = importlib.util.spec_from_file_location(f"{file}_under_test", workdir / "studies" / f"{file}.py")
    module = importlib.util.module_from_spec(found)
    found.loader.exec_module(module)
    return module


def users_loader(workdir: Path, name: str):
    """What the user's loader function gives tuner."""
    return getattr(user_module(workdir, "loaders"), name)()


def stored(workdir: Path) -> optuna.Study:
    from tuner.store import open_storage

    return optuna.load_study(study_name="user", storage=open_storage(f"sqlite:///{workdir / 'tuner.db'}",
                                                                     heartbeat=False))


def kept(workdir: Path, best: dict) -> Path:
    """The best-model artifact under the name it is downloaded as (Keras loads only `.keras` files)."""
    path = workdir / best["filename"]
    shutil.copy(workdir / "artifacts" / best["artifact_id"], path)
    return path


def keras_model(path: Path):
    from tuner.backend import load_keras

    load_keras()
    import keras

    return keras.models.load_model(path)


@pytest.mark.slow
def test_token_ids_from_tf_data_train_an_embedding_lstm_with_the_default_scale(cli, workdir: Path) -> None:
    study(workdir, "token_datasets", "lstm", {"lstm": [8]}, epochs=3)
    result = cli("start", "user")
    assert result.exit_code == 0, result.output
    (trial,) = stored(workdir).trials
    assert trial.state.name == "COMPLETE" and trial.value > 0.9, trial.value  # chance is 1/3

    assert cli("export", "user", "--out", "out", "--refit", "no").exit_code == 0
    model = keras_model(workdir / "out" / "model.keras")
    assert model.input_shape == (None, 20) and model.inputs[0].dtype == "int32"  # token ids, as the loader gives
    x, y = users_loader(workdir, "tokens")
    x_val, y_val = x[200:], y[200:]
    card = json.loads((workdir / "out" / "hyperparams.json").read_text())
    agree = np.mean(np.argmax(model.predict(x_val, verbose=0), axis=1) == y_val)
    assert agree == pytest.approx(card["reproduced"], abs=1 / len(y_val) + 1e-9)
    assert all(isinstance(v, int) for v in card["example"]) and 'dtype="int32"' in \
        (workdir / "out" / "MODEL_CARD.md").read_text()


@pytest.mark.slow
def test_int64_token_arrays_stay_integers_and_unscaled_into_an_attention_model(cli, workdir: Path) -> None:
    from tuner.data import load_data
    from tuner.spec import DataSpec

    study(workdir, "token_arrays", "attention", epochs=4)
    data = load_data(DataSpec(loader="loaders.py:token_arrays"), base_dir=workdir / "studies")
    x, _ = users_loader(workdir, "token_arrays")
    assert data.x_train.dtype == np.int64 and data.scaling is None  # default scale: standard, ids left alone
    assert {tuple(row) for row in data.x_train} <= {tuple(row) for row in x}  # the loader's rows, unchanged
    result = cli("start", "user")
    assert result.exit_code == 0, result.output
    (trial,) = stored(workdir).trials
    assert trial.state.name == "COMPLETE" and trial.value > 0.9, trial.value
    assert trial.user_attrs["test_accuracy"] > 0.9


@pytest.mark.slow
def test_given_classes_keep_their_order_through_training_the_artifact_and_export(cli, workdir: Path) -> None:
    study(workdir, "named", epochs=5)
    result = cli("start", "user")
    assert result.exit_code == 0, result.output
    best = stored(workdir).user_attrs["tuner.best_model"]
    assert best["classes"] == ["one", "two", "three"]
    assert cli("export", "user", "--out", "out").exit_code == 0
    assert json.loads((workdir / "out" / "classes.json").read_text()) == ["one", "two", "three"]
    given = users_loader(workdir, "named")
    x_val, y_val = given["validation"]
    card = json.loads((workdir / "out" / "hyperparams.json").read_text())
    assert card["refit"] == best["refit"] == "yes"  # the export and the artifact: the same refit, same seed
    picked = []
    for path in (workdir / "out" / "model.keras", kept(workdir, best)):
        out = np.asarray(keras_model(path)(x_val.astype("float32")))
        picked.append(np.argmax(out, axis=1))
        assert np.mean(picked[-1] == y_val) > 0.9  # output i is label i, named classes[i]
    assert np.array_equal(*picked)


@pytest.mark.slow
def test_a_loaders_images_go_into_the_exported_model_in_their_own_shape(cli, workdir: Path) -> None:
    study(workdir, "images", "dense", data={"test_split": 0}, epochs=3, learning_rate=1e-2)
    result = cli("start", "user")
    assert result.exit_code == 0, result.output
    best = stored(workdir).user_attrs["tuner.best_model"]
    assert cli("export", "user", "--out", "out").exit_code == 0
    x, y = users_loader(workdir, "images")
    for path in (workdir / "out" / "model.keras", kept(workdir, best)):
        model = keras_model(path)
        assert model.input_shape == (None, 8, 8, 1) and model.inputs[0].dtype == "float32"
        assert np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y) > 0.8  # raw images, standardized inside
    assert ".reshape(1, 8, 8, 1)" in (workdir / "out" / "MODEL_CARD.md").read_text()


@pytest.mark.parametrize("loader, data, line", [
    ("token_arrays", {}, "input x: int64 (20,), not scaled: integer-typed"),
    ("token_datasets", {}, "input x: int32 (20,), not scaled: integer-typed"),
    ("named", {}, "input x: float32 (4,), not scaled: a loader's splits are used as given"),
    ("images", {}, "input x: float32 (8, 8, 1), scaled: standard (fitted on the training rows)"),
    ("images", {"scale": "none"}, "input x: float32 (8, 8, 1), not scaled: data.scale: none"),
])
def test_validate_prints_each_inputs_dtype_shape_and_scaling(cli, workdir: Path, loader: str, data: dict,
                                                             line: str) -> None:
    study(workdir, loader, data=data)
    result = cli("validate", "user")
    assert result.exit_code == 0, result.output
    assert f"\n  {line}\n" in result.output, result.output


def test_scaled_floats_into_an_embedding_stop_before_anything_is_written(cli, workdir: Path) -> None:
    study(workdir, "float_tokens", "lstm", {"lstm": [8]})
    result = cli("start", "user")
    assert result.exit_code == 2, result.output
    assert "data.scale: standard scaling would change the ids the model of model.build takes (it feeds Embedding " \
           "layer 'tokens'); set data.scale: none" in result.output
    assert len(result.output.strip().splitlines()) <= 2 and not (workdir / "tuner.db").exists()
    study(workdir, "float_tokens", "lstm", {"lstm": [8]}, data={"scale": "none"})
    listed = cli("validate", "user")
    assert listed.exit_code == 0 and "input x: float32 (20,), not scaled: data.scale: none" in listed.output


def write_loader(folder: Path, body: str) -> str:
    (folder / "given.py").write_text("import numpy as np\n\n\ndef load():\n" + body)
    return "given.py:load"


def test_integer_labels_are_the_output_index(tmp_path: Path) -> None:
    """Output i is label i (a value the labels skip is an output never trained); negative or text labels are
    sorted, as a CSV's, and classes.json names each output."""
    from tuner.data import load_data
    from tuner.spec import DataSpec

    loader = write_loader(tmp_path, f"    y = np.load({str(tmp_path / 'y.npy')!r})\n"
                                    f"    return np.arange(len(y) * 2.0).reshape(-1, 2), y\n")
    cases = (([1, 2, 3], ("0", "1", "2", "3")), ([0, 2], ("0", "1", "2")), ([-1, 1], ("-1", "1")),
             (["b", "a", "c"], ("a", "b", "c")), ([0, 70], ("0", "70")))  # past MAX_CLASSES outputs: sorted
    for seed, (labels, classes) in enumerate(cases):
        given = np.array(labels * 20)
        np.save(tmp_path / "y.npy", given)
        data = load_data(DataSpec(loader=loader, test_split=0, scale="none", seed=seed), base_dir=tmp_path)
        assert data.classes == classes
        rows = (data.x_train[:, 0] // 2).astype(int)  # row i of the loader is [2i, 2i + 1]
        assert [data.classes[i] for i in data.y_train] == [str(given[i]) for i in rows]


@pytest.mark.parametrize("body, message", [
    ("    return {'train': (np.ones((4, 2)), np.array([0, 1, 2, 1])), 'validation': (np.ones((2, 2)), "
     "np.array([0, 1])), 'classes': ['a', 'b']}\n", "each label must be an index 0..1 into them; found 0, 1, 2"),
])
def test_labels_that_do_not_fit_are_a_one_line_error(tmp_path: Path, body: str, message: str) -> None:
    from tuner.data import load_data
    from tuner.errors import DataError
    from tuner.spec import DataSpec

    with pytest.raises(DataError, match=message):
        load_data(DataSpec(loader=write_loader(tmp_path, body)), base_dir=tmp_path)


@pytest.mark.slow
def test_integer_rows_train_tuners_own_mlp_and_a_shared_path_model(cli, workdir: Path) -> None:
    """Integer rows train tuner's Dense stack and a user's model on tuner's own path (cast to the model's input
    dtype there), not only through `model.fit`."""
    from tuner.data import load_data
    from tuner.record import ModelParams
    from tuner.spec import DataSpec
    from tuner.training import sharedfit, usermodels

    for build in (None, "dense"):
        study(workdir, "counts", build, epochs=6)
        (workdir / "tuner.db").unlink(missing_ok=True)
        result = cli("start", "user")
        assert result.exit_code == 0, result.output
        (trial,) = stored(workdir).trials
        assert trial.state.name == "COMPLETE" and trial.value > 0.5, trial.value
    data = load_data(DataSpec(loader="loaders.py:counts"), base_dir=workdir / "studies")
    assert data.x_train.dtype == np.int64 and data.scaling is None
    model = usermodels.compiled(user_module(workdir, "builds").dense(ModelParams(
        units={"hidden": 8}, l2=0.0, dropout=0.0, learning_rate=1e-2, batch_size=16, activation="relu",
        input_shape=(6,), n_outputs=3, task="classification")), "classification", "adam", 1e-2, "val_accuracy", "x")
    assert sharedfit.plan(model, data.task) is not None  # the build above trained on the shared path
