"""`tuner start` end to end on a real SQLite file, then list / status / best read it back."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_start_then_list_status_best(cli, write_study, workdir: Path) -> None:
    write_study("tiny")
    result = cli("start", "tiny")
    assert result.exit_code == 0, result.output
    assert "3 counted toward the budget" in result.output
    assert (workdir / "tuner.db").is_file()

    listed = json.loads(cli("list", "--json").output)
    assert [s["name"] for s in listed] == ["tiny"]
    assert listed[0]["counts"]["complete"] == 3

    status = json.loads(cli("status", "tiny", "--json").output)
    assert status["definition"]["data"]["bundled"] == "iris"
    assert status["data"]["task"] == "classification"

    best = json.loads(cli("best", "tiny", "--json").output)
    arch = best["architecture"]
    n_layers = best["params"].get("n_layers")
    assert len(arch) == n_layers + 1  # hidden layers + output, nothing for layers the trial lacks
    assert best["attrs"]["n_params"] == sum(row["params"] for row in arch)
    assert len(best["attrs"]["units"]) == n_layers
    assert 0 <= best["value"] <= 1

    text = cli("best", "tiny").output
    assert "architecture" in text and "dense_0" in text


def test_budget_is_a_total_and_resume_runs_only_what_is_left(cli, write_study, workdir: Path) -> None:
    write_study("tiny")
    assert cli("start", "tiny", "--trials", "2").exit_code == 0
    result = cli("start", "tiny", "--trials", "3")
    assert result.exit_code == 0, result.output
    with sqlite3.connect(workdir / "tuner.db") as db:
        (n,) = db.execute("select count(*) from trials").fetchone()
    assert n == 3


def test_changed_definition_is_refused(cli, write_study, workdir: Path) -> None:
    write_study("tiny", {"budget": {"trials": 1}})
    assert cli("start", "tiny").exit_code == 0
    write_study("tiny", {"budget": {"trials": 1}, "space": {"units": [8, 16]}})
    result = cli("start", "tiny")
    assert result.exit_code == 2
    assert "different definition" in result.output and "--name" in result.output


def test_grid_study_runs_each_cell_once(cli, write_study, workdir: Path) -> None:
    write_study("grid", {"sampler": "grid", "budget": {"trials": 50}, "training": {"epochs": 1},
                         "space": {"layers": [1, 2], "units": {"choices": [4, 8], "per_layer": False},
                                   "l2": 0, "dropout": 0}})
    result = cli("start", "grid")
    assert result.exit_code == 0, result.output
    best = json.loads(cli("status", "grid", "--json").output)
    assert best["trials"] == 4
    with sqlite3.connect(workdir / "tuner.db") as db:
        cells = db.execute("select group_concat(param_name || '=' || param_value) from trial_params "
                           "group by trial_id").fetchall()
    assert len(set(cells)) == 4


def test_seed_makes_runs_repeatable_and_timeout_stops_early(cli, write_study, workdir: Path) -> None:
    write_study("tiny", {"training": {"epochs": 1}, "budget": {"trials": 2}})
    for name in ("a", "b"):
        assert cli("start", "tiny", "--name", name, "--seed", "5").exit_code == 0
    assert cli("start", "tiny", "--name", "c", "--seed", "6").exit_code == 0
    params = {name: [t["params"] for t in _trials(workdir, name)] for name in "abc"}
    assert params["a"] == params["b"] != params["c"]

    result = cli("start", "tiny", "--name", "d", "--trials", "500", "--timeout", "2")
    assert result.exit_code == 0, result.output
    assert 1 <= len(_trials(workdir, "d")) < 500


def test_validate_reports_the_data_and_writes_nothing(cli, write_study, workdir: Path) -> None:
    write_study("tiny")
    result = cli("validate", "tiny")
    assert result.exit_code == 0
    assert "ok: iris (classification), 90 train / 30 validation / 30 test rows, 4 features" in result.output
    assert not (workdir / "tuner.db").exists()


def _trials(workdir: Path, name: str) -> list[dict]:
    import optuna

    study = optuna.load_study(study_name=name, storage=f"sqlite:///{workdir / 'tuner.db'}")
    return [{"params": t.params, "state": t.state.name} for t in study.trials]
