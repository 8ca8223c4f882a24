"""Accuracy against size: two objectives, a Pareto front from `tuner best`, and tuner's own pruning rule."""

from __future__ import annotations

import json

import optuna
import pytest
from optuna.distributions import IntDistribution

from tuner.record import Metric
from tuner.record import CURVE as CURVE_ATTR
from tuner.search.pruning import should_prune
from tuner.store import open_storage

ACC = Metric("val_accuracy", "maximize")


def _done(curve: list[float], n_params: int) -> optuna.trial.FrozenTrial:
    return optuna.trial.create_trial(values=[curve[-1], n_params], params={"u": 1},
                                     distributions={"u": IntDistribution(1, 2)},
                                     user_attrs={CURVE_ATTR: curve, "n_params": n_params})


def test_rule_prunes_only_against_models_no_larger() -> None:
    small_and_good = [_done([0.8, 0.9, 0.95], 100) for _ in range(3)]
    big_and_good = [_done([0.8, 0.9, 0.95], 10_000) for _ in range(3)]
    # worse than smaller models at epoch 2: pruned
    assert should_prune(0.5, 2, 1_000, small_and_good, ACC, (3, 1))
    # only larger models did better: a small model is kept (it may sit on the Pareto front)
    assert not should_prune(0.5, 2, 1_000, big_and_good, ACC, (3, 1))
    # better than the median: kept
    assert not should_prune(0.97, 2, 1_000, small_and_good, ACC, (3, 1))


def test_rule_waits_for_warmup_and_startup_trials() -> None:
    peers = [_done([0.8, 0.9, 0.95], 100) for _ in range(3)]
    assert not should_prune(0.1, 0, 1_000, peers, ACC, (3, 1))  # epoch 0 is inside the warm-up
    assert not should_prune(0.1, 2, 1_000, peers[:2], ACC, (3, 1))  # 2 peers < 3 startup trials
    assert not should_prune(0.1, 5, 1_000, peers, ACC, (1, 0))  # no peer reached epoch 5
    assert should_prune(1.0, 1, 1_000, peers, Metric("val_loss", "minimize"), (1, 0))


@pytest.mark.slow
def test_two_objective_study_lists_its_pareto_front(cli, write_study) -> None:
    write_study("tiny", {"objectives": ["metric", "n_params"], "budget": {"trials": 4},
                         "training": {"epochs": 2}, "pruner": {"name": "median", "n_startup_trials": 1,
                                                               "n_warmup_steps": 0}})
    result = cli("start", "tiny")
    assert result.exit_code == 0, result.output
    assert "Pareto front" in result.output
    front = json.loads(cli("best", "tiny", "--json").output)["pareto_front"]
    assert front
    for view in front:
        assert len(view["values"]) == 2 and view["values"][1] == view["attrs"]["n_params"]
    # no trial on the front is dominated by another one on it
    for a in front:
        assert not any(b["values"][0] >= a["values"][0] and b["values"][1] <= a["values"][1] and
                       b["values"] != a["values"] for b in front)
    listed = json.loads(cli("list", "--json").output)[0]
    assert listed["direction"] == "maximize/minimize"
    assert listed["best_value"] == max(v["values"][0] for v in front)
    status = json.loads(cli("status", "tiny", "--json").output)
    assert status["counts"]["complete"] + status["counts"]["pruned"] == 4
    # the dashboard sees both objectives (its Pareto-front view is driven by them)
    from optuna_dashboard import wsgi

    from tests.test_constraints import _get

    app = wsgi(open_storage(heartbeat=False))
    study_id = json.loads(_get(app, "/api/studies"))["study_summaries"][0]["study_id"]
    detail = json.loads(_get(app, f"/api/studies/{study_id}"))
    assert detail["directions"] == ["maximize", "minimize"]
    # every trained trial kept its per-epoch curve, which the rule compares against, and reported it the way the
    # dashboard draws learning curves
    study = optuna.load_study(study_name="tiny", storage=open_storage(heartbeat=False))
    for t, shown in zip(study.trials, detail["trials"], strict=True):
        assert len(t.user_attrs[CURVE_ATTR]) == t.user_attrs["epochs_run"] > 0
        assert [v["value"] for v in shown["intermediate_values"]] == pytest.approx(t.user_attrs[CURVE_ATTR])


@pytest.mark.slow
def test_latency_objective_is_measured_per_sample(cli, write_study) -> None:
    write_study("tiny", {"objectives": ["metric", "n_params", "latency"], "budget": {"trials": 2},
                         "training": {"epochs": 1}, "pruner": {"name": "none"}})
    assert cli("start", "tiny").exit_code == 0
    front = json.loads(cli("best", "tiny", "--json").output)["pareto_front"]
    assert front
    for view in front:
        assert view["values"][1] == view["attrs"]["n_params"]
        assert view["values"][2] == view["attrs"]["latency_us"] > 0
    assert "µs/sample" in cli("best", "tiny").output
