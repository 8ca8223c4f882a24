"""Re-widening real Keras graphs: Inception and DenseNet blocks (Concatenate), two inputs, a Transformer encoder block
(Embedding, MultiHeadAttention, LayerNormalization, an MLP, residual Adds), an Add feeding a Concatenate, layers
tuner cannot follow (a custom layer, Reshape, an adapted Normalization) and a subclassed model; each saved to a
.keras file and re-widened from it, rebuilt at random widths, run, and counted as tuner counts it. Then random
Functional graphs, generated with hypothesis: every width is searched, tied or fixed with a reason that holds."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuner.errors import SpecError
from tuner.training import rewiden, usermodels
from tuner.training.rewiden import WIDTH_KEYS

L = keras.layers
# every reason rewiden gives, said of the layer ("it ...") or of the layer it is tied to ("which ...")
REASON = re.compile(r"^(it is tied to '[^']+', which |it )(is the output layer|feeds |must match |is tied by |"
                    r"has width 1 and broadcasts in |is a grouped convolution)|^the layers tied to it \(")


@keras.saving.register_keras_serializable(package="tuner_tests")
class Doubled(L.Layer):
    """A custom layer: tuner cannot know what it does to widths."""

    def call(self, x: Any) -> Any:
        return x * 2.0


def reopened(model: keras.Model, folder: Path) -> dict[str, Any]:
    """The model's config as tuner reads it from a saved .keras file."""
    path = folder / f"{model.name}.keras"
    model.save(path)
    return rewiden.serialize(keras.models.load_model(path))


def found_both_ways(model: keras.Model, folder: Path) -> tuple[dict[str, Any], rewiden.Found]:
    """What tuner finds in the model itself and in its saved file: the same."""
    direct = rewiden.find(rewiden.serialize(model))
    serialized = reopened(model, folder)
    assert rewiden.find(serialized) == direct
    return serialized, direct


def searched(found: rewiden.Found) -> dict[str, tuple[str, ...]]:
    return {g.name: g.layers for g in found.groups}


def width_of(layer: keras.layers.Layer) -> int:
    return int(getattr(layer, WIDTH_KEYS[type(layer).__name__]))


def rebuilds(serialized: dict[str, Any], found: rewiden.Found, x: Any, out_shape: tuple, seed: int,
             times: int = 2) -> list[keras.Model]:
    """Rebuilt at random widths within the default search range (a quarter to four times each width): it runs, its
    output keeps its shape, tied layers share their width, fixed ones keep theirs, and tuner's count of its
    parameters is Keras's."""
    rng = np.random.default_rng(seed)
    base = {l["config"]["name"]: int(l["config"][WIDTH_KEYS[l["class_name"]]]) for l in rewiden.layers_of(serialized)
            if l["class_name"] in WIDTH_KEYS}
    models = []
    for _ in range(times):
        drawn = {g.name: int(rng.integers(max(1, g.width // 4), g.width * 4 + 1)) for g in found.groups}
        model = rewiden.rebuild(serialized, {n: drawn[g.name] for g in found.groups for n in g.layers}, 1e-4, 0.1)
        assert tuple(model(x).shape) == out_shape
        assert sum(row.params for row in usermodels.rows(model)) == model.count_params()
        for group in found.groups:
            assert {width_of(model.get_layer(n)) for n in group.layers} == {drawn[group.name]}
            assert all(model.get_layer(f"{n}_dropout").rate == 0.1 for n in group.layers)
        for name in found.fixed:
            assert width_of(model.get_layer(name)) == base[name]
        models.append(model)
    return models


def breaks(serialized: dict[str, Any], layer: str, width: int, x: Any, out_shape: tuple) -> bool:
    """Whether `layer` alone at `width` breaks the rebuild or changes the model's output shape."""
    try:
        model = rewiden.rebuild(serialized, {layer: width}, 0.0, 0.0)
        return tuple(model(x).shape) != out_shape
    except ValueError:
        return True


# --------------------------------------------------------------------------------------------- named graphs
def inception(residual: bool) -> keras.Model:
    inputs = keras.Input((8, 8, 3), name="image")
    stem = L.Conv2D(16, 3, padding="same", activation="relu", name="stem")(inputs)
    b1 = L.Conv2D(8, 1, name="b1")(stem)
    b2 = L.Conv2D(12, 3, padding="same", name="b2")(L.Conv2D(6, 1, name="b2_reduce")(stem))
    b3 = L.Conv2D(4, 1, name="b3")(L.MaxPooling2D(3, 1, padding="same", name="b3_pool")(stem))
    x = L.Concatenate(name="cat")([b1, b2, b3])
    if residual:
        x = L.Add(name="res")([x, L.Conv2D(24, 1, name="proj")(stem)])
    x = L.BatchNormalization(name="bn")(x)
    x = L.Conv2D(10, 1, name="after")(x)
    return keras.Model(inputs, L.Dense(3, name="out")(L.GlobalAveragePooling2D(name="gap")(x)), name="inception")


def test_an_inception_block_searches_every_branch(tmp_path: Path) -> None:
    serialized, found = found_both_ways(inception(residual=False), tmp_path)
    assert searched(found) == {n: (n,) for n in ("stem", "b1", "b2_reduce", "b2", "b3", "after")}
    assert found.fixed == {"out": "it is the output layer"} and found.unfollowed == {}
    rebuilds(serialized, found, np.zeros((2, 8, 8, 3), "float32"), (2, 3), seed=0)


def test_a_concatenate_that_must_match_an_add_keeps_its_inputs(tmp_path: Path) -> None:
    serialized, found = found_both_ways(inception(residual=True), tmp_path)
    assert searched(found) == {n: (n,) for n in ("stem", "b2_reduce", "after")}
    for branch in ("b1", "b2", "b3"):
        assert found.fixed[branch] == "it feeds Concatenate 'cat', whose output must match Add 'res'"
    assert found.fixed["proj"] == "it must match the output of Concatenate 'cat' at Add 'res'"
    x = np.zeros((2, 8, 8, 3), "float32")
    rebuilds(serialized, found, x, (2, 3), seed=1)
    assert all(breaks(serialized, name, 7, x, (2, 3))
               for name in ("b1", "b2", "b3", "proj"))


def test_a_densenet_block_searches_each_growth(tmp_path: Path) -> None:
    inputs = keras.Input((8, 8, 3), name="image")
    x = L.Conv2D(8, 3, padding="same", name="stem")(inputs)
    for i in (1, 2, 3):  # each layer sees all before it
        y = L.Conv2D(4, 3, padding="same", name=f"grow_{i}")(L.ReLU(name=f"relu_{i}")(
            L.BatchNormalization(name=f"bn_{i}")(x)))
        x = L.Concatenate(name=f"dense_{i}")([x, y])
    x = L.AveragePooling2D(2, name="down")(L.Conv2D(10, 1, name="transition")(x))
    model = keras.Model(inputs, L.Dense(4, name="out")(L.GlobalAveragePooling2D(name="gap")(x)), name="densenet")
    serialized, found = found_both_ways(model, tmp_path)
    assert searched(found) == {n: (n,) for n in ("stem", "grow_1", "grow_2", "grow_3", "transition")}
    assert found.fixed == {"out": "it is the output layer"}
    rebuilt = rebuilds(serialized, found, np.zeros((2, 8, 8, 3), "float32"), (2, 4), seed=2)[0]
    growths = sum(width_of(rebuilt.get_layer(n)) for n in ("stem", "grow_1", "grow_2", "grow_3"))
    assert rebuilt.get_layer("transition").kernel.shape[-2] == growths  # the sum flowed through the Concatenates


def test_two_inputs_concatenated_and_a_residual_from_an_input(tmp_path: Path) -> None:
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    left = L.Add(name="skip")([a, L.Dense(4, name="left")(a)])  # a residual from the input keeps its width
    right = L.Dense(6, name="right")(b)
    x = L.Concatenate(name="both")([left, right, b])
    x = L.Dense(8, activation="relu", name="hidden")(L.LayerNormalization(name="ln")(x))
    model = keras.Model([a, b], L.Dense(2, name="out")(x), name="two_inputs")
    serialized, found = found_both_ways(model, tmp_path)
    assert searched(found) == {"right": ("right",), "hidden": ("hidden",)}
    assert found.fixed == {"left": "it is tied by Add 'skip' to the model's input 'a'", "out": "it is the output layer"}
    x = [np.zeros((2, 4), "float32"), np.zeros((2, 3), "float32")]
    rebuilds(serialized, found, x, (2, 2), seed=3)
    assert breaks(serialized, "left", 5, x, (2, 2))


def test_an_add_then_a_concatenate_searches_all_four(tmp_path: Path) -> None:
    inputs = keras.Input((6, 6, 2), name="image")
    a = L.Conv2D(8, 3, padding="same", name="a")(inputs)
    b = L.Conv2D(8, 3, padding="same", name="b")(a)
    c = L.Conv2D(5, 1, name="c")(inputs)
    x = L.Concatenate(name="cat")([L.Add(name="res")([a, b]), c])
    x = L.Dense(7, name="mix")(L.Flatten(name="flat")(x))
    model = keras.Model(inputs, L.Dense(3, activation="softmax", name="out")(x), name="add_cat")
    serialized, found = found_both_ways(model, tmp_path)
    assert searched(found) == {"a+b": ("a", "b"), "c": ("c",), "mix": ("mix",)}
    assert found.fixed == {"out": "it is the output layer"}
    x = np.zeros((2, 6, 6, 2), "float32")
    rebuilds(serialized, found, x, (2, 3), seed=4)
    assert breaks(serialized, "a", 9, x, (2, 3))  # a tie is a real one


def transformer() -> keras.Model:
    tokens = keras.Input((6,), dtype="int32", name="tokens")
    x = L.Embedding(50, 16, name="embed")(tokens)
    attended = L.MultiHeadAttention(num_heads=2, key_dim=8, name="attention")(x, x)
    x = L.LayerNormalization(name="ln_1")(L.Add(name="res_1")([x, L.Dropout(0.1, name="drop")(attended)]))
    h = L.Dense(32, activation="relu", name="ff_inner")(x)
    x = L.LayerNormalization(name="ln_2")(L.Add(name="res_2")([x, L.Dense(16, name="ff_out")(h)]))
    return keras.Model(tokens, L.Dense(3, name="out")(L.GlobalAveragePooling1D(name="pool")(x)), name="encoder")


def test_a_transformer_block_searches_model_width_ffn_and_key_dim(tmp_path: Path) -> None:
    serialized, found = found_both_ways(transformer(), tmp_path)
    assert searched(found) == {"embed+ff_out": ("embed", "ff_out"), "attention": ("attention",),
                               "ff_inner": ("ff_inner",)}
    assert found.group("attention").width == 8 and found.group("embed").width == 16
    assert found.fixed == {"out": "it is the output layer"}
    x = np.random.default_rng(0).integers(0, 50, (2, 6)).astype("int32")
    model = rebuilds(serialized, found, x, (2, 3), seed=5)[0]
    embed, attention = model.get_layer("embed"), model.get_layer("attention")
    assert embed.embeddings_regularizer is not None and attention.get_config()["kernel_regularizer"] is not None
    assert len(model.losses) == 7  # L2 on: embed, the four projections of attention, ff_inner, ff_out
    assert attention.value_dim == attention.key_dim  # value_dim follows key_dim, as Keras defaults it
    assert model.get_layer("ff_out").units == embed.output_dim  # tied to the residual stream


def test_layers_tuner_cannot_follow_fix_the_widths_around_them(tmp_path: Path) -> None:
    inputs = keras.Input((5,), name="x")
    norm = L.Normalization(name="norm")
    h = L.Dense(8, activation="relu", name="h")(inputs)
    norm.adapt(keras.Model(inputs, h).predict(np.random.default_rng(0).normal(size=(40, 5)), verbose=0))
    x = L.Dense(6, name="to_custom")(norm(h))
    x = L.Dense(4, name="to_reshape")(Doubled(name="doubled")(x))
    x = L.Dense(3, name="free")(L.Flatten(name="flat")(L.Reshape((2, 2), name="square")(x)))
    model = keras.Model(inputs, L.Dense(2, name="out")(x), name="unfollowed")
    serialized, found = found_both_ways(model, tmp_path)
    assert searched(found) == {"free": ("free",)}
    assert found.fixed == {
        "h": "it feeds Normalization 'norm', whose mean and variance are shaped by its input",
        "to_custom": "it feeds Doubled 'doubled', a custom layer (tuner_tests>Doubled)",
        "to_reshape": "it feeds Reshape 'square', whose target shape is fixed",
        "out": "it is the output layer"}
    assert found.unfollowed == {"doubled": "Doubled, a custom layer (tuner_tests>Doubled): the widths into it stay "
                                           "as they are"}
    x = np.random.default_rng(1).normal(size=(3, 5)).astype("float32")
    rebuilt = rebuilds(serialized, found, x, (3, 2), seed=6, times=1)[0]
    hidden = keras.Model(rebuilt.input, rebuilt.get_layer("norm").output)
    assert np.std(hidden(x).numpy()) > 0  # the adapted statistics came along, as constants
    assert all(breaks(serialized, name, 7, x, (3, 2)) for name in ("to_reshape", "out"))


def test_a_subclassed_model_is_a_spec_error_naming_model_build() -> None:
    class Tiny(keras.Model):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.hidden = L.Dense(4)

        def call(self, x: Any) -> Any:
            return self.hidden(x)

    model = Tiny()
    model(np.zeros((1, 3), "float32"))
    with pytest.raises(SpecError, match=r"^model.function: Tiny is a subclassed keras.Model: .* give model.build"):
        rewiden.find(rewiden.serialize(model), "model.function")


def test_validate_lists_each_decision(cli, workdir: Path) -> None:
    inputs = keras.Input((4,), name="features")
    a = L.Dense(8, activation="relu", name="a")(inputs)
    b = L.Dense(8, name="b")(a)
    x = L.Concatenate(name="cat")([L.Add(name="res")([a, b]), L.Dense(5, name="c")(inputs)])
    x = L.Dense(6, name="d")(Doubled(name="doubled")(L.Dense(4, name="e")(x)))
    model = keras.Model(inputs, L.Dense(3, activation="softmax", name="out")(x), name="iris_graph")
    model.save(workdir / "studies" / "graph.keras")
    (workdir / "studies" / "graph.yaml").write_text(yaml.safe_dump({
        "data": {"bundled": "iris", "seed": 0}, "model": {"keras": "graph.keras"}, "training": {"epochs": 1},
        "sampler": {"name": "random", "seed": 0}, "pruner": "none", "budget": {"trials": 1}}))
    result = cli("validate", "graph")
    assert result.exit_code == 0, result.output
    for line in ("  width layer a+b: 8 (tied: a, b)", "  width layer c: 5", "  width layer d: 6",
                 "  left as it is: e (it feeds Doubled 'doubled', a custom layer (tuner_tests>Doubled))",
                 "  left as it is: out (it is the output layer)",
                 "  not followed: doubled (Doubled, a custom layer (tuner_tests>Doubled): the widths into it stay as "
                 "they are)"):
        assert line in result.output.splitlines(), result.output


# --------------------------------------------------------------------------------------------- random graphs
OPS = ["conv", "conv", "dense", "bn", "pool", "add", "add", "multiply", "concat", "concat"]


def random_graph(steps: list[tuple[str, int, int, int]]) -> keras.Model:
    """A valid Functional graph of Conv2D, Dense, BatchNormalization and pooling joined by Add, Multiply and
    Concatenate, from `steps` (op, which tensor, which partner, width). A merge takes a tensor of the same shape, or
    a new branch made to fit; every tensor made is pooled into the output."""
    inputs = keras.Input((4, 4, 3), name="image")
    tensors = [(inputs, 4, 3)]  # (tensor, spatial size or 0 when flat, width)
    names = iter(f"l{i}" for i in range(1000))

    def branch(source: tuple, width: int) -> tuple:
        kind = L.Conv2D(width, 1, name=next(names)) if source[1] else L.Dense(width, name=next(names))
        return kind(source[0]), source[1], width

    for op, which, partner, width in steps:
        t = tensors[-1 - which % len(tensors)]
        if op == "conv" and t[1]:
            tensors.append((L.Conv2D(width, 3, padding="same", name=next(names))(t[0]), t[1], width))
        elif op in ("conv", "dense"):
            tensors.append(branch(t, width))
        elif op == "bn":
            tensors.append((L.BatchNormalization(name=next(names))(t[0]), t[1], t[2]))
        elif op == "pool" and t[1] == 4:
            tensors.append((L.MaxPooling2D(2, name=next(names))(t[0]), 2, t[2]))
        elif op == "pool" and t[1]:
            tensors.append((L.GlobalAveragePooling2D(name=next(names))(t[0]), 0, t[2]))
        elif op == "pool":
            continue
        else:
            fits = [u for u in tensors if u is not t and u[1] == t[1] and (op == "concat" or u[2] == t[2])]
            other = fits[partner % len(fits)] if fits and partner % 3 else branch(t, t[2] if op != "concat" else width)
            merge = {"add": L.Add, "multiply": L.Multiply, "concat": L.Concatenate}[op](name=next(names))
            tensors.append((merge([t[0], other[0]]), t[1], t[2] + other[2] if op == "concat" else t[2]))
    ends = [L.GlobalAveragePooling2D(name=next(names))(t[0]) if t[1] else t[0] for t in tensors[1:]] or [inputs]
    x = L.Concatenate(name="ends")(ends) if len(ends) > 1 else ends[0]  # every layer made reaches the output
    return keras.Model(inputs, L.Dense(3, name="out")(x), name="random_graph")


STEPS = st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 3), st.integers(0, 5), st.sampled_from([2, 3, 4])),
                 min_size=3, max_size=10)


@settings(derandomize=True, max_examples=80, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS)
def test_random_graphs_rebuild_at_any_width_and_fix_only_what_must_stay(steps: list) -> None:
    model = random_graph(steps)
    serialized = rewiden.serialize(model)
    found = rewiden.find(serialized)
    layers = [l["config"]["name"] for l in rewiden.layers_of(serialized) if l["class_name"] in WIDTH_KEYS]
    in_groups = [n for g in found.groups for n in g.layers]
    assert sorted(in_groups + list(found.fixed)) == sorted(layers)  # each width layer searched or fixed, once
    assert found.fixed["out"] == "it is the output layer"
    assert all(REASON.match(why) for why in found.fixed.values()), found.fixed
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 3)).astype("float32")
    rebuilds(serialized, found, x, (2, 3), seed=len(steps), times=2)
    for name in found.fixed:  # a fixed width is one the model cannot change alone
        base = next(width_of(l) for l in model.layers if l.name == name)
        assert breaks(serialized, name, base + 1, x, (2, 3)), (name, found.fixed[name])
