"""The one-shot stage (`one_shot:` in a study file): every width from one training, then only the best retrained.

For each layer count of the space, tuner's widest Dense (or Conv2D) stack is trained once as a slimmable network
(tuner.training.slimmable). The study's sampler then proposes `estimates` width vectors, each scored on those
shared weights in one forward pass; each becomes a finished trial of the study marked `one_shot` (its value is the
estimate), so the dashboard and `tuner report` show the whole accuracy-against-size curve. Estimates never count
toward the budget and are never the best trial or the exported model. The best `top` width vectors (with two
objectives, the estimates' Pareto front) are then enqueued as the budget's ordinary trials, their widths fixed and
L2, dropout and the rest sampled as usual, each carrying its `estimate`; the runner trains them from scratch. What
the budget leaves after them is the study's ordinary search.
`tuner.views.oneshot.rank` says how well the estimates ranked the widths the retrained trials reached.

The stage runs once per study, in the process that starts it, before any trial: other workers wait for it, and a
resumed study (`tuner.one_shot` stored with it) goes straight to the retrained trials. Each trained network is kept
as a study artifact (tuner.search.sharedweights), so a stage stopped before its writes restores it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from tuner import interrupt, record
from tuner.data import Dataset
from tuner.search import estimators, multiobjective
from tuner.search.metric import Metric
from tuner.search.sampler import make_sampler
from tuner.search.sharedweights import SharedWeights, key_of
from tuner.spec import StudySpec, TPESpec
from tuner.store import internals
from tuner.views.oneshot import rank
from tuner.views.summary import classify, is_infeasible

DISTINCT = 1.25  # two width vectors of one depth are apart when some layer differs by this factor
ROUNDS = 2  # each chosen width vector is retrained this many times at most (each with its own L2 and dropout)


def done(study: optuna.Study) -> bool:
    return record.ONE_SHOT_STAGE in study.user_attrs


def wait(study: optuna.Study, poll: float = 1.0) -> None:
    """Until the stage is done: a worker that joins a study while its starter is still training the slimmable
    network would otherwise sample widths of its own."""
    while not done(study):
        time.sleep(poll)


def stage(study: optuna.Study, spec: StudySpec, data: Dataset, metric: Metric, models: Any, *,
          budget: int | None, seed: int = 0, artifacts: Path | None = None,
          say: Callable[[str], None] = lambda line: None) -> None:
    """Train the slimmable networks, store the estimates, enqueue the retrained trials; no trial is written to the
    study before every estimate is made, and a first Ctrl-C (tuner.interrupt, installed here) stops the stage
    before those writes or after them, never between. Each network, once trained, is kept as a study artifact in
    `artifacts` (tuner.search.sharedweights): a stage stopped after it starts again from its weights. `models`: the
    study's model source (a user's own model is narrowed by masks, tuner's stacks by slicing)."""
    from tuner.backend import load_keras

    load_keras()
    interrupt.install()
    shot = spec.one_shot
    epochs = shot.epochs or spec.training.epochs
    nets = estimators.OwnStacks(spec, data) if spec.model is None else estimators.UserModel(spec, data, models)
    start = time.perf_counter()
    kept = SharedWeights(study, artifacts, key_of(spec, data, seed))
    nets.train(epochs, seed, lambda epoch: interrupt.check(), say, kept)  # Ctrl-C: stop at an epoch's end
    trained = time.perf_counter() - start
    say(f"one-shot: scoring {shot.estimates} width vectors on the shared weights")
    directions = [d.name.lower() for d in study.directions]
    scratch = optuna.create_study(directions=directions, sampler=_sampler(spec, seed))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for _ in range(shot.estimates):
        trial = scratch.ask()
        widths = nets.widths_of(trial)
        n_params = nets.size(widths)
        trial.set_user_attr(record.ONE_SHOT, True)
        trial.set_user_attr(record.UNITS, list(widths))
        trial.set_user_attr(record.N_PARAMS, n_params)
        if spec.max_params is not None:
            violation = float(n_params - spec.max_params)
            trial.set_constraint(record.CONSTRAINT, violation)
            trial.storage.set_trial_system_attr(internals.trial_id(trial), record.LEGACY_CONSTRAINTS, [violation])
        scratch.tell(trial, multiobjective.values(spec, nets.score(widths, metric.name), n_params))
    estimates = scratch.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    chosen = choose(estimates, directions, shot.top)
    scored = time.perf_counter() - start - trained
    interrupt.check()  # from here the stage's writes complete (a first Ctrl-C waits for them)
    study.add_trials(estimates)
    storage = internals.storage_of(study)
    for waiting in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):  # warm starts: scored too
        try:  # an enqueued trial's parameters wait in its system attributes until it runs
            widths = nets.widths_of(optuna.trial.FixedTrial(waiting.system_attrs.get("fixed_params", {})))
        except ValueError:  # a listed start that leaves some width to the sampler
            continue
        if record.ESTIMATE not in waiting.user_attrs and nets.covers(widths):
            storage.set_trial_user_attr(internals.trial_id(waiting), record.ESTIMATE,
                                        nets.score(widths, metric.name))
    queued = _enqueue(study, chosen, budget, lambda t: nets.scored_with(tuple(t.user_attrs[record.UNITS])))
    study.set_user_attr(record.ONE_SHOT_STAGE, {
        "estimates": len(estimates), "train_seconds": round(trained, 2), "score_seconds": round(scored, 2),
        "epochs": epochs, "retrained": [t.user_attrs[record.UNITS] for t in chosen], "queued": queued})
    say(f"one-shot: {len(estimates)} estimates in {trained + scored:.1f} s; retraining "
        f"{', '.join(str(t.user_attrs[record.UNITS]) for t in chosen)} in {queued} trial(s)")
    interrupt.check()


def _sampler(spec: StudySpec, seed: int) -> optuna.samplers.BaseSampler:
    """The study's sampler for the estimates; TPE starts from half of them drawn at random, so that they spread over
    the whole space (the accuracy-against-size curve) before they gather around the best."""
    if isinstance(spec.sampler, TPESpec):
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(spec.sampler.n_startup_trials,
                                                                          spec.one_shot.estimates // 2),
                                          multivariate=True, group=spec.sampler.group)
    return make_sampler(spec, seed)


def choose(estimates: list[FrozenTrial], directions: list[str], top: int) -> list[FrozenTrial]:
    """The width vectors to retrain: the `top` best within max_params, each apart from those before it (another
    layer count, or some layer DISTINCT times wider or narrower: a sampler's estimates crowd around the best, and
    near-copies would teach the retraining nothing new); with two objectives the estimates' Pareto front, thinned
    evenly over its sizes to `top`."""
    feasible = [t for t in estimates if not is_infeasible(t)]
    sign = [-1 if d == "maximize" else 1 for d in directions]
    ranked: list[FrozenTrial] = []
    for t in sorted(feasible, key=lambda t: (sign[0] * t.values[0], t.user_attrs[record.N_PARAMS])):
        if all(_apart(t.user_attrs[record.UNITS], o.user_attrs[record.UNITS]) for o in ranked):
            ranked.append(t)
    if len(directions) == 1:
        return ranked[:top]
    front = [t for t in ranked if not any(all(sign[i] * o.values[i] <= sign[i] * t.values[i] for i in range(2)) and
                                          o.values != t.values for o in ranked)]
    front.sort(key=lambda t: t.values[1])
    if len(front) <= top:
        return front
    return [front[round(i * (len(front) - 1) / (top - 1))] for i in range(top)] if top > 1 else front[:1]


def _apart(a: list[int], b: list[int]) -> bool:
    return len(a) != len(b) or any(max(x, y) >= DISTINCT * min(x, y) for x, y in zip(a, b))


def record_rank(study: optuna.Study, metric: Metric) -> tuple[float, int] | None:
    """Store how well the estimates ranked the retrained widths (the study's ONE_SHOT_RANK), when they can be
    ranked."""
    found = rank(study.get_trials(deepcopy=False), metric.direction == "maximize")
    if found is not None:
        study.set_user_attr(record.ONE_SHOT_RANK, {"spearman": round(found[0], 4), "widths": found[1]})
    return found


def _enqueue(study: optuna.Study, chosen: list[FrozenTrial], budget: int | None,
             scored_with: Callable[[FrozenTrial], dict[str, Any]]) -> int:
    """The chosen widths as waiting trials, in turn, ROUNDS times at most and within what the budget has left; the
    rest of the budget is the study's own search, its sampler seeing the estimates among the trials. The first
    round trains the networks the estimates were made on (`scored_with`: their L2 and dropout, the space's
    lowest); later rounds sample L2 and dropout as any trial does."""
    if not chosen:
        return 0
    trials = study.get_trials(deepcopy=False)
    queued = ROUNDS * len(chosen)
    if budget is not None:
        queued = min(queued, max(0, budget - sum(classify(t)[1] for t in trials) - sum(
            t.state == TrialState.WAITING and bool(t.user_attrs.get(record.WARM_START)) for t in trials)))
    for i in range(queued):
        pick = chosen[i % len(chosen)]
        study.enqueue_trial({**pick.params, **(scored_with(pick) if i < len(chosen) else {})},
                            user_attrs={record.ESTIMATE: pick.values[0], record.UNITS: pick.user_attrs[record.UNITS]})
    return queued
