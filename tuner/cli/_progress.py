"""The live display of a running study: trials done of the budget, states, best so far, elapsed time."""

from __future__ import annotations

import time

import optuna
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tuner.summary import Counts, best_trial


class StudyProgress:
    """A rich progress bar fed after every trial; usable as a context manager."""

    def __init__(self, study: optuna.Study, budget: int | None, console) -> None:
        self.study, self.budget = study, budget
        self.started = time.monotonic()
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[states]}"), TextColumn("best {task.fields[best]}"),
                                 TimeElapsedColumn(), console=console, transient=False)
        self.task = self.progress.add_task(study.study_name, total=budget, states="", best="-")

    def __enter__(self) -> StudyProgress:
        self.progress.start()
        self.update(self.study)
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, study: optuna.Study) -> None:
        trials = study.get_trials(deepcopy=False)
        counts = Counts.of(trials)
        best = best_trial(study, trials)
        self.progress.update(self.task, completed=counts.used,
                             states=f"{counts.complete} complete, {counts.pruned} pruned, {counts.failed} failed",
                             best=f"{best.values[0]:.4f}" if best else "-")
