"""A study's trials in outline (tuner.store.outline) on real SQLite, PostgreSQL and MariaDB: counted and ranked exactly as
the whole trials Optuna reads, without their parameters or reported values (no TensorFlow)."""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tests.test_postgres import mysql_url, pg_url, url  # noqa: F401 - fixtures
from tuner import record
from tuner.store import outline
from tuner.record import INTERRUPTED
from tuner.store import open_storage
from tuner.views.summary import Counts, best_trial, best_trial_whole, study_view

pytestmark = pytest.mark.zones  # run again west and east of UTC (make test)

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)


def fill(study: optuna.Study) -> None:
    """Every kind of trial the counts tell apart."""
    for x in (0.3, 0.9, 0.6):
        trial = study.ask()
        trial.suggest_float("x", 0, 1)
        for step in range(3):
            trial.report(x / (3 - step), step)
        trial.set_user_attr("units", [int(x * 100)])
        study.tell(trial, x)
    for state, reason in ((TrialState.PRUNED, None), (TrialState.FAIL, "loss is NaN at epoch 2"),
                          (TrialState.FAIL, INTERRUPTED), (TrialState.FAIL, None)):
        trial = study.ask()
        if reason:
            trial.set_user_attr("fail_reason", reason)
        study.tell(trial, state=state)
    over = study.ask()  # over max_params: pruned, never trained, not counted
    over.set_constraint(record.CONSTRAINT, 120.0)
    over.storage.set_trial_system_attr(over._trial_id, record.LEGACY_CONSTRAINTS, [120.0])
    over.set_user_attr("fail_reason", f"{record.INFEASIBLE}: 220 parameters > max_params 100")
    study.tell(over, state=TrialState.PRUNED)
    study.enqueue_trial({"x": 0.5}, user_attrs={"warm_start": "other-study"})  # waiting, not counted
    study.enqueue_trial({"x": 0.4})  # waiting, counted
    study.ask()  # running


def test_the_outline_counts_and_ranks_like_the_whole_trials(url: str) -> None:
    study = optuna.create_study(study_name="s", storage=open_storage(url, heartbeat=False), direction="maximize")
    fill(study)
    reread = optuna.load_study(study_name="s", storage=open_storage(url, heartbeat=False))
    outlined, whole = outline.trials(reread), reread.get_trials(deepcopy=False)

    assert [(t.number, t.state, t.values) for t in outlined] == [(t.number, t.state, t.values) for t in whole]
    assert Counts.of(outlined) == Counts.of(whole)
    assert Counts.of(outlined) == Counts(complete=3, pruned=2, failed=3, running=1, used=7, infeasible=1)
    assert best_trial(reread, outlined).number == best_trial(reread, whole).number == 1
    assert study_view(reread) == study_view(reread, whole)
    # the outline leaves out what the counts never look at
    assert all(not t.params and not t.intermediate_values and "units" not in t.user_attrs for t in outlined)
    assert outline.whole(reread, outlined[:3]) == whole[:3]
    assert best_trial_whole(reread) == whole[1]


def test_infinite_and_multi_objective_values_keep_their_order(url: str) -> None:
    study = optuna.create_study(study_name="m", storage=open_storage(url, heartbeat=False),
                                directions=["maximize", "minimize"])
    study.add_trial(optuna.trial.create_trial(values=[0.8, 3.0e5]))
    study.add_trial(optuna.trial.create_trial(values=[float("-inf"), float("inf")]))
    reread = optuna.load_study(study_name="m", storage=open_storage(url, heartbeat=False))
    assert [t.values for t in outline.trials(reread)] == [[0.8, 3.0e5], [float("-inf"), float("inf")]]


def test_list_status_and_best_show_the_counts_of_the_outline(workdir: Path, cli) -> None:
    url = f"sqlite:///{workdir / 'tuner.db'}"
    study = optuna.create_study(study_name="big", storage=open_storage(url, heartbeat=False), direction="maximize")
    fill(study)
    listed = cli("list", "--json", "--storage", url)
    assert listed.exit_code == 0, listed.output
    assert '"complete": 3' in listed.output and '"infeasible": 1' in listed.output and '"best_trial": 1' in \
        listed.output
    best = cli("best", "big", "--json", "--storage", url)
    assert best.exit_code == 0, best.output
    assert '"number": 1' in best.output and '"units": [\n      90\n    ]' in best.output
