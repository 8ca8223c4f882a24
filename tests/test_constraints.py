"""max_params: over-budget models are recorded as infeasible at once, never trained, and shown by the dashboard."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tuner.store import open_storage

pytestmark = pytest.mark.slow

# iris: 4 features, 3 classes; one Dense layer of u units has 8u + 3 parameters, so u <= 37 fits 300.
BUDGETED = {"space": {"layers": 1, "units": {"low": 4, "high": 256, "log": True}},
            "max_params": 300, "training": {"epochs": 2}, "budget": {"trials": 3},
            "warm_start": {"trials": [{"units": 200}, {"units": 30}]}}


def _trials(workdir: Path, name: str = "tiny") -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=open_storage(f"sqlite:///{workdir}/tuner.db",
                                                                   heartbeat=False)).trials


def test_over_budget_models_are_never_trained(cli, write_study, workdir: Path) -> None:
    write_study("tiny", BUDGETED)
    result = cli("start", "tiny")
    assert result.exit_code == 0, result.output
    trials = _trials(workdir)
    infeasible = [t for t in trials if t.user_attrs["n_params"] > 300]
    feasible = [t for t in trials if t.user_attrs["n_params"] <= 300]
    assert trials[1].params["units_0"] == 200 and trials[1] in infeasible  # the listed over-budget start
    for t in infeasible:
        assert t.state == TrialState.PRUNED
        assert t.user_attrs["fail_reason"].startswith("infeasible")
        assert t.user_attrs["epochs_run"] == 0 and "train_seconds" not in t.user_attrs
        assert t.constraints["max_params"] == t.user_attrs["n_params"] - 300
        assert t.system_attrs["constraints"] == [t.user_attrs["n_params"] - 300]  # what the dashboard reads
    assert all(t.constraints["max_params"] <= 0 for t in feasible)
    # the budget counts trained models: 3 complete, the infeasible ones on top
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 3
    status = json.loads(cli("status", "tiny", "--json").output)
    assert status["counts"]["used"] == 3 and status["counts"]["infeasible"] == len(infeasible)


def test_dashboard_api_shows_feasibility(cli, write_study, workdir: Path) -> None:
    from optuna_dashboard import wsgi

    write_study("tiny", {**BUDGETED, "budget": {"trials": 2}})
    assert cli("start", "tiny").exit_code == 0
    app = wsgi(open_storage(f"sqlite:///{workdir}/tuner.db", heartbeat=False))
    summaries = json.loads(_get(app, "/api/studies"))["study_summaries"]
    detail = json.loads(_get(app, f"/api/studies/{summaries[0]['study_id']}"))
    by_number = {t["number"]: t for t in detail["trials"]}
    assert by_number[1]["constraints"] == [200 * 8 + 3 - 300]  # units 200: infeasible, shown as > 0
    assert by_number[0]["constraints"] and by_number[0]["constraints"][0] <= 0  # the rule-of-thumb start fits


def test_unreachable_budget_is_refused_before_anything_is_written(cli, write_study, workdir: Path) -> None:
    write_study("tiny", {**BUDGETED, "max_params": 20})
    result = cli("start", "tiny")
    assert result.exit_code == 2
    assert "max_params: 20 is below the smallest model" in result.output
    if (workdir / "tuner.db").exists():
        with sqlite3.connect(workdir / "tuner.db") as db:
            assert db.execute("select count(*) from studies").fetchone() == (0,)


def _get(app, path: str) -> str:
    from wsgiref.util import setup_testing_defaults

    environ: dict = {"PATH_INFO": path, "REQUEST_METHOD": "GET", "wsgi.input": io.BytesIO()}
    setup_testing_defaults(environ)
    status: list[str] = []
    body = b"".join(app(environ, lambda s, h, *a: status.append(s)))
    assert status[0].startswith("200"), status
    return body.decode()
