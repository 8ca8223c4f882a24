"""`tuner list`, `status` and `best`: read the store, print tables (or JSON). Never imports TensorFlow."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from tuner import record
from tuner.cli._common import JsonOption, StorageOption, console, quiet_libraries, user_errors
from tuner.views.format import fmt

NameArg = Annotated[str, typer.Argument(help="Study name in the store.")]


def register(app: typer.Typer) -> None:
    app.command("list")(list_studies)
    app.command()(status)
    app.command()(best)


def _open(storage: str | None, name: str | None = None):
    """The store (or one study in it) for reading; a missing SQLite file is an error, not a new store."""
    quiet_libraries()
    from pathlib import Path

    from sqlalchemy.engine import make_url

    from tuner.store import studies
    from tuner.errors import StorageError
    from tuner.store import default_url, open_storage

    url = storage or default_url()
    if url.startswith("sqlite") and "://" in url:
        database = make_url(url).database
        if database and database != ":memory:" and not Path(database).is_file():
            raise StorageError(f"storage {url}: no such file ({Path(database).resolve()}); run `tuner start STUDY` "
                               f"here first, or pass --storage / TUNER_STORAGE")
    store = open_storage(url, heartbeat=False)
    return store if name is None else studies.load(store, name)


@user_errors
def list_studies(storage: StorageOption = None, as_json: JsonOption = False) -> None:
    """Studies in the store: trials complete / pruned / failed / running, and the best value."""
    import optuna

    from tuner.views.summary import study_view

    store = _open(storage)
    views = [study_view(optuna.load_study(study_name=s.study_name, storage=store))
             for s in store.get_all_studies()]
    if as_json:
        console.print_json(json.dumps([v.to_dict() for v in views]))
        return
    if not views:
        console.print("no studies in the store yet; run `tuner start digits`")
        return
    table = Table("study", "trials", "complete", "pruned", "failed", "running", "metric", "best")
    for v in views:
        c = v.counts
        table.add_row(v.name, str(v.trials), str(c["complete"]), str(c["pruned"]), str(c["failed"]),
                      str(c["running"]), f"{v.metric} ({v.direction[:3]})", fmt(v.best_value))
    console.print(table)


@user_errors
def status(name: NameArg, storage: StorageOption = None, as_json: JsonOption = False) -> None:
    """One study in detail: its definition, trial counts, best value and latest trials."""
    from tuner.store import outline
    from tuner.store import studies
    from tuner.views.summary import study_view

    study = _open(storage, name)
    trials = outline.trials(study)
    view = study_view(study, trials)
    definition = studies.definition(study)
    if as_json:
        console.print_json(json.dumps({**view.to_dict(), "definition": definition.spec.model_dump(mode="json"),
                                       "data": definition.data}))
        return
    c = view.counts
    console.print(f"[bold]{name}[/]: {definition.spec.description or ''}", highlight=False)
    console.print(f"data {json.dumps(definition.data)}", highlight=False)
    console.print(f"trials {view.trials}: {c['complete']} complete, {c['pruned']} pruned, {c['failed']} failed, "
                  f"{c['running']} running; budget {definition.spec.budget.trials or '-'}" + _infeasible(c) +
                  (f"; {c['estimates']} one-shot estimates" if c.get("estimates") else ""),
                  highlight=False)
    in_units = f" in {view.units}" if view.units else ""
    console.print(f"objective {view.metric} ({view.direction}{in_units}); best {fmt(view.best_value)} "
                  f"(trial {fmt(view.best_trial)})", highlight=False)
    table = Table("trial", "state", "value", "units", "params", "epochs", "seconds", "note")
    for t in outline.whole(study, trials[-15:]):
        a = t.user_attrs
        table.add_row(str(t.number), t.state.name.lower(), fmt(t.values[0] if t.values else None),
                      fmt(a.get(record.UNITS)), fmt(a.get(record.N_PARAMS)),
                      fmt(a.get(record.EPOCHS_RUN)), fmt(a.get(record.TRAIN_SECONDS)), _note(a))
    console.print(table)


@user_errors
def best(name: NameArg, storage: StorageOption = None, as_json: JsonOption = False) -> None:
    """The best trial: value, parameters, and its architecture layer by layer."""
    study = _open(storage, name)
    if len(study.directions) > 1:
        print_pareto(study, as_json)
        return
    if as_json:
        from tuner.views.summary import best_trial_whole, trial_view

        trial = best_trial_whole(study)
        console.print_json(json.dumps(trial_view(trial) if trial else None))
        return
    print_best(study)
    from tuner.views.artifacts import best_model_info
    from tuner.views.summary import best_model_line

    info = best_model_info(study)
    if info is not None:
        console.print(best_model_line(study, info), highlight=False)


def print_counts(study: Any, elapsed: float) -> None:
    from tuner.views.summary import Counts

    c = Counts.of(study.get_trials(deepcopy=False))
    infeasible = f", {c.infeasible} of them over max_params and never trained" if c.infeasible else ""
    console.print(f"{study.study_name}: {c.complete} complete, {c.pruned} pruned{infeasible}, {c.failed} failed "
                  f"({c.used} counted toward the budget) in {elapsed:.1f}s", highlight=False)
    from tuner.views.oneshot import summary_line

    one_shot = summary_line(study)
    if one_shot:
        console.print(one_shot, highlight=False)


def _note(attrs: dict[str, Any]) -> str:
    if attrs.get(record.ONE_SHOT):
        return "one-shot estimate"
    if record.ESTIMATE in attrs:
        return f"retrained (estimate {fmt(attrs[record.ESTIMATE])})"
    return attrs.get(record.FAIL_REASON, "")


def _infeasible(counts: dict[str, int]) -> str:
    n = counts.get("infeasible", 0)
    return f"; {n} over max_params (not trained, not counted)" if n else ""


def print_pareto(study: Any, as_json: bool = False) -> None:
    """A two-objective study's Pareto front: metric against parameter count, one row per trial."""
    from tuner.views.summary import pareto_front, trial_view

    front = [trial_view(t) for t in pareto_front(study)]
    if as_json:
        console.print_json(json.dumps({"pareto_front": front}))
        return
    if not front:
        console.print("no complete trial yet")
        return
    metric = study.user_attrs.get(record.METRIC, "value")
    latency = any(record.LATENCY in view["attrs"] for view in front)
    table = Table("trial", metric, "parameters", *(["µs/sample"] if latency else []), "units", "epochs",
                  title=f"Pareto front: {metric} against size ({len(front)} trials)")
    for view in front:
        a = view["attrs"]
        table.add_row(str(view["number"]), fmt(view["value"]), str(a.get(record.N_PARAMS)),
                      *([fmt(a.get(record.LATENCY))] if latency else []), fmt(a.get(record.UNITS)),
                      fmt(a.get(record.EPOCHS_RUN)))
    console.print(table)


def print_best(study: Any) -> None:
    from tuner.store import studies
    from tuner.views.summary import against_base, best_trial_whole, metric_units, trial_view

    if len(study.directions) > 1:
        print_pareto(study)
        return
    trial = best_trial_whole(study)
    if trial is None:
        console.print("no complete trial yet")
        return
    view = trial_view(trial)
    attrs = view["attrs"]
    metric = study.user_attrs.get(record.METRIC, "value")
    in_units = f", in {metric_units(study)}" if metric_units(study) else ""
    units = attrs.get(record.UNITS, [])
    shape = f"{len(units)} layer(s) {units}"
    if studies.definition(study).spec.model is not None:  # the user's model: its widths by layer
        shape = "widths " + ", ".join(f"{row['layer']} {row['units']}" for row in view["architecture"][:-1]
                                      if row["units"] is not None)
    described = study.user_attrs.get(record.DATA, {})
    rows = f", on the {described['validation'][0]} validation rows" if described.get("validation") else ""
    console.print(f"best {metric} {trial.value:.4f} (trial {trial.number}{in_units}{rows}): {shape}, "
                  f"{attrs.get(record.N_PARAMS)} parameters, {attrs.get(record.EPOCHS_RUN)} epochs", highlight=False)
    compared = against_base(study, trial)
    if compared:
        console.print(compared, highlight=False)
    test = record.test_key(metric.removeprefix("val_"))
    if test in attrs:
        tested = described.get("test", ["?"])[0]
        console.print(f"{test} {attrs[test]:.4f} on the {tested} test rows (the trial's model; no trial trained, was "
                      f"pruned or was chosen on them)", highlight=False)
    console.print("params " + ", ".join(f"{k}={fmt(v)}" for k, v in view["params"].items()), highlight=False)
    table = Table("layer", "units", "params", "dropout", "L2", title="architecture")
    for row in view["architecture"]:
        table.add_row(row["layer"], fmt(row["units"]), str(row["params"]), fmt(row["dropout"]), fmt(row["l2"]))
    console.print(table)
