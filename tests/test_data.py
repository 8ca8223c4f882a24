"""Data loading: bundled sets, CSV (text labels), NPZ, task inference, scaling fitted on training rows only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tuner.data import load_data
from tuner.errors import DataError
from tuner.spec import DataSpec


@pytest.mark.parametrize("name, task, outputs", [
    ("digits", "classification", 10), ("iris", "classification", 3), ("wine", "classification", 3),
    ("breast_cancer", "classification", 2), ("diabetes", "regression", 1)])
def test_bundled_sets_infer_their_task(name: str, task: str, outputs: int) -> None:
    data = load_data(DataSpec(bundled=name))
    assert data.task == task and data.n_outputs == outputs
    assert len(data.x_train) + len(data.x_val) == len(data.y_train) + len(data.y_val)
    assert len(data.x_train) + len(data.x_val) + len(data.x_test) == len(load_data(DataSpec(bundled=name,
                                                                                           test_split=0)).x_train) + \
        len(load_data(DataSpec(bundled=name, test_split=0)).x_val)
    assert data.x_train.dtype == np.float32


def test_data_is_loaded_once_per_process() -> None:
    assert load_data(DataSpec(bundled="iris")) is load_data(DataSpec(bundled="iris"))
    assert load_data(DataSpec(bundled="iris")) is not load_data(DataSpec(bundled="iris", seed=1))


def test_standard_scaling_uses_training_rows_only() -> None:
    data = load_data(DataSpec(bundled="wine", scale="standard"))
    assert np.allclose(data.x_train.mean(axis=0), 0, atol=1e-5)
    assert not np.allclose(data.x_val.mean(axis=0), 0, atol=1e-3)


def test_csv_with_text_labels(tmp_path: Path) -> None:
    rows = ["a,b,colour"] + [f"{i},{i % 7},{'red' if i % 2 else 'blue'}" for i in range(40)]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    data = load_data(DataSpec(csv="d.csv", target="colour", features=["a"]), base_dir=tmp_path)
    assert data.task == "classification" and data.classes == ("blue", "red")
    assert data.n_features == 1 and data.feature_names == ("a",)
    assert len(data.x_test) == 8 and len(data.x_val) == 8 and len(data.x_train) == 24  # test rows set aside first


def test_csv_with_a_numeric_target_is_regression(tmp_path: Path) -> None:
    rows = ["x,y"] + [f"{i},{i * 0.37:.3f}" for i in range(60)]
    (tmp_path / "r.csv").write_text("\n".join(rows) + "\n")
    assert load_data(DataSpec(csv="r.csv", target="y"), base_dir=tmp_path).task == "regression"


def test_npz(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", features=rng.normal(size=(50, 2, 3)), labels=rng.integers(0, 2, 50))
    data = load_data(DataSpec(npz="d.npz", x_key="features", y_key="labels"), base_dir=tmp_path)
    assert data.n_features == 6 and data.task == "classification"
    with pytest.raises(DataError, match="no array 'x'"):
        load_data(DataSpec(npz="d.npz"), base_dir=tmp_path)


def test_missing_values_are_refused(tmp_path: Path) -> None:
    (tmp_path / "n.csv").write_text("a,y\n1,0\nnan,1\n2,0\n3,1\n")
    with pytest.raises(DataError, match="missing or infinite"):
        load_data(DataSpec(csv="n.csv", target="y"), base_dir=tmp_path)


def test_a_study_stored_before_test_splits_keeps_every_row_for_training(write_study, workdir: Path) -> None:
    from tuner import record
    from tuner.run.session import join_session, open_session

    write_study("tiny")
    url = f"sqlite:///{workdir / 'old.db'}"
    study = open_session("tiny", storage=url).study
    assert load_data(DataSpec(bundled="iris")).n_test == 30
    stored = study.user_attrs[record.SPEC]
    del stored["data"]["test_split"]  # as studies were stored before the setting existed
    study.set_user_attr(record.SPEC, stored)
    joined = join_session("tiny", storage=url)
    assert joined.data.n_test == 0 and len(joined.data.x_train) + len(joined.data.x_val) == 150
