"""Report: a study as a self-contained HTML page plus PNG images, readable offline. Matplotlib, no TensorFlow.

Figures: best value so far over time, the metric against units (one panel per layer, with a one-shot stage's
estimates in grey), the train/validation gap against total parameters, parameter importances, learning curves and,
after a one-shot stage, each retrained trial against its estimate; then the top trials as a table.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from tuner import record
from tuner.views.format import fmt
from tuner.views.oneshot import summary_line
from tuner.views.summary import Counts, best_trial, is_estimate, metric_units, trained

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TOP = 10


@dataclass(frozen=True)
class Context:
    """What every figure needs to know about the study."""

    name: str
    metric: str
    maximize: bool
    complete: list[FrozenTrial]  # the complete trials that trained a model
    trials: list[FrozenTrial]
    estimates: list[FrozenTrial] = ()  # one-shot estimates (tuner.search.oneshot)

    @property
    def base(self) -> str:
        return self.metric.removeprefix("val_")


def context(study: optuna.Study) -> Context:
    trials = study.get_trials(deepcopy=False)
    return Context(study.study_name, study.user_attrs.get(record.METRIC, "value"),
                   study.directions[0] == optuna.study.StudyDirection.MAXIMIZE, trained(trials), trials,
                   [t for t in trials if is_estimate(t)])


def best_so_far(ctx: Context) -> Figure:
    """Each complete trial's value at the time it finished, and the best value so far as a step line."""
    fig, ax = _figure()
    done = sorted((t for t in ctx.complete if t.datetime_complete), key=lambda t: t.datetime_complete)
    if done:
        start = min(t.datetime_start or t.datetime_complete for t in done)
        minutes = [(t.datetime_complete - start).total_seconds() / 60 for t in done]
        values = [t.value for t in done]
        pick = max if ctx.maximize else min
        best = [pick(values[: i + 1]) for i in range(len(values))]
        ax.scatter(minutes, values, s=14, alpha=0.5, label="trial")
        ax.step(minutes, best, where="post", color="C3", label="best so far")
        ax.legend(loc="best")
    ax.set(xlabel="minutes since the first trial started", ylabel=ctx.metric, title="Best so far over time")
    return fig


def metric_vs_units(ctx: Context) -> Figure:
    """One panel per layer position: the metric against that layer's units, one color per number of layers."""
    depth = max((len(t.user_attrs.get(record.UNITS, [])) for t in ctx.complete), default=1) or 1
    fig, axes = _figure(ncols=depth, width=4.2 * depth, sharey=True)
    axes = axes if depth > 1 else [axes]
    for i, ax in enumerate(axes):
        for n in range(i + 1, depth + 1):
            points = [(t.user_attrs[record.UNITS][i], t.value) for t in ctx.complete
                      if len(t.user_attrs.get(record.UNITS, [])) == n]
            if points:
                ax.scatter(*zip(*points), s=18, color=f"C{n - 1}", label=f"{n} layer(s)")
        shots = [(t.user_attrs[record.UNITS][i], t.value) for t in ctx.estimates
                 if len(t.user_attrs.get(record.UNITS, [])) > i]
        if shots:
            ax.scatter(*zip(*shots), s=6, color="grey", alpha=0.35, label="one-shot estimate")
        _log_x(ax)
        ax.set(xlabel=f"units in layer {i + 1}", title=f"layer {i + 1}")
    axes[0].set_ylabel(ctx.metric)
    if ctx.complete:
        axes[0].legend(loc="best", fontsize="small")
    fig.suptitle(f"{ctx.metric} against units per layer")
    return fig


def gap_vs_params(ctx: Context) -> Figure:
    """Train minus validation (the overfitting gap) against total parameters, colored by the metric."""
    fig, ax = _figure()
    points = [(t.user_attrs[record.N_PARAMS], t.user_attrs[record.OVERFIT_GAP], t.value) for t in ctx.complete
              if record.N_PARAMS in t.user_attrs and record.OVERFIT_GAP in t.user_attrs]
    if points:
        params, gaps, values = zip(*points)
        scatter = ax.scatter(params, gaps, c=values, cmap="viridis" if ctx.maximize else "viridis_r", s=18)
        fig.colorbar(scatter, ax=ax, label=ctx.metric)
        _log_x(ax)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set(xlabel="trainable parameters", ylabel=f"train - validation {ctx.base} (> 0: overfitting)",
           title="Where overfitting starts")
    return fig


def estimate_vs_trained(ctx: Context) -> Figure:
    """Each retrained trial's value against the one-shot estimate of its widths, with the rank correlation."""
    from tuner.views.oneshot import rank

    fig, ax = _figure()
    points = [(t.user_attrs[record.ESTIMATE], t.value) for t in ctx.complete if record.ESTIMATE in t.user_attrs]
    if points:
        ax.scatter(*zip(*points), s=22)
        low, high = min(min(p) for p in points), max(max(p) for p in points)
        ax.plot([low, high], [low, high], color="grey", linewidth=0.8, label="estimate = trained")
        ax.legend(loc="best")
    found = rank(ctx.complete, ctx.maximize)
    ax.set(xlabel=f"one-shot estimate of {ctx.metric}", ylabel=f"{ctx.metric} trained from scratch",
           title="One-shot estimate against training" + (f" (Spearman {found[0]:.2f} over {found[1]} widths)"
                                                          if found else ""))
    return fig


def importances(study: optuna.Study) -> dict[str, float]:
    """Optuna's parameter importances (its default evaluator); empty when there are too few complete trials."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "some regimes have less than 2 trials" on small studies
            return optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError):
        return {}


def importance_figure(values: dict[str, float]) -> Figure:
    fig, ax = _figure()
    names = list(values)[::-1]
    ax.barh(names, [values[n] for n in names], color="C0")
    ax.set(xlabel="importance (share of the metric's variation)", title="Parameter importances")
    if not values:
        ax.text(0.5, 0.5, "too few complete trials", ha="center", va="center", transform=ax.transAxes)
    return fig


def learning_curves(ctx: Context) -> Figure:
    """Per-epoch validation metric of every trial; pruned trials end early and are drawn dashed."""
    fig, ax = _figure()
    style = {TrialState.COMPLETE: ("-", 0.6), TrialState.PRUNED: ("--", 0.45)}
    for t in ctx.trials:
        if t.intermediate_values and t.state in style:
            steps = sorted(t.intermediate_values)
            line, alpha = style[t.state]
            ax.plot([s + 1 for s in steps], [t.intermediate_values[s] for s in steps], line, alpha=alpha,
                    linewidth=1, color="C0" if t.state == TrialState.COMPLETE else "C1")
    ax.plot([], [], "-", color="C0", label="complete")
    ax.plot([], [], "--", color="C1", label="pruned")
    ax.legend(loc="best")
    ax.set(xlabel="epoch", ylabel=ctx.metric, title="Learning curves")
    return fig


def top_trials(ctx: Context, n: int = TOP) -> list[dict[str, Any]]:
    ranked = sorted(ctx.complete, key=lambda t: t.value, reverse=ctx.maximize)[:n]
    rows = []
    for rank, t in enumerate(ranked, 1):
        a = t.user_attrs
        train, val = record.train_key(ctx.base), record.val_key(ctx.base)
        rows.append({"rank": rank, "trial": t.number, ctx.metric: t.value, "units": a.get(record.UNITS),
                     "params": a.get(record.N_PARAMS),
                     "dropout": a.get(record.DROPOUT) or _per_layer(a, record.DROPOUT),
                     "l2": a.get(record.L2) or _per_layer(a, record.L2), "epochs": a.get(record.EPOCHS_RUN),
                     train: a.get(train), val: a.get(val), "gap": a.get(record.OVERFIT_GAP),
                     "seconds": a.get(record.TRAIN_SECONDS)})
    return rows


def write_report(study: optuna.Study, out: Path) -> Path:
    """Write index.html (images embedded) and one PNG per figure into `out`; the path of index.html."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ctx = context(study)
    out.mkdir(parents=True, exist_ok=True)
    scores = importances(study)
    figures = {"best_so_far": best_so_far(ctx), "metric_vs_units": metric_vs_units(ctx),
               "gap_vs_params": gap_vs_params(ctx), "importances": importance_figure(scores),
               "learning_curves": learning_curves(ctx)}
    if ctx.estimates:
        figures["one_shot"] = estimate_vs_trained(ctx)
    images = {}
    for name, fig in figures.items():
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        (out / f"{name}.png").write_bytes(buffer.getvalue())
        images[name] = base64.b64encode(buffer.getvalue()).decode()
    page = out / "index.html"
    page.write_text(_html(study, ctx, images, scores, top_trials(ctx)))
    (out / "top_trials.json").write_text(json.dumps(top_trials(ctx), indent=1))
    return page


def _html(study: optuna.Study, ctx: Context, images: dict[str, str], scores: dict[str, float],
          rows: list[dict[str, Any]]) -> str:
    counts, best = Counts.of(ctx.trials), best_trial(study, ctx.trials)
    data = study.user_attrs.get(record.DATA, {})
    unit = metric_units(study)
    test = record.test_key(ctx.base)
    best_line = (f"best {html.escape(ctx.metric)} <b>{best.value:.4g}</b>"
                 + (f" {html.escape(unit)}" if unit else "")
                 + (f", {test} <b>{best.user_attrs[test]:.4g}</b> on the test rows no trial was chosen on"
                    if best and test in best.user_attrs else "")
                 + f" (trial {best.number}, units {best.user_attrs.get(record.UNITS)}, "
                 f"{best.user_attrs.get(record.N_PARAMS)} parameters)" if best else "no complete trial yet")
    head = (f"<h1>{html.escape(ctx.name)}</h1><p>data {html.escape(str(data.get('name', '?')))} "
            f"({html.escape(str(data.get('task', '?')))}), {'maximize' if ctx.maximize else 'minimize'} "
            f"{html.escape(ctx.metric)}; {len(ctx.trials)} trials: {counts.complete} complete, {counts.pruned} "
            f"pruned, {counts.failed} failed. {best_line}.</p><p class=small>written "
            f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC by <code>tuner report</code></p>")
    one_shot = summary_line(study, ctx.trials)
    head += f"<p>{html.escape(one_shot)}</p>" if one_shot else ""
    body = "".join(f'<figure><img alt="{n}" src="data:image/png;base64,{b}"></figure>' for n, b in images.items())
    table = _table(rows) if rows else "<p>no complete trial yet</p>"
    ranking = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:.3f}</td></tr>" for k, v in scores.items())
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(ctx.name)}: tuner report</title>"
            f"<style>{_CSS}</style></head><body>{head}<h2>Figures</h2>{body}<h2>Top trials</h2>{table}"
            f"<h2>Parameter importances</h2><table><tr><th>parameter</th><th>importance</th></tr>{ranking}</table>"
            f"</body></html>\n")


def _table(rows: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{html.escape(k)}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(fmt(v))}</td>" for v in row.values()) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _per_layer(attrs: dict[str, Any], key: str) -> list[float] | None:
    rows = attrs.get(record.ARCHITECTURE) or []
    return [row[key] for row in rows[:-1]] or None


def _log_x(ax: Any) -> None:
    """A log x axis with plain numbers (10, 100, 1000) rather than powers of ten on every minor tick."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())


def _figure(ncols: int = 1, width: float = 6.4, sharey: bool = False) -> tuple[Figure, Any]:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width, 4.0), sharey=sharey, squeeze=True)
    return fig, axes


_CSS = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
        "figure{display:inline-block;margin:0.5em}img{max-width:100%}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;font-size:0.9em}.small{color:#777}")
