"""`tuner export`: the best trial retrained from its seed reproduces its score; the trial table as CSV.

Tolerance: the retrained metric must equal the recorded one to within one validation sample (1 / n for
accuracy), which allows for a single flipped prediction; on this CPU it matches exactly.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_export_best_reproduces_its_score(cli, write_study, workdir: Path) -> None:
    write_study("tiny", {"training": {"epochs": 3}, "budget": {"trials": 2}})
    assert cli("start", "tiny").exit_code == 0
    best = json.loads(cli("best", "tiny", "--json").output)
    result = cli("export", "tiny", "--out", "out", "--trials", "trials.csv", "--refit", "no")
    assert result.exit_code == 0, result.output

    record = json.loads((workdir / "out" / "hyperparams.json").read_text())
    assert record["trial"] == best["number"] and record["seed"] == best["attrs"]["seed"]
    assert record["recorded"] == pytest.approx(best["value"])
    assert record["reproduced"] == pytest.approx(record["recorded"], abs=1e-6)  # same seed, same weights
    assert record["n_params"] == best["attrs"]["n_params"]

    import keras

    from tuner.data import load_data
    from tuner.spec import DataSpec

    from tuner.training.raw_inputs import raw_rows

    model = keras.models.load_model(workdir / "out" / "model.keras")
    data = load_data(DataSpec(bundled="iris", seed=0))
    predicted = np.argmax(model.predict(raw_rows(data.x_val, data), verbose=0), axis=1)  # raw rows in
    accuracy = float(np.mean(predicted == data.y_val))
    assert accuracy == pytest.approx(record["reproduced"], abs=1e-6)  # the saved file is the retrained model
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == record["n_params"]
    assert json.loads((workdir / "out" / "classes.json").read_text()) == list(data.classes)
    assert record["test"] is not None and record["test_metric"] == "test_accuracy"

    card = (workdir / "out" / "MODEL_CARD.md").read_text()
    assert "iris" in card and "val_accuracy" in card and f"{record['n_params']} parameters" in card
    with open(workdir / "trials.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["number"]) for r in rows] == [0, 1]
    assert "value_val_accuracy" in rows[0] and "seed" in rows[0]


def test_export_of_any_trial_retrains_it_with_its_own_seed(cli, write_study, workdir: Path) -> None:
    # a regression metric: any change in shuffling or initial weights shows in its digits
    write_study("tiny", {"data": {"bundled": "diabetes"}, "training": {"epochs": 3}, "budget": {"trials": 2}})
    assert cli("start", "tiny").exit_code == 0
    result = cli("export", "tiny", "--out", "second", "--trial", "1", "--refit", "no")
    assert result.exit_code == 0, result.output
    record = json.loads((workdir / "second" / "hyperparams.json").read_text())
    assert record["trial"] == 1 and record["seed"] == 1
    assert record["reproduced"] == pytest.approx(record["recorded"], abs=1e-6)


def test_export_refuses_what_it_cannot_do(cli, write_study) -> None:
    write_study("tiny", {"training": {"epochs": 1}, "budget": {"trials": 1}})
    assert cli("start", "tiny").exit_code == 0
    result = cli("export", "tiny")
    assert result.exit_code == 2 and "--out" in result.output
    result = cli("export", "tiny", "--out", "x", "--trial", "7")
    assert result.exit_code == 2 and "no trial 7" in result.output
    result = cli("export", "nope", "--trials", "t.csv")
    assert result.exit_code == 2 and "not found" in result.output
