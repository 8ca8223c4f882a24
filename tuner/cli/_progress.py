"""The live display of a running study: trials done of the budget, states, best so far, elapsed time."""

from __future__ import annotations

import time

import optuna
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tuner.views.summary import Counts, best_trial


class StudyProgress:
    """A rich progress bar fed after every trial; usable as a context manager.

    It counts every trial of the study, so it does so at most every EVERY seconds (and once more at the end):
    short trials on a large study would otherwise spend milliseconds a trial on the display.
    """

    EVERY = 0.5

    def __init__(self, study: optuna.Study, budget: int | None, console) -> None:
        self.study, self.budget = study, budget
        self.started = time.monotonic()
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[states]}"), TextColumn("best {task.fields[best]}"),
                                 TimeElapsedColumn(), console=console, transient=False)
        self.task = self.progress.add_task(study.study_name, total=budget, states="", best="-")
        self.shown = -float("inf")

    def __enter__(self) -> StudyProgress:
        self.progress.start()
        self.update(self.study)
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            if exc_type is None:
                self.update(self.study, force=True)
        finally:
            self.progress.stop()

    def update(self, study: optuna.Study, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.shown < self.EVERY:
            return
        self.shown = now
        trials = study.get_trials(deepcopy=False)
        counts = Counts.of(trials)
        best = best_trial(study, trials)
        self.progress.update(self.task, completed=counts.used,
                             states=f"{counts.complete} complete, {counts.pruned} pruned, {counts.failed} failed",
                             best=f"{best.values[0]:.4f}" if best else "-")
