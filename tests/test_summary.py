"""Counting a study's trials (tuner.views.summary): finished trials are classified once and remembered, running ones are
looked at again every time (no TensorFlow)."""

from __future__ import annotations

import gc

import optuna
from optuna.trial import TrialState

from tuner.views import summary
from tuner.run.budget import BudgetTally, Look, trials_from
from tuner.views.summary import Counts, used

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_counts_follow_running_trials_and_remember_finished_ones() -> None:
    study = optuna.create_study()
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    running = study.ask()
    trials = study.get_trials(deepcopy=False)
    assert used(trials) == 4 and Counts.of(trials).complete == 3 and Counts.of(trials).running == 1
    assert all(id(t) in summary._finished for t in trials if t.state == TrialState.COMPLETE)
    assert id(trials[-1]) not in summary._finished  # still running: it may change
    study.tell(running, state=TrialState.FAIL)  # interrupted-like: no fail_reason, so it stops counting
    trials = study.get_trials(deepcopy=False)
    assert used(trials) == 3 and Counts.of(trials).failed == 1


def test_forgotten_trials_leave_the_memo() -> None:
    trial = optuna.trial.create_trial(value=1.0, params={}, distributions={})
    assert used([trial]) == 1
    key = id(trial)
    assert key in summary._finished
    del trial
    gc.collect()
    assert key not in summary._finished


def test_the_progress_display_counts_at_most_every_interval_and_always_at_the_end() -> None:
    import io

    from rich.console import Console

    from tuner.cli._progress import StudyProgress

    study = optuna.create_study()
    with StudyProgress(study, 5, Console(file=io.StringIO())) as progress:
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
        progress.update(study)  # right after the first count: skipped
        assert progress.progress.tasks[0].completed == 0
        progress.shown -= StudyProgress.EVERY
        progress.update(study)
        assert progress.progress.tasks[0].completed == 2
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert progress.progress.tasks[0].completed == 3


def test_the_budget_tally_counts_like_used_and_looks_again_only_after_the_finished_trials() -> None:
    study = optuna.create_study()
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    running = study.ask()
    study.enqueue_trial({"x": 0.5})
    asked: list[int] = []

    def tail(number: int) -> list[optuna.trial.FrozenTrial]:
        asked.append(number)
        return trials_from(study, number)

    tally = BudgetTally()
    assert tally.look(tail) == Look(used=used(study.get_trials(deepcopy=False)), waiting=True, running=True) \
        == Look(used=5, waiting=True, running=True)
    study.tell(running, state=TrialState.FAIL)  # interrupted-like: it no longer counts
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)  # runs the queued trial
    assert tally.look(tail) == Look(used=4, waiting=False, running=False) == \
        Look(used(study.get_trials(deepcopy=False)), False, False)
    assert asked == [0, 3]  # the second look started after the three trials finished before the first
    assert tally.look(tail).used == 4 and asked[-1] == 5
