"""An exported model takes the raw rows of the CSV it was tuned on and answers in the CSV's terms: its text labels
(classes.json) or the target's own units. Checked in a fresh Python process that imports only Keras and NumPy.

Tolerance: on the validation rows the exported model reproduces the study's recorded metric to within one
validation row for accuracy (1 / n), and to 0.1% of the target's spread for MAE: the retrain from the trial's seed
is exact on this CPU; the margin allows for float32 rounding of the scaling moved into the model.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]

PREDICT = """
import csv, json, sys
import keras, numpy as np
model = keras.models.load_model(sys.argv[1] + "/model.keras")
with open(sys.argv[2]) as handle:
    rows = list(csv.reader(handle))
x = np.array([[float(v) for v in row[:-1]] for row in rows[1:]])
out = model.predict(x, verbose=0)
if sys.argv[3] == "classification":
    classes = json.load(open(sys.argv[1] + "/classes.json"))
    print(json.dumps([classes[i] for i in np.argmax(out, axis=1)]))
else:
    print(json.dumps([float(v) for v in out[:, 0]]))
"""


def validation_rows(rows: list[list[str]], labels: list[str] | None, test_split: float, validation_split: float,
                    seed: int) -> list[int]:
    """Which CSV rows the study validated on: the same two stratified splits the data layer makes."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(rows))
    rest, _ = train_test_split(index, test_size=test_split, random_state=seed, stratify=labels)
    rest_labels = None if labels is None else [labels[i] for i in rest]
    _, val = train_test_split(rest, test_size=validation_split, random_state=seed, stratify=rest_labels)
    return list(val)


def export_and_predict(cli, workdir: Path, name: str, csv_path: Path, target: str, task: str,
                       extra: dict | None = None) -> tuple[dict, list, list[list[str]], list[str]]:
    import yaml

    study = {"data": {"csv": str(csv_path), "target": target, "seed": 3}, "task": task,
             "space": {"layers": 1, "units": [16, 32]}, "training": {"epochs": 25, "batch_size": 16},
             "sampler": {"name": "random", "seed": 0}, "pruner": "none", "budget": {"trials": 2}, **(extra or {})}
    (workdir / "studies" / f"{name}.yaml").write_text(yaml.safe_dump(study))
    assert cli("start", name).exit_code == 0
    result = cli("export", name, "--out", name, "--refit", "no")
    assert result.exit_code == 0, result.output
    card = json.loads((workdir / name / "hyperparams.json").read_text())

    with open(csv_path) as handle:
        header, *rows = list(csv.reader(handle))
    column = header.index(target)
    labels = [row[column] for row in rows] if task == "classification" else None
    picked = [rows[i] for i in validation_rows(rows, labels, 0.2, 0.25, 3)]
    features = [c for c in header if c != target]
    raw = workdir / f"{name}-validation.csv"
    with open(raw, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(features + [target])
        writer.writerows([[row[header.index(c)] for c in features] + [row[column]] for row in picked])
    proc = subprocess.run([sys.executable, "-c", PREDICT, str(workdir / name), str(raw), task],
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return card, json.loads(proc.stdout.splitlines()[-1]), picked, [row[column] for row in picked]


def test_a_text_label_csv_model_takes_raw_rows_and_names_its_classes(cli, workdir: Path) -> None:
    csv_path = ROOT / "studies" / "data" / "tumours.csv"
    card, predicted, picked, truth = export_and_predict(cli, workdir, "labels", csv_path, "diagnosis",
                                                        "classification")
    assert set(predicted) <= set(truth) | set(card["classes"]) and set(card["classes"]) == set(truth)
    accuracy = float(np.mean([p == t for p, t in zip(predicted, truth, strict=True)]))
    assert accuracy == pytest.approx(card["reproduced"], abs=1e-6)
    assert accuracy == pytest.approx(card["recorded"], abs=1 / len(picked) + 1e-9)
    card_text = (workdir / "labels" / "MODEL_CARD.md").read_text()
    assert "classes.json" in card_text and "`mean_radius`" in card_text and "keras.models.load_model" in card_text


def test_a_regression_csv_model_predicts_in_the_targets_units(cli, workdir: Path) -> None:
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(scaled=False)  # the target in points of disease progression
    csv_path = workdir / "progression.csv"
    with open(csv_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(bunch.feature_names) + ["progression"])
        writer.writerows([[*map(float, x), float(y)] for x, y in zip(bunch.data, bunch.target, strict=True)])
    card, predicted, picked, truth = export_and_predict(cli, workdir, "points", csv_path, "progression",
                                                        "regression")
    mae = float(np.mean(np.abs(np.array(predicted) - np.array(truth, dtype=float))))
    spread = float(np.std(bunch.target))
    assert card["units"] == "units of progression" and mae > 10  # points, not standard deviations
    assert mae == pytest.approx(card["reproduced"], abs=1e-3 * spread)
    assert mae == pytest.approx(card["recorded"], abs=1e-3 * spread)
    assert 25 <= float(np.mean(predicted)) <= 350  # predictions on the target's scale
    best = cli("best", "points")
    assert "in units of progression" in best.output and "test_mae" in best.output
