"""The one-shot stage: a slimmable network's widths are the first-k slices of its weights, its estimates rank widths
as training them from scratch does, and a study with `one_shot:` stores its estimates apart from the budget's
trained trials (SQLite, PostgreSQL with two workers, the Python API)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from tests.test_postgres import ROOT, assert_finished_exactly, pg_url, trials_of  # noqa: F401
from tuner import record
from tuner.store import open_storage

pytestmark = pytest.mark.slow

ONE_SHOT = {"data": {"bundled": "digits", "seed": 0, "scale": "minmax"},
            "space": {"layers": {"low": 1, "high": 2}, "units": {"low": 4, "high": 64, "log": True},
                      "l2": {"low": 1e-6, "high": 1e-3, "log": True}, "dropout": {"low": 0.0, "high": 0.2}},
            "training": {"epochs": 3, "batch_size": 64}, "sampler": {"name": "tpe", "seed": 0},
            "budget": {"trials": 4}, "warm_start": False,
            "one_shot": {"estimates": 40, "top": 2, "epochs": 4}}


def _digits():
    from tuner.data import load_data
    from tuner.spec import DataSpec

    return load_data(DataSpec(bundled="digits", seed=0, scale="minmax"), None, Path.cwd())


@pytest.mark.parametrize("family", ["dense", "conv2d"])
def test_a_width_is_the_keras_model_of_the_first_units_of_the_widest_weights(family: str) -> None:
    """The network at widths (10, 7) computes what tuner's own Keras model of those widths computes with the first
    10 and 7 units (filters) of the widest weights: held to Keras's Dense, Conv2D, pooling and flattening."""
    from dataclasses import replace

    from tuner.backend import load_keras
    from tuner.record import Hyperparams, Layer
    from tuner.training import slimmable
    from tuner.training.model import build_model

    load_keras()
    data = _digits()
    data = replace(data, shape=(8, 8, 1)) if family == "conv2d" else data
    net = slimmable.train(data, (32, 16), (4, 4), lambda rng: (int(rng.integers(4, 33)), int(rng.integers(4, 17))),
                          epochs=1, seed=0, conv=family == "conv2d")
    hp = Hyperparams((Layer(10, 0.0, 0.0), Layer(7, 0.0, 0.0)), "relu", 1e-3, 64, family=family)
    model = build_model(hp, data.n_features, data.n_outputs, data.task, shape=data.shape)
    hidden = [layer for layer in model.layers if layer.name.startswith(("dense_", "conv2d_"))]
    hidden[0].set_weights([net.kernels[0].numpy()[..., :10], net.biases[0].numpy()[:10]])
    hidden[1].set_weights([net.kernels[1].numpy()[..., :10, :7], net.biases[1].numpy()[:7]])
    head = net.kernels[2].numpy().reshape(net.cells, 16, -1)[:, :7].reshape(net.cells * 7, -1)
    model.get_layer("output").set_weights([head, net.biases[2].numpy()])
    x = data.x_val[:50].astype(np.float32)
    logits = net.outputs(x, (10, 7)).numpy()
    softmax = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(softmax / softmax.sum(1, keepdims=True), model.predict(x, verbose=0), atol=1e-5)
    assert not np.allclose(net.outputs(x, (32, 16)).numpy(), logits, atol=1e-3)  # the other units do count


def test_estimates_rank_widths_as_training_them_does() -> None:
    from scipy.stats import spearmanr

    from tuner.backend import load_keras, start_trial
    from tuner.record import Hyperparams, Layer
    from tuner.training import slimmable
    from tuner.training.fit import fit
    from tuner.training.model import build_model

    load_keras()
    data = _digits()
    widths = [4, 8, 16, 64, 256]
    net = slimmable.train(data, (256,), (4,), lambda rng: (int(np.exp(rng.uniform(np.log(4), np.log(256)))),),
                          epochs=15, seed=0)
    estimates = [net.score(data, (w,), "val_accuracy") for w in widths]
    trained = []
    for w in widths:
        start_trial(0)
        hp = Hyperparams((Layer(w, 0.0, 0.0),), "relu", 1e-3, 64)
        model = build_model(hp, data.n_features, data.n_outputs, data.task)
        trained.append(max(fit(model, data, hp, 15, [], seed=0)["val_accuracy"]))
    assert spearmanr(estimates, trained).statistic >= 0.8, (estimates, trained)
    assert estimates[-1] > estimates[0] + 0.1  # a 4-unit layer is far worse than a 256-unit one, here too


def _study(workdir: Path, name: str = "oneshot") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(f"sqlite:///{workdir}/tuner.db",
                                                                   heartbeat=False))


def test_a_one_shot_study_keeps_its_estimates_apart_and_resumes(cli, write_study, workdir: Path) -> None:
    write_study("oneshot", ONE_SHOT)
    assert "one-shot stage: 40 estimates, the best 2 retrained" in cli("validate", "oneshot").output
    result = cli("start", "oneshot")
    assert result.exit_code == 0, result.output
    assert "one-shot: 40 width vectors estimated from one training" in result.output
    study = _study(workdir)
    trials = study.get_trials()
    estimates = [t for t in trials if t.user_attrs.get(record.ONE_SHOT)]
    retrained = [t for t in trials if not t.user_attrs.get(record.ONE_SHOT)]
    assert len(estimates) == 40 and all(t.state == TrialState.COMPLETE for t in estimates)
    assert all("epochs_run" not in t.user_attrs for t in estimates)  # never trained
    assert len(retrained) == 4 and all(record.ESTIMATE in t.user_attrs for t in retrained)
    chosen = study.user_attrs[record.ONE_SHOT_STAGE]["retrained"]
    assert [t.user_attrs[record.UNITS] for t in retrained] == [chosen[i % len(chosen)] for i in range(4)]
    for t in retrained:  # each retrained trial carries the estimate its widths scored
        scored = [e for e in estimates if e.user_attrs[record.UNITS] == t.user_attrs[record.UNITS]]
        assert scored and t.user_attrs[record.ESTIMATE] == max(e.value for e in scored)
    regularization = [{k: v for k, v in t.params.items() if k.startswith(("l2", "dropout"))} for t in retrained]
    assert all(r and set(r.values()) <= {1e-6, 0.0} for r in regularization[:2])  # the networks estimated
    assert all(set(r.values()) - {1e-6, 0.0} for r in regularization[2:])  # then sampled
    status = json.loads(cli("status", "oneshot", "--json").output)
    assert status["counts"]["used"] == 4 and status["counts"]["complete"] == 4
    assert status["counts"]["estimates"] == 40
    best = json.loads(cli("best", "oneshot", "--json").output)
    assert best["number"] in {t.number for t in retrained}
    written = cli("report", "oneshot", "--out", str(workdir / "report"))
    assert written.exit_code == 0, written.output
    page = (workdir / "report" / "index.html").read_text()
    assert (workdir / "report" / "one_shot.png").stat().st_size > 1000
    assert "one-shot: 40 width vectors estimated from one training" in page
    assert "4 complete" in page  # the estimates are not counted as complete trials
    again = cli("start", "oneshot", "--trials", "6")  # resumed: no second stage, two more retrained trials
    assert again.exit_code == 0, again.output
    assert "training the widest" not in again.output
    trials = _study(workdir).get_trials()
    assert sum(bool(t.user_attrs.get(record.ONE_SHOT)) for t in trials) == 40
    assert sum(not t.user_attrs.get(record.ONE_SHOT) and t.state == TrialState.COMPLETE for t in trials) == 6


def test_two_objectives_retrain_the_estimates_front(cli, write_study, workdir: Path) -> None:
    from tuner.views.summary import pareto_front

    write_study("oneshot", {**ONE_SHOT, "objectives": ["metric", "n_params"],
                            "one_shot": {"estimates": 40, "top": 3, "epochs": 2}, "budget": {"trials": 3}})
    result = cli("start", "oneshot")
    assert result.exit_code == 0, result.output
    study = _study(workdir)
    chosen = study.user_attrs[record.ONE_SHOT_STAGE]["retrained"]
    assert len(chosen) == 3 and len({sum(c) for c in chosen}) == 3  # spread over the front's sizes
    front = pareto_front(study)
    assert front and all(not t.user_attrs.get(record.ONE_SHOT) for t in front)


@pytest.mark.parametrize("change, message", [
    ({"objectives": ["metric", "latency"]}, "cannot estimate latency"),
    ({"space": {**ONE_SHOT["space"], "family": "lstm"}}, "tuner's own Dense and Conv2D stacks"),
    ({"sampler": {"name": "grid"}, "space": {"layers": 1, "units": [8, 16], "l2": 0, "dropout": 0}}, "tpe or random"),
])
def test_what_one_shot_cannot_do_is_refused_before_anything_is_written(cli, write_study, workdir: Path, change,
                                                                        message: str) -> None:
    write_study("oneshot", {**ONE_SHOT, **change})
    result = cli("start", "oneshot")
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output
    assert not (workdir / "tuner.db").exists() or "oneshot" not in optuna.get_all_study_names(
        f"sqlite:///{workdir}/tuner.db")


def test_the_python_api_runs_a_one_shot_stage(workdir: Path) -> None:
    import tuner

    spec = {**ONE_SHOT, "warm_start": True}
    spec.pop("one_shot")
    result = tuner.start(spec, name="api", storage=f"sqlite:///{workdir}/tuner.db", trials=2, refit="no",
                         one_shot={"estimates": 30, "top": 2, "epochs": 2})
    trials = result.study.get_trials()
    assert sum(bool(t.user_attrs.get(record.ONE_SHOT)) for t in trials) == 30
    warm = trials[0]  # the rule-of-thumb start: scored on the shared weights too, then trained
    assert warm.user_attrs[record.WARM_START] and record.ESTIMATE in warm.user_attrs
    assert warm.state == TrialState.COMPLETE and sum(not t.user_attrs.get(record.ONE_SHOT) for t in trials) == 2
    assert result.best is not None and not result.best.user_attrs.get(record.ONE_SHOT)
    assert result.study.user_attrs[record.ONE_SHOT_STAGE]["estimates"] == 30
    with pytest.raises(tuner.TunerError, match="one_shot: cannot estimate latency"):
        tuner.start({**spec, "objectives": ["metric", "latency"]}, name="bad", one_shot=True,
                    storage=f"sqlite:///{workdir}/tuner.db")
    assert "bad" not in optuna.get_all_study_names(f"sqlite:///{workdir}/tuner.db")


def test_a_budget_past_the_retrained_rounds_goes_on_as_an_ordinary_search(workdir: Path) -> None:
    import tuner
    from tuner.search.oneshot import ROUNDS

    spec = {**ONE_SHOT, "training": {"epochs": 2, "batch_size": 64}, "budget": {"trials": ROUNDS * 2 + 2},
            "one_shot": {"estimates": 20, "top": 2, "epochs": 2}}
    study = tuner.start(spec, name="longer", storage=f"sqlite:///{workdir}/tuner.db", refit="no").study
    trained = [t for t in study.get_trials() if not t.user_attrs.get(record.ONE_SHOT)]
    assert len(trained) == ROUNDS * 2 + 2 and all(t.state.is_finished() for t in trained)
    assert [record.ESTIMATE in t.user_attrs for t in trained] == [True] * ROUNDS * 2 + [False] * 2
    assert study.user_attrs[record.ONE_SHOT_STAGE]["queued"] == ROUNDS * 2


@pytest.mark.postgres
def test_one_shot_on_postgres_with_two_workers(cli, write_study, pg_url: str,  # noqa: F811
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    write_study("oneshot", {**ONE_SHOT, "training": {"epochs": 15, "batch_size": 32}, "budget": {"trials": 6}})
    result = cli("start", "oneshot", "--workers", "2", "--storage", pg_url)
    assert result.exit_code == 0, result.output
    trials = trials_of(pg_url, "oneshot")
    trained = [t for t in trials if not t.user_attrs.get(record.ONE_SHOT)]
    assert_finished_exactly(trials, 6)
    assert len(trials) - len(trained) == 40  # one stage, run by the process that started the study
    assert len(trained) == 6 and sum(record.ESTIMATE in t.user_attrs for t in trained) == 4  # 2 widths, 2 rounds
    assert all(t.user_attrs.get(record.WORKER) for t in trained)  # run by the workers (which one: who was free)


def test_the_dashboard_shows_the_estimates_and_the_retrained_trials_apart(cli, write_study, workdir: Path) -> None:
    from tests.test_dashboard import attrs, get
    from tuner.views import dashboard as board
    from tuner.views.artifacts import resolve_dir

    write_study("oneshot", {**ONE_SHOT, "budget": {"trials": 2}, "one_shot": {"estimates": 12, "top": 2,
                                                                              "epochs": 2}})
    assert cli("start", "oneshot", "--refit", "no").exit_code == 0
    url = f"sqlite:///{workdir}/tuner.db"
    server = board.make(url, resolve_dir(None, url), "127.0.0.1", 0)
    board.serve_in_background(server)
    try:
        base = board.address(server).removesuffix("/dashboard")
        (study,) = get(f"{base}/api/studies")["study_summaries"]
        detail = get(f"{base}/api/studies/{study['study_id']}")
    finally:
        server.shutdown()
        server.server_close()
    shown = [attrs(t) for t in detail["trials"]]
    estimates = [a for a in shown if a.get("one_shot") in (True, "True")]
    retrained = [a for a in shown if "one_shot_estimate" in a]
    assert len(estimates) == 12 and len(retrained) == 2 and len(shown) == 14
    assert all("epochs_run" in a for a in retrained) and not any("epochs_run" in a for a in estimates)
    assert "### One-shot stage" in detail["note"]["body"] and "12 width vectors" in detail["note"]["body"]


def test_a_conv2d_stack_study_runs_its_one_shot_stage(cli, write_study, workdir: Path) -> None:
    write_study("oneshot", {**ONE_SHOT, "data": {**ONE_SHOT["data"], "shape": [8, 8, 1]},
                            "space": {**ONE_SHOT["space"], "family": "conv2d", "units": {"low": 4, "high": 32}},
                            "budget": {"trials": 2}, "one_shot": {"estimates": 20, "top": 2, "epochs": 2}})
    result = cli("start", "oneshot", "--refit", "no")
    assert result.exit_code == 0, result.output
    trials = _study(workdir).get_trials()
    estimates = [t for t in trials if t.user_attrs.get(record.ONE_SHOT)]
    retrained = [t for t in trials if record.ESTIMATE in t.user_attrs]
    assert len(estimates) == 20 and len(retrained) == 2
    assert all(t.user_attrs["architecture"][0]["layer"] == "conv2d_0" for t in retrained)
    by_widths = {tuple(t.user_attrs[record.UNITS]): t.user_attrs[record.N_PARAMS] for t in retrained}
    for t in estimates:  # an estimate's size is the size of the Conv2D model of its widths
        if tuple(t.user_attrs[record.UNITS]) in by_widths:
            assert t.user_attrs[record.N_PARAMS] == by_widths[tuple(t.user_attrs[record.UNITS])]


def test_ctrl_c_in_the_stage_stops_it_with_nothing_written(workdir: Path, write_study) -> None:
    import signal
    import subprocess
    import sys
    import time

    from tests.test_cli_process import env

    write_study("oneshot", {**ONE_SHOT, "one_shot": {"estimates": 20, "top": 2, "epochs": 400}})
    proc = subprocess.Popen([sys.executable, "-m", "tuner", "start", "oneshot"], cwd=workdir, env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = ""
    while "training the widest" not in seen:  # rich prints the line once the stage starts
        line = proc.stdout.readline()
        assert line, seen
        seen += line
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in output, seen + output
    study = _study(workdir)
    assert study.get_trials() == [] and record.ONE_SHOT_STAGE not in study.user_attrs


def test_with_max_params_only_estimates_within_it_are_retrained(cli, write_study, workdir: Path) -> None:
    # digits: 64 features, 10 classes; one layer of u units has 75u + 10 parameters, so u <= 26 fits 2,000
    write_study("oneshot", {**ONE_SHOT, "max_params": 2000, "budget": {"trials": 2},
                            "space": {**ONE_SHOT["space"], "layers": 1},
                            "one_shot": {"estimates": 30, "top": 2, "epochs": 2}})
    result = cli("start", "oneshot", "--refit", "no")
    assert result.exit_code == 0, result.output
    trials = _study(workdir).get_trials()
    estimates = [t for t in trials if t.user_attrs.get(record.ONE_SHOT)]
    over = [t for t in estimates if t.user_attrs[record.N_PARAMS] > 2000]
    assert over and all(t.constraints[record.CONSTRAINT] > 0 for t in over)  # recorded, marked infeasible
    retrained = [t for t in trials if record.ESTIMATE in t.user_attrs]
    assert len(retrained) == 2 and all(t.user_attrs[record.N_PARAMS] <= 2000 for t in retrained)
    status = json.loads(cli("status", "oneshot", "--json").output)
    assert status["counts"]["infeasible"] == 0 and status["counts"]["estimates"] == 30  # not "never trained" models


def test_a_width_of_your_model_is_your_model_rebuilt_at_it_with_the_first_channels() -> None:
    """The masked widest model at (20, 30) computes what the re-widened model of those widths computes with the
    first 20 filters and 30 units of the widest weights, Batch Normalization's statistics those of the same
    calibration rows: a residual Add, Batch Normalization, pooling and a flattened head on the way."""
    import keras
    import tensorflow as tf

    from tests.test_user_models import EXAMPLES
    from tuner.training import rewiden, slimkeras

    base = rewiden.serialize(keras.saving.load_model(EXAMPLES / "models" / "digits_base.keras", compile=False))
    found = rewiden.find(base)
    searched = {layer: g.name for g in found.groups for layer in g.layers}
    widest = {"conv_a+conv_b": 48, "head": 40}
    config = rewiden.rewidened(base, {layer: widest[name] for layer, name in searched.items()}, 0.0, 0.0)
    model, masks = slimkeras.masked(config, slimkeras.mask_points(config, searched), widest)
    rng = np.random.default_rng(0)
    x, calibration = (rng.normal(size=(n, 8, 8, 1)).astype(np.float32) for n in (32, 64))
    model(x)
    wide = {layer.name: layer for layer in model.layers}
    for layer in model.layers:  # moving statistics that are not the calibration rows'
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(rng.normal(size=48)), layer.moving_variance.assign(rng.uniform(1, 2, size=48))
    narrow = rewiden.rebuild(base, {"conv_a": 20, "conv_b": 20, "head": 30}, 0.0, 0.0)
    narrow(x)
    for layer in narrow.layers:
        weights = wide[layer.name].get_weights()
        if layer.name == "head":  # its rows: 4x4 pixels, each with the widest's 48 channels
            weights = [weights[0].reshape(16, 48, 40)[:, :20, :30].reshape(320, 30), weights[1][:30]]
        layer.set_weights([w[tuple(slice(0, d) for d in n.shape)] for w, n in zip(weights, layer.get_weights())])
    net = slimkeras.MaskedNet(model, masks, ("conv_a+conv_b", "head"), (48, 40), "classification", "softmax",
                              tf.constant(calibration))
    for layer in narrow.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0
    narrow(calibration, training=True)
    expected = np.log(np.clip(narrow(x, training=False).numpy(), 1e-7, 1.0))
    np.testing.assert_allclose(net.outputs(x, (20, 30)).numpy(), expected, atol=1e-4)
    assert not np.allclose(net.outputs(x, (48, 40)).numpy(), expected, atol=1e-2)


def test_your_rewidened_model_runs_its_one_shot_stage(cli, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stopped once after its estimates are made and before they are written: the run after it restores the
    masked network from the study's artifacts, and the restored weights score every width as the trained ones
    did."""
    from tests.test_user_models import example, stored
    from tuner import interrupt
    from tuner.search import estimators

    example(workdir, "digits_rewiden", {"training": {"epochs": 3}, "budget": {"trials": 3},
                                        "one_shot": {"estimates": 24, "top": 2, "epochs": 2}},
            ("models/digits_base.keras",))
    scored, checks, score = {}, [], estimators.UserModel.score

    def spy(net: estimators.UserModel, widths: tuple[int, ...], metric: str) -> float:
        scored[widths] = score(net, widths, metric)
        return scored[widths]

    def ctrl_c_before_the_writes() -> None:
        checks.append(1)
        if len(checks) == 3:  # one check at each of the 2 epochs' ends, then one before the stage's writes
            raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(estimators.UserModel, "score", spy)
        patch.setattr(interrupt, "check", ctrl_c_before_the_writes)
        stopped = cli("start", "digits_rewiden", "--refit", "no")
    assert stopped.exit_code == 130, stopped.output
    assert "interrupted in the one-shot stage: no estimate is written" in stopped.output
    assert "training your model at its widest (conv_a+conv_b 128, head 256)" in stopped.output
    waiting = stored(workdir, "digits_rewiden").get_trials()  # your model as it is, enqueued with the study
    assert [t.state for t in waiting] == [TrialState.WAITING] and len(scored) >= 20
    result = cli("start", "digits_rewiden", "--refit", "no")
    assert result.exit_code == 0, result.output
    assert "your model at its widest (conv_a+conv_b 128, head 256) restored" in result.output
    assert "training your model" not in result.output
    trials = stored(workdir, "digits_rewiden").get_trials()
    estimates = [t for t in trials if t.user_attrs.get(record.ONE_SHOT)]
    trained = [t for t in trials if not t.user_attrs.get(record.ONE_SHOT)]
    assert len(estimates) == 24 and len(trained) == 3
    assert all(0.05 < t.value <= 1.0 and len(t.user_attrs[record.UNITS]) == 2 for t in estimates)
    assert all(t.value == scored[tuple(t.user_attrs[record.UNITS])] for t in estimates)  # the same sampler seed
    base = trained[0]  # your model as it is: scored on the shared weights too, then trained
    assert base.user_attrs["base_model"] and record.ESTIMATE in base.user_attrs
    assert all(record.ESTIMATE in t.user_attrs for t in trained)
    assert all(t.params["l2"] == 0 and t.params["dropout"] == 0 for t in trained[1:])  # the networks estimated
    sizes = {tuple(t.user_attrs[record.UNITS]): t.user_attrs[record.N_PARAMS] for t in trained}
    for t in estimates:  # an estimate's size is Keras's count for your model rebuilt at its widths
        if tuple(t.user_attrs[record.UNITS]) in sizes:
            assert t.user_attrs[record.N_PARAMS] == sizes[tuple(t.user_attrs[record.UNITS])]
    assert sum(tuple(t.user_attrs[record.UNITS]) in sizes for t in estimates) >= 2
    best = json.loads(cli("best", "digits_rewiden", "--json").output)
    assert best["number"] in {t.number for t in trained}


def test_a_build_function_runs_its_one_shot_stage_from_the_python_api(workdir: Path) -> None:
    import tuner
    from tests.test_user_models import example

    path = example(workdir, "digits_images", {"training": {"epochs": 3}, "budget": {"trials": 2},
                                              "warm_start": False},
                   ("models/cnn.py", "data/digit_images"))
    result = tuner.start(path, storage=f"sqlite:///{workdir}/tuner.db", refit="no",
                         one_shot={"estimates": 16, "top": 2, "epochs": 2})
    trials = result.study.get_trials()
    estimates = [t for t in trials if t.user_attrs.get(record.ONE_SHOT)]
    assert len(estimates) == 16 and len(trials) == 18
    assert {len(t.user_attrs[record.UNITS]) for t in estimates} == {2}  # conv_1 (both convolutions), dense_head
    assert all(t.params["units_dense_head"] in (16, 32, 64, 128) for t in estimates)
    assert result.best is not None and not result.best.user_attrs.get(record.ONE_SHOT)


def test_a_model_that_masks_cannot_narrow_is_refused_before_anything_is_written(cli, workdir: Path) -> None:
    (workdir / "studies" / "normed.py").write_text(
        "import keras\n\n\ndef make():\n    inputs = keras.Input((64,))\n"
        "    x = keras.layers.Dense(32, activation='relu', name='hidden')(inputs)\n"
        "    x = keras.layers.LayerNormalization(name='norm')(x)\n"
        "    return keras.Model(inputs, keras.layers.Dense(10, activation='softmax', name='out')(x))\n")
    (workdir / "studies" / "normed.yaml").write_text(json.dumps(
        {"data": {"bundled": "digits", "seed": 0}, "model": {"function": "normed.py:make"},
         "training": {"epochs": 2}, "budget": {"trials": 2}, "one_shot": True}))
    result = cli("start", "normed")
    assert result.exit_code == 2, result.output
    assert "LayerNormalization 'norm' normalizes across the channels of the searched width 'hidden'" in result.output
    assert "Traceback" not in result.output
    assert not (workdir / "tuner.db").exists() or "normed" not in optuna.get_all_study_names(
        f"sqlite:///{workdir}/tuner.db")


def test_a_stage_stopped_after_a_network_resumes_from_its_kept_weights(workdir: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The 1-layer network is trained and kept as a study artifact; Ctrl-C during the 2-layer network's training
    writes no trial; the run after it restores the 1-layer network instead of training it again, and its
    estimates are those of a stage never stopped."""
    from optuna.artifacts import get_all_artifact_meta

    import tuner
    from tuner import interrupt

    spec = {**ONE_SHOT, "one_shot": {"estimates": 30, "top": 2, "epochs": 2}, "budget": {"trials": 2}}
    storage = f"sqlite:///{workdir}/tuner.db"
    whole = tuner.start(spec, name="whole", storage=storage, refit="no").study
    epochs_ended = []

    def ctrl_c_in_the_second_network() -> None:
        epochs_ended.append(1)
        if len(epochs_ended) == 3:  # the 2-layer network's first epoch: the 1-layer one took 2
            raise KeyboardInterrupt

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(interrupt, "check", ctrl_c_in_the_second_network)
        tuner.start(spec, name="stopped", storage=storage, refit="no")
    stopped = optuna.load_study(study_name="stopped", storage=storage)
    assert stopped.get_trials() == [] and record.ONE_SHOT_STAGE not in stopped.user_attrs
    assert list(stopped.user_attrs[record.ONE_SHOT_WEIGHTS]["nets"]) == ["1-layer"]
    assert [m.filename for m in get_all_artifact_meta(stopped)] == ["stopped-one-shot-1-layer.npz"]

    session, said = tuner.open(spec, name="stopped", storage=storage), []
    session.work(*session.limits(None, None), say=said.append)
    assert any("1-layer network restored from the study's artifacts" in line for line in said), said
    assert not any("training the widest 1-layer" in line for line in said) and \
        any("training the widest 2-layer" in line for line in said), said
    resumed = [t for t in session.study.get_trials() if t.user_attrs.get(record.ONE_SHOT)]
    reference = [t for t in whole.get_trials() if t.user_attrs.get(record.ONE_SHOT)]
    assert [(t.user_attrs[record.UNITS], t.value) for t in resumed] == \
        [(t.user_attrs[record.UNITS], t.value) for t in reference]
    kept = sorted(m.filename for m in get_all_artifact_meta(session.study) if m.filename.endswith(".npz"))
    assert kept == ["stopped-one-shot-1-layer.npz", "stopped-one-shot-2-layer.npz"]  # beside the best model


def test_kept_weights_that_do_not_fit_the_network_are_trained_again() -> None:
    """Weights kept for another network (your model's file changed since, say) are not restored: it trains."""
    from tuner.search import estimators
    from tuner.training import slimmable

    class Kept:
        saved: dict[str, list[np.ndarray]] = {}

        def load(self, name: str) -> list[np.ndarray]:
            return [np.zeros((64, 9)), np.zeros(9)]

        def save(self, name: str, arrays: list[np.ndarray]) -> None:
            self.saved[name] = arrays

    data, said, kept = _digits(), [], Kept()
    net = estimators.trained(kept, "1-layer", 1, said.append, "the widest 1-layer network", lambda n: slimmable.train(
        data, (8,), (4,), lambda rng: (6,), epochs=n, seed=0))
    assert said == ["one-shot: training the widest 1-layer network as a slimmable network (1 epochs)"]
    assert [a.shape for a in kept.saved["1-layer"]] == [(64, 8), (8, 10), (8,), (10,)]
    np.testing.assert_array_equal(kept.saved["1-layer"][0], net.arrays()[0])
