"""What the one-shot stage (tuner.search.oneshot) scores width vectors with: tuner's own stacks, one slimmable
network per layer count (tuner.training.slimmable), or the user's own model, one masked network
(tuner.training.slimkeras). Each proposes a trial's widths as the study samples them, trains its networks once,
then scores and sizes any widths on their shared weights."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna

from tuner import record
from tuner.data import Dataset
from tuner.search import space
from tuner.search.sharedweights import SharedWeights
from tuner.spec import Dim, StudySpec

Widths = tuple[int, ...]
REGULARIZATION = ("l2", "dropout")  # at the space's lowest in the slimmable networks


class OwnStacks:
    """tuner's Dense or Conv2D stack: a slimmable network for each layer count of the space."""

    def __init__(self, spec: StudySpec, data: Dataset) -> None:
        self.spec, self.data = spec, data
        self.nets: dict[int, Any] = {}

    def widths_of(self, trial: optuna.Trial) -> Widths:
        s = self.spec.space
        depth = int(space.suggest(trial, "layers", None, s.layers))
        per_layer = s.per_layer("units")
        return tuple(int(space.suggest(trial, "units", i if per_layer else None, s.units)) for i in range(depth))

    def train(self, epochs: int, seed: int, on_epoch: Callable[[int], None], say: Callable[[str], None],
              kept: SharedWeights | None = None) -> None:
        from tuner.training import slimmable

        s, training, shot = self.spec.space, self.spec.training, self.spec.one_shot
        units = s.units
        for depth in (int(d) for d in values(s.layers)):
            self.nets[depth] = trained(kept, f"{depth}-layer", epochs, say, f"the widest {depth}-layer network",
                                       lambda n, depth=depth: slimmable.train(
                self.data, (int(units.bounds()[1]),) * depth, (int(units.bounds()[0]),) * depth,
                drawer([units] * depth, s.per_layer("units")), activation=str(s.activation.middle()),
                dropout=float(lowest(self.spec, "dropout")), l2=float(lowest(self.spec, "l2")),
                learning_rate=float(space.dimension(s, training, "learning_rate").middle()),
                batch_size=int(space.dimension(s, training, "batch_size").middle()), epochs=n, seed=seed,
                optimizer=training.optimizer, sandwich=shot.sandwich, conv=s.family == "conv2d", on_epoch=on_epoch))

    def covers(self, widths: Widths) -> bool:
        return len(widths) in self.nets

    def scored_with(self, widths: Widths) -> dict[str, Any]:
        """The L2 and dropout parameters of the network an estimate of `widths` is made on (the space's lowest)."""
        return {name: lowest(self.spec, field) for name, field, layer, _ in space.sampled(self.spec.space,
                                                                                        self.spec.training)
                if field in REGULARIZATION and (layer is None or layer < len(widths))}

    def score(self, widths: Widths, metric: str) -> float:
        return self.nets[len(widths)].score(self.data, widths, metric)

    def size(self, widths: Widths) -> int:
        from tuner.training.model import count_params

        hp = record.Hyperparams(layers=tuple(record.Layer(w, 0.0, 0.0) for w in widths), activation="relu",
                                learning_rate=1e-3, batch_size=32, family=self.spec.space.family)
        return count_params(hp, self.data.n_features, self.data.n_outputs, self.data.shape)


class UserModel:
    """The user's model (a build function, or an existing model re-widened): one masked network at its widest."""

    def __init__(self, spec: StudySpec, data: Dataset, models: Any) -> None:
        self.spec, self.data, self.models = spec, data, models  # models: tuner.search.user_space.UserModels
        self.dims = models.width_dims() if models.multiplier is None else {
            g.name: Dim(low=max(1, round(g.width * models.multiplier.bounds()[0])),
                        high=max(1, round(g.width * models.multiplier.bounds()[1]))) for g in models.found().groups}
        self.names = tuple(self.dims)
        self.net: Any = None
        self._size: Callable[[Widths], int] | None = None
        self._scores: dict[tuple[Widths, str], float] = {}  # a sampler proposes some widths many times

    def widths_of(self, trial: optuna.Trial) -> Widths:
        m = self.models
        if m.multiplier is not None:
            factor = float(space.suggest(trial, record.WIDTH_MULTIPLIER, None, m.multiplier))
            return tuple(max(1, round(g.width * factor)) for g in m.found().groups)
        return tuple(int(space.suggest(trial, "units", name, dim)) for name, dim in self.dims.items())

    def train(self, epochs: int, seed: int, on_epoch: Callable[[int], None], say: Callable[[str], None],
              kept: SharedWeights | None = None) -> None:
        from tuner.training import slimkeras

        s, training, shot = self.spec.space, self.spec.training, self.spec.one_shot
        widest, narrowest = self._bounds(1), self._bounds(0)
        config, points = self.check()
        model, masks = slimkeras.masked(config, points, dict(zip(self.names, widest)))
        draw = drawer(list(self.dims.values()), True) if self.models.multiplier is None else self._factors()
        self.net = trained(kept, "your-model", epochs, say, "your model at its widest "
                           f"({', '.join(f'{n} {w}' for n, w in zip(self.names, widest))})",
                           lambda n: slimkeras.train(
            model, masks, self.data, self.names, widest, narrowest, draw,
            learning_rate=float(space.dimension(s, training, "learning_rate").middle()),
            batch_size=int(space.dimension(s, training, "batch_size").middle()), epochs=n, seed=seed,
            optimizer=training.optimizer, sandwich=shot.sandwich, on_epoch=on_epoch))

    def check(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The widest model's config (the space's lowest L2 and dropout) and where its masks go; a SpecError where
        masks cannot narrow it."""
        from tuner.training import slimkeras

        config, searched = self.models.slimmable(dict(zip(self.names, self._bounds(1))), lowest(self.spec, "l2"),
                                                 lowest(self.spec, "dropout"))
        return config, slimkeras.mask_points(config, searched)

    def _bounds(self, end: int) -> Widths:
        return tuple(int(d.bounds()[end]) for d in self.dims.values())

    def _factors(self) -> Callable[[np.random.Generator], Widths]:
        groups, one = self.models.found().groups, drawer([self.models.multiplier], False, integer=False)
        return lambda rng: tuple(max(1, round(g.width * one(rng)[0])) for g in groups)

    def covers(self, widths: Widths) -> bool:
        return len(widths) == len(self.names)

    def scored_with(self, widths: Widths) -> dict[str, Any]:
        m = self.models
        return {name: lowest(self.spec, field) for name, field, _, _ in space.user_sampled(
            self.spec.space, self.spec.training, m.width_dims(), m.multiplier, m.unread()) if field in REGULARIZATION}

    def score(self, widths: Widths, metric: str) -> float:
        if (widths, metric) not in self._scores:  # each costs the widest model's forward pass
            self._scores[widths, metric] = self.net.score(self.data, widths, metric)
        return self._scores[widths, metric]

    def size(self, widths: Widths) -> int:
        if self._size is None:
            self._size = quadratic(lambda w: self.models.count(dict(zip(self.names, w))),
                                   [d.bounds() for d in self.dims.values()])
        return self._size(widths)


def trained(kept: SharedWeights | None, name: str, epochs: int, say: Callable[[str], None], what: str,
            make: Callable[[int], Any]) -> Any:
    """The slimmable network `make(epochs)` trains, kept as a study artifact once trained; or, where one was kept
    under the same settings and its weights fit the network (`make(0)` builds it untrained), that one."""
    arrays = kept.load(name) if kept is not None else None
    if arrays is not None:
        net = make(0)
        if [a.shape for a in arrays] == [a.shape for a in net.arrays()]:  # else: your model's file changed since
            net.restore(arrays)
            say(f"one-shot: {what} restored from the study's artifacts (trained before)")
            return net
    say(f"one-shot: training {what} as a slimmable network ({epochs} epochs)")
    net = make(epochs)
    if kept is not None:
        kept.save(name, net.arrays())
    return net


def quadratic(count: Callable[[Widths], int], bounds: list[tuple[Any, Any]]) -> Callable[[Widths], int]:
    """A model's parameter count as a function of its widths, from a few models counted: each weight's size is its
    input width times its output width (times a kernel's size), each width a sum of searched ones, so the count is a
    quadratic in the widths, fitted from 3 + n + n(n+1)/2 models (n widths) and checked on one more. Where the check
    fails (a model whose shapes follow its widths otherwise), each width vector is counted, once."""
    pairs = list(itertools.combinations_with_replacement(range(len(bounds)), 2))
    rng = np.random.default_rng(0)

    def terms(w: Widths) -> list[float]:
        return [1.0, *w, *(w[i] * w[j] for i, j in pairs)]

    def point() -> Widths:
        return tuple(int(rng.integers(int(lo), int(hi) + 1)) for lo, hi in bounds)

    points = [point() for _ in range(3 + len(bounds) + len(pairs))]
    coef = np.linalg.lstsq(np.array([terms(p) for p in points]), np.array([count(p) for p in points], float),
                           rcond=None)[0]
    check = point()
    if abs(float(np.dot(terms(check), coef)) - count(check)) < 0.5:
        return lambda w: int(round(float(np.dot(terms(w), coef))))
    counted: dict[Widths, int] = {}
    return lambda w: counted[tuple(w)] if tuple(w) in counted else counted.setdefault(tuple(w), count(tuple(w)))


def lowest(spec: StudySpec, field: str) -> float:
    """The space's lowest L2 or dropout: the shared weights learn the widths least held back."""
    return float(space.dimension(spec.space, spec.training, field).bounds()[0])


def values(dim: Dim) -> list[Any]:
    return list(range(int(dim.low), int(dim.high) + 1, int(dim.step or 1))) if dim.is_range else dim.values()


def drawer(dims: list[Dim], each: bool, integer: bool = True) -> Callable[[np.random.Generator], tuple[Any, ...]]:
    """Random widths for the sandwich rule, each drawn as its dimension spreads it (log-uniform on a log range);
    `each` false: one draw for them all; `integer` false: a width multiplier's factors."""
    def one(dim: Dim, rng: np.random.Generator) -> Any:
        if not dim.is_range:
            value = rng.choice(list(dim.values())).item()
            return int(value) if integer else value
        lo, hi = float(dim.low), float(dim.high)
        value = math.exp(rng.uniform(math.log(lo), math.log(hi))) if dim.log else rng.uniform(lo, hi)
        if not integer:
            return value
        step = dim.step or 1
        return int(min(hi, max(lo, lo + round((value - lo) / step) * step)))

    def draw(rng: np.random.Generator) -> tuple[Any, ...]:
        return tuple(one(d, rng) for d in dims) if each else (one(dims[0], rng),) * len(dims)

    return draw
