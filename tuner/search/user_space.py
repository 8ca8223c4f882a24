"""The user's own model as a search: the widths it offers (named by the study file, or found in an existing model),
one trial's parameters, the model built for them, its warm start, and the checks made before a study starts."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from tuner import record
from tuner.data import Dataset
from tuner.errors import SpecError, first_line
from tuner.record import WIDTH_MULTIPLIER, LayerRow, ModelParams
from tuner.search import space, warmstart
from tuner.spec import Dim, GridSpec, StudySpec

if TYPE_CHECKING:
    import keras

KEY = {"build": "model.build", "keras": "model.keras", "function": "model.function"}
DEFAULT_MULTIPLIER = Dim(low=0.25, high=4.0, log=True)
DEFAULT_UNITS = Dim(low=8, high=512, log=True)  # space.units when the study file leaves it out
READ_BY_BUILD = ("l2", "dropout", "activation")  # only a build function applies these: searched if it reads them


class UserModels:
    """The user's model. A build function gets each trial's ModelParams; an existing model (a .keras file or a
    function returning it) is rebuilt from its config with the trial's widths, L2 on those layers' kernels and
    dropout after them. Built (with TensorFlow) before its parameters are counted."""

    builds_to_count = True

    def __init__(self, spec: StudySpec, data: Dataset, roots: Sequence[Path]) -> None:
        assert spec.model is not None
        self.spec, self.data, self.roots = spec, data, list(roots)
        self.model = spec.model
        self.kind = "build" if self.model.build is not None else "keras" if self.model.keras is not None else "function"
        self.key = KEY[self.kind]
        self._builder: Any = None
        self._base: dict[str, Any] | None = None  # the existing model's serialized config
        self._found: Any = None
        self._unread: tuple[str, ...] | None = None

    # ----------------------------------------------------------------- what is searched
    @property
    def multiplier(self) -> Dim | None:
        if self.model.rewidens and self.model.widths == "multiplier":
            return self.spec.space.width_multiplier or DEFAULT_MULTIPLIER
        return None

    def width_dims(self) -> dict[str, Dim]:
        """The widths searched, by name: as the study file names them (a build function), or one per width-bearing
        hidden layer (or tied group) of the existing model, over a quarter to four times its width unless
        `space.units` gives a range (for all of them, or by layer name)."""
        if not self.model.rewidens:
            return dict(self.spec.space.named_units or {})
        found, named = self.found(), self.spec.space.named_units or {}
        for name in named:
            if found.group(name) is None:
                known = ", ".join(g.name for g in found.groups) or "none"
                why = f" (its width stays: {found.fixed[name]})" if name in found.fixed else ""
                raise SpecError(f"space.units.{name}: the model has no width-bearing hidden layer {name!r} to "
                                f"search{why}; found: {known}")
        common = None if self.spec.space.named_units is not None or self.spec.space.units == DEFAULT_UNITS \
            else self.spec.space.units
        dims = {}
        for group in found.groups:
            given = next((named[n] for n in (group.name, *group.layers) if n in named), None)
            dims[group.name] = given or common or Dim(low=max(1, group.width // 4), high=group.width * 4, log=True)
        return dims

    def found(self) -> Any:
        """The existing model's width-bearing hidden layers (loaded once)."""
        if self._found is None:
            from tuner.training import rewiden

            self._base = rewiden.serialize(self._load_base())
            self._found = rewiden.find(self._base, self.key)
            if not self._found.groups:
                fixed = "; ".join(f"{n}: {why}" for n, why in self._found.fixed.items())
                raise SpecError(f"{self.key}: the model has no width-bearing hidden layer tuner can change ({fixed})")
        return self._found

    def unread(self) -> tuple[str, ...]:
        """The hyperparameters (of READ_BY_BUILD) a build function never reads: not searched, L2 and dropout 0.
        Found by building the model once with a record of what it reads."""
        if self._unread is None:
            self._unread = () if self.model.rewidens else self._probe()
        return self._unread

    def _probe(self) -> tuple[str, ...]:
        from tuner.training import usermodels
        from tuner.backend import load_keras

        load_keras()
        point = {name: dim.middle() for name, _, _, dim in self._sampled(unread=())}
        hp = _Reading(**self._params(space.sample_user(optuna.trial.FixedTrial(point), self.spec.space,
                                                       self.spec.training, self.width_dims(), None)).to_dict())
        object.__setattr__(hp, "_read", set())
        usermodels.from_function(self._function(), self.key, hp, first=True)
        read = object.__getattribute__(hp, "_read")
        return tuple(field for field in READ_BY_BUILD if field not in read)

    def _sampled(self, unread: tuple[str, ...] | None = None) -> list[tuple[str, str, str | None, Dim]]:
        return list(space.user_sampled(self.spec.space, self.spec.training, self.width_dims(), self.multiplier,
                                       self.unread() if unread is None else unread))

    def sample(self, trial: optuna.Trial) -> ModelParams:
        if trial.user_attrs.get(record.BASE_MODEL):
            return self._sample_base(trial)
        values = space.sample_user(trial, self.spec.space, self.spec.training, self.width_dims(), self.multiplier,
                                   self.unread())
        return self._params(values)

    def from_params(self, params: dict[str, Any]) -> ModelParams:
        return self.sample(optuna.trial.FixedTrial(params))

    def from_trial(self, trial: optuna.trial.FrozenTrial) -> ModelParams:
        """A finished trial's hyperparameters (the base model's as it ran)."""
        return self.base() if trial.user_attrs.get(record.BASE_MODEL) else self.from_params(trial.params)

    # ----------------------------------------------------------------- the existing model as it is
    def base(self) -> ModelParams:
        """The existing model as it is: its own widths, no L2 or dropout added, its compiled optimizer and learning
        rate (else the study's training settings)."""
        found, training = self.found(), self.spec.training
        rate = self._compiled_rate()
        return ModelParams(units={g.name: g.width for g in found.groups}, l2=0.0, dropout=0.0,
                           learning_rate=training.learning_rate if rate is None else rate,
                           batch_size=training.batch_size, activation="relu", input_shape=self.input_shape,
                           n_outputs=self.data.n_outputs, task=self.data.task,
                           multiplier=1.0 if self.multiplier is not None else None, base=True)

    def _base_values(self) -> dict[str, Any]:
        """The base model's value of every sampled parameter, where the space holds it exactly (a log range of L2
        cannot hold 0, say): only those are the base trial's parameters."""
        hp, values = self.base(), {}
        for name, field, width, dim in self._sampled():
            value = hp.multiplier if field == WIDTH_MULTIPLIER else hp.units[width] if width else getattr(hp, field)
            if value is not None and dim.contains(value):
                values[name] = value
        return values

    def _sample_base(self, trial: optuna.Trial) -> ModelParams:
        hp, given = self.base(), self._base_values()
        for name, field, width, dim in self._sampled():
            if name in given:  # recorded as the trial's parameter (the enqueued value)
                space.suggest(trial, field, width, dim)
        from tuner.store import set_user_attrs

        set_user_attrs(trial, {record.BASE_RAN_WITH: self.ran_with(hp)})
        return hp

    def ran_with(self, hp: ModelParams) -> str:
        """What the base trial trained with, as the summary says it."""
        compiled = (self._base or {}).get("compile_config") or {}
        optimizer = (compiled.get("optimizer") or {}).get("class_name") if compiled else None
        widths = ", ".join(f"{name} {width}" for name, width in hp.units.items())
        outside = sorted(set(n for n, *_ in self._sampled()) - set(self._base_values()))
        note = f"; not parameters of this trial (the space does not hold its values): {', '.join(outside)}" \
            if outside else ""
        how = f"its compiled {optimizer}" if optimizer else f"{self.spec.training.optimizer} (training.optimizer)"
        return f"its own widths ({widths}), no L2 or dropout added, {how} at learning rate {hp.learning_rate:g}{note}"

    def _compiled_rate(self) -> float | None:
        self.found()
        compiled = (self._base or {}).get("compile_config") or {}
        rate = ((compiled.get("optimizer") or {}).get("config") or {}).get("learning_rate")
        return float(rate) if isinstance(rate, (int, float)) else None

    def _params(self, values: dict[str, Any]) -> ModelParams:
        factor = values.get("width_multiplier")
        units = values.get("units")
        if factor is not None:
            units = {g.name: max(1, round(g.width * factor)) for g in self.found().groups}
        return ModelParams(units=units, l2=float(values["l2"]), dropout=float(values["dropout"]),
                           learning_rate=float(values["learning_rate"]), batch_size=int(values["batch_size"]),
                           activation=str(values["activation"]), input_shape=self.input_shape,
                           n_outputs=self.data.n_outputs, task=self.data.task, multiplier=factor)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape) if self.data.shape else (self.data.n_features,)

    # ----------------------------------------------------------------- the model
    def build(self, hp: ModelParams, first: bool = False) -> keras.Model:
        """The trial's model, compiled; `first`: the check before the study starts (its mistakes are the user's to
        fix, not one trial's failure)."""
        from tuner.training import usermodels

        if self.model.rewidens:
            from tuner.training import rewiden

            widths = {layer: hp.units[g.name] for g in self.found().groups for layer in g.layers}
            try:
                model = rewiden.rebuild(self._base, widths, None if hp.base else hp.l2, hp.dropout)
            except Exception as exc:  # a width the rest of the model cannot take
                if first:
                    raise SpecError(f"{self.key}: the model cannot be rebuilt from its config ({first_line(exc)})") from None
                from tuner.errors import TrialFailed

                raise TrialFailed(f"the model could not be rebuilt with these widths: {first_line(exc)}") from None
        else:
            model = usermodels.from_function(self._function(), self.key, hp, first=first)
        if first:
            usermodels.check_output(model, self.data.task, self.data.n_outputs, self.key)
        was_compiled = model.compiled
        model = usermodels.compiled(model, self.data.task, self.spec.training.optimizer, hp.learning_rate,
                                    self._metric(), self.key)
        if was_compiled and self.spec.space.learning_rate is not None and not hp.base:
            usermodels.set_learning_rate(model, hp.learning_rate)
        return model

    def count(self, widths: dict[str, int]) -> int:
        """Parameters of the model at `widths` (by name), the rest at the space's middle."""
        return self.build(self.at(widths, 0.0, 0.0)).count_params()

    def slimmable(self, widths: dict[str, int], l2: float, dropout: float) -> tuple[dict[str, Any], dict[str, str]]:
        """The model at `widths` (by name) with L2 `l2` and dropout `dropout`, as a config, and the name of the width
        each of its width layers has (a build function's: found by building it again with each width changed)."""
        from tuner.training import rewiden

        if self.model.rewidens:
            groups = self.found().groups
            searched = {layer: g.name for g in groups for layer in g.layers}
            return rewiden.rewidened(self._base, {layer: widths[name] for layer, name in searched.items()}, l2,
                                     dropout), searched
        hp = self.at(widths, l2, dropout)
        config = rewiden.serialize(self.build(hp))
        if "layers" not in config.get("config", {}):
            raise SpecError(f"one_shot: {self.model.build} returns a subclassed keras.Model, which has no layer "
                            f"graph to narrow; build it with the Functional API or Sequential, or remove one_shot")
        layers = rewiden.layers_of(config)
        searched = {}
        for name, width in widths.items():
            other = rewiden.layers_of(rewiden.serialize(self.build(self.at({**widths, name: width // 2 if width > 1 else 2},
                                                                             l2, dropout))))
            if len(other) != len(layers):
                raise SpecError(f"one_shot: {self.model.build} builds {len(layers)} layers at the widest widths and "
                                f"{len(other)} with {name} narrower; the one-shot stage needs one structure for "
                                f"every width")
            for layer, narrower in zip(layers, other):
                key = rewiden.WIDTH_KEYS.get(layer["class_name"])
                if key and narrower["config"].get(key) != layer["config"].get(key):
                    searched[layer["config"]["name"]] = name
        return config, searched

    def at(self, widths: dict[str, int], l2: float, dropout: float) -> ModelParams:
        """A trial's parameters with these widths (by name), L2 and dropout, the rest at the space's middle."""
        middle = self.from_params({name: dim.middle() for name, _, _, dim in self._sampled()})
        return ModelParams(**{**middle.to_dict(), "units": dict(widths), "l2": l2, "dropout": dropout,
                              "multiplier": None})

    def architecture(self, hp: ModelParams, model: keras.Model) -> list[LayerRow]:
        from tuner.training import usermodels

        if not self.model.rewidens:
            return usermodels.rows(model)
        searched = [layer for g in self.found().groups for layer in g.layers]
        return usermodels.rows(model, {n: hp.dropout for n in searched}, {n: hp.l2 for n in searched})

    def widths(self, hp: ModelParams) -> dict[str, list[float]]:
        names = list(hp.units)
        return {"units": [hp.units[n] for n in names], "dropout": [float(f"{hp.dropout:.4g}")] * len(names),
                "l2": [float(f"{hp.l2:.4g}")] * len(names)}

    def first_trials(self, source: str = "warm_start") -> list[dict[str, Any]]:
        """The existing model as it is (its current widths), or for a build function the listed starting points;
        then the study file's `warm_start.trials` (`units` by name)."""
        if isinstance(self.spec.sampler, GridSpec):
            return []
        params = []
        if self.model.rewidens and self.spec.warm_start.rule_of_thumb:
            params.append(self._base_values())
        for i, given in enumerate(self.spec.warm_start.trials):
            params.append(self._to_params(given, f"{source}.trials[{i}]"))
        return params

    def starting_point(self) -> dict[str, Any]:
        """The parameters the check before the study builds: the first warm-start trial, else the middle of every
        dimension."""
        first = self.first_trials()
        return {name: dim.middle() for name, _, _, dim in self._sampled()} | (first[0] if first else {})

    def _to_params(self, config: dict[str, Any], where: str) -> dict[str, Any]:
        params: dict[str, Any] = {}
        units = config.get("units", {})
        if not isinstance(units, dict):
            raise SpecError(f"{where}.units: give the widths by name, e.g. units: {{conv_1: 32}}")
        known = set(self.width_dims())
        unknown = sorted(set(units) - known)
        if unknown and self.multiplier is None:
            raise SpecError(f"{where}.units: no width named {', '.join(unknown)} in the space "
                            f"(widths: {', '.join(sorted(known))})")
        for name, _, width, dim in self._sampled():
            value = config.get("width_multiplier", 1.0) if name == "width_multiplier" else \
                units.get(width) if width is not None else config.get(name)
            params[name] = dim.middle() if value is None else warmstart.nearest(dim, value)
        self.from_params(params)
        return params

    def grid(self) -> dict[str, list[Any]] | None:
        if not isinstance(self.spec.sampler, GridSpec):
            return None
        cells = {}
        for name, _, _, dim in self._sampled():
            if dim.is_range:
                raise SpecError(f"sampler grid: {name} is searched over a range ({dim.describe()}); give a list of "
                                f"choices in space.units (by layer name) or space.width_multiplier")
            cells[name] = dim.values()
        return cells

    def dimensions(self) -> list[tuple[str, Dim, str]]:
        s = self.spec.space
        rows = [("width_multiplier", self.multiplier, "all widths")] if self.multiplier is not None else \
            [(f"units: {name}", dim, "") for name, dim in self.width_dims().items()]
        for field in ("l2", "dropout", "learning_rate", "batch_size"):
            dim = space.dimension(s, self.spec.training, field)
            if field in self.unread():
                continue
            rows.append((field, dim, "every searched layer" if self.model.rewidens and field in ("l2", "dropout")
                         else ""))
        return rows

    def check(self, where: str) -> None:
        """Import the function (or load the model), build once with the starting point's values and check what was
        built: it is a model, its output fits the task, it takes the data as scaled, the named layers exist, the
        parameter budget is reachable."""
        from tuner.data.inputs import check_scaling
        from tuner.backend import load_keras

        load_keras()
        hp = self.from_params(self.starting_point())
        model = self.build(hp, first=True)
        check_scaling(self.data, model, self.key)
        if not self.model.rewidens:
            names = {layer.name for layer in model.layers}
            missing = sorted(set(self.width_dims()) - names)
            if missing:
                raise SpecError(f"space.units.{missing[0]}: the model {self.model.build} builds has no layer named "
                                f"{missing[0]!r} (layers: {', '.join(sorted(names))}); name the layers the widths "
                                f"are for")
        if self.spec.one_shot is not None:
            from tuner.search.estimators import UserModel

            UserModel(self.spec, self.data, self).check()
        if self.spec.max_params is not None and self.model.rewidens:
            smallest = self._params({**{"units": {n: int(d.bounds()[0]) for n, d in self.width_dims().items()}},
                                     "width_multiplier": self.multiplier.bounds()[0] if self.multiplier else None,
                                     **{k: v for k, v in self.from_params(self.starting_point()).to_dict().items()
                                        if k in ("l2", "dropout", "learning_rate", "batch_size", "activation")}})
            n_params = self.build(smallest, first=True).count_params()
            if n_params > self.spec.max_params:
                raise SpecError(f"max_params: {self.spec.max_params} is below the smallest model in the space "
                                f"({n_params} parameters at the lowest widths); raise max_params or lower the widths")

    def _function(self) -> Any:
        if self._builder is None:
            from tuner import usercode

            self._builder = usercode.resolve(self.model.build or self.model.function, self.key, self.roots)
        return self._builder

    def _load_base(self) -> keras.Model:
        from tuner.training import usermodels
        from tuner.backend import load_keras

        load_keras()
        if self.kind == "function":
            return usermodels.from_function(self._function(), self.key, first=True)
        import keras

        path = next((root / self.model.keras for root in self.roots if (root / self.model.keras).is_file()), None)
        if path is None:
            raise SpecError(f"{self.key}: {self.model.keras} not found (looked in "
                            f"{', '.join(str(r) for r in self.roots)}); give a path relative to the study file")
        try:
            with warnings.catch_warnings():  # the optimizer's saved state: the rebuilt models start afresh anyway
                warnings.simplefilter("ignore", UserWarning)
                return keras.models.load_model(path, compile=True)
        except Exception as exc:  # a file that is not a Keras model, or needs custom objects
            raise SpecError(f"{self.key}: {path} cannot be loaded as a Keras model ({first_line(exc)})") from None

    def _metric(self) -> str:
        from tuner.search.metric import resolve_metric

        return resolve_metric(self.spec.training, self.data.task, True).name


class _Reading(ModelParams):
    """ModelParams that remember which of READ_BY_BUILD a build function read."""

    def __getattribute__(self, name: str) -> Any:
        if name in READ_BY_BUILD:
            object.__getattribute__(self, "_read").add(name)
        return object.__getattribute__(self, name)
