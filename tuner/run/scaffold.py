"""A study file written for a CSV: its columns read, the numeric ones taken as features, the task inferred from the
target, and a search space sized to the data (`tuner init`)."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tuner.errors import DataError, SpecError


@dataclass(frozen=True)
class Scaffold:
    """What `tuner init` chose, and the study file's text."""

    path: Path
    task: str
    target: str
    features: list[str]
    dropped: list[str]  # columns that are not numbers
    rows: int
    classes: int | None
    max_units: int
    text: str


def scaffold(name: str, csv_file: str | Path, target: str, folder: Path = Path("studies")) -> Scaffold:
    """The study file `folder/NAME.yaml` for `csv_file`, not yet written."""
    from tuner.data.prepare import MAX_CLASSES, infer_task

    source = Path(csv_file).expanduser()
    header, rows = _read(source)
    if target not in header:
        raise DataError(f"tuner init: column {target!r} is not in {source.name} (columns: {', '.join(header)}); "
                        f"give the column to predict with --target")
    columns = {h: [row[i] if i < len(row) else "" for row in rows] for i, h in enumerate(header)}
    numeric = {h: _numbers(values) for h, values in columns.items()}
    features = [h for h in header if h != target and numeric[h] is not None]
    dropped = [h for h in header if h != target and numeric[h] is None]
    if not features:
        raise DataError(f"tuner init: {source.name} has no numeric column besides {target!r}; features must be "
                        f"numbers")
    y = numeric[target] if numeric[target] is not None else np.array(columns[target])
    task = infer_task(y)
    classes = len(set(columns[target])) if task == "classification" else None
    if classes is not None and classes > MAX_CLASSES:
        task, classes = "regression", None
    outputs = classes or 1
    max_units = int(min(512, max(64, 2 ** int(np.ceil(np.log2(4 * (len(features) + outputs)))))))
    path = folder / f"{name}.yaml"
    data_path = os.path.relpath(source.resolve(), folder.resolve()) if source.exists() else str(source)
    text = _study_text(name, source.name, data_path, target, features, dropped, task, classes, len(rows), max_units)
    return Scaffold(path, task, target, features, dropped, len(rows), classes, max_units, text)


def write(made: Scaffold, force: bool = False) -> Path:
    if made.path.exists() and not force:
        raise SpecError(f"{made.path} exists; pick another name, or pass --force to replace it")
    made.path.parent.mkdir(parents=True, exist_ok=True)
    made.path.write_text(made.text)
    return made.path


def _read(source: Path) -> tuple[list[str], list[list[str]]]:
    if not source.is_file():
        raise DataError(f"tuner init: {source} not found; give the CSV file's path with --csv")
    try:
        with source.open(newline="") as handle:
            header, *rows = list(csv.reader(handle))
    except (UnicodeDecodeError, csv.Error, ValueError) as exc:
        raise DataError(f"tuner init: {source.name} cannot be read as CSV ({str(exc)[:120]})") from None
    rows = [row for row in rows if row]
    if not header or not rows:
        raise DataError(f"tuner init: {source.name} needs a header row and data rows")
    return [h.strip() for h in header], rows


def _numbers(values: list[str]) -> np.ndarray | None:
    try:
        return np.array([float(v) for v in values])
    except ValueError:
        return None


def _study_text(name: str, file: str, data_path: str, target: str, features: list[str], dropped: list[str],
                task: str, classes: int | None, rows: int, max_units: int) -> str:
    what = f"{classes} classes" if classes else "a number"
    metric = "val_accuracy" if task == "classification" else "val_mae"
    features_line = "" if not dropped else (
        f"  features: {json.dumps(features)}  # not numbers, left out: {', '.join(dropped)}\n")
    return f"""# Written by `tuner init {name}` for {file}: {rows} rows, predicting {target} ({what}) from
# {len(features)} numeric columns. Edit anything; `tuner validate studies/{name}.yaml` checks it.
description: {json.dumps(f"Dense widths, L2 and dropout for {target} in {file}")}
data:
  csv: {json.dumps(data_path)}
  target: {json.dumps(target)}
{features_line}  test_split: 0.2              # set aside first: never trained, pruned or chosen on
  validation_split: 0.25        # of the rest: what each trial is judged on
  seed: 0
  scale: standard
task: {task}
space:
  layers: {{low: 1, high: 3}}
  units: {{low: 8, high: {max_units}, log: true}}       # per layer
  l2: [0, 1.0e-6, 1.0e-5, 1.0e-4, 1.0e-3, 1.0e-2]  # shared; 0 = no L2
  dropout: {{low: 0.0, high: 0.5, step: 0.05}}    # per layer; 0 = no dropout
training:
  epochs: 30
  batch_size: 32
  metric: {metric}
sampler: {{name: tpe, seed: 0}}
pruner: {{name: hyperband, min_resource: 3, reduction_factor: 3}}
budget:
  trials: 40
"""
