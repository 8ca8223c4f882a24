"""An existing Keras model, re-widened: its width-bearing hidden layers found, and the model rebuilt from its Keras
config with other widths, L2 on those layers' kernels and dropout after them.

Width-bearing layers are Dense, Conv1D/2D/3D (and their transposes), SeparableConv1D/2D, LSTM, GRU and SimpleRNN.
Widths flow through layers that keep the channel count (normalization, activations, dropout, pooling, padding,
cropping, upsampling); element-wise merges (`Add`, `Multiply`, ...) need equal widths, so the layers feeding one are
tied to one width. A width feeding the model's outputs (the output layer), the model's input, a `Concatenate`, a
`Reshape` or any other layer whose output width tuner cannot follow stays as it is. Works on the config alone
(Sequential or Functional models), so the rebuilt model has fresh weights.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras

WIDTH_KEYS = {"Dense": "units", "LSTM": "units", "GRU": "units", "SimpleRNN": "units", "Conv1D": "filters",
              "Conv2D": "filters", "Conv3D": "filters", "Conv1DTranspose": "filters", "Conv2DTranspose": "filters",
              "Conv3DTranspose": "filters", "SeparableConv1D": "filters", "SeparableConv2D": "filters"}
KERNEL_REGULARIZERS = {"SeparableConv1D": ("depthwise_regularizer", "pointwise_regularizer"),
                       "SeparableConv2D": ("depthwise_regularizer", "pointwise_regularizer")}
KEEPS_WIDTH = {"BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization", "Activation",
               "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "Dropout", "SpatialDropout1D", "SpatialDropout2D",
               "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization",
               "Identity", "Masking", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D",
               "AveragePooling2D", "AveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
               "GlobalMaxPooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
               "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D",
               "UpSampling1D", "UpSampling2D", "UpSampling3D"}
ELEMENTWISE = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}
NEW_WIDTH = {"Flatten"}  # its width is another one, but it takes any width before it


@dataclass(frozen=True)
class Group:
    """Width-bearing layers whose widths must stay equal (tied by an element-wise merge), searched as one."""

    name: str  # its first layer's name; several layers: "conv_1+conv_2"
    layers: tuple[str, ...]
    width: int  # the base model's width


@dataclass(frozen=True)
class Found:
    """What the base model offers: the groups to search, and the width layers left alone, with why."""

    groups: tuple[Group, ...]
    fixed: dict[str, str]  # layer name -> why its width stays

    def group(self, name: str) -> Group | None:
        """The group that holds layer (or group) `name`."""
        return next((g for g in self.groups if name == g.name or name in g.layers), None)


def serialize(model: keras.Model) -> dict[str, Any]:
    import keras

    return keras.saving.serialize_keras_object(model)


def layers_of(serialized: dict[str, Any]) -> list[dict[str, Any]]:
    return serialized["config"]["layers"]


def find(serialized: dict[str, Any]) -> Found:
    """The base model's width-bearing hidden layers, grouped by ties."""
    layers = layers_of(serialized)
    sequential = serialized["class_name"] == "Sequential"
    inputs_of = _inputs(layers, sequential)
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    def tie(a: str, b: str) -> None:
        parent.setdefault(a, a), parent.setdefault(b, b)
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[rb] = ra

    source: dict[str, str] = {}  # layer name -> the width source of its output
    fixed_sources: dict[str, str] = {}  # width source -> why it cannot change
    for layer in layers:
        name, kind = layer["config"]["name"], layer["class_name"]
        ins = [source[i] for i in inputs_of.get(name, []) if i in source]
        if kind == "InputLayer":
            source[name] = f"input:{name}"
            fixed_sources[source[name]] = "the model's input"
        elif kind in WIDTH_KEYS:
            source[name] = name
            parent.setdefault(name, name)
        elif kind in KEEPS_WIDTH and len(ins) == 1:
            source[name] = ins[0]
        elif kind in ELEMENTWISE and ins:
            for other in ins[1:]:
                tie(ins[0], other)
            source[name] = ins[0]
        else:
            source[name] = f"other:{name}"
            fixed_sources[source[name]] = f"it is tied to {kind} {name!r}, whose width tuner does not follow"
            if kind not in NEW_WIDTH:  # what feeds a layer tuner cannot follow keeps its width
                for i in ins:
                    fixed_sources.setdefault(i, f"it feeds {kind} {name!r}, whose width tuner does not follow")
    outputs = _output_names(serialized, layers, sequential)
    for out in outputs:
        fixed_sources.setdefault(source[out], "it is the output layer")
    for src in list(fixed_sources):  # ties spread fixedness to the whole group
        for other in parent:
            if src in parent and root(other) == root(src):
                fixed_sources.setdefault(other, fixed_sources[src])
    widths = {l["config"]["name"]: int(l["config"][WIDTH_KEYS[l["class_name"]]]) for l in layers
              if l["class_name"] in WIDTH_KEYS}
    members: dict[str, list[str]] = {}
    for name in widths:
        members.setdefault(root(name), []).append(name)
    groups, fixed = [], {}
    for names in members.values():
        why = next((fixed_sources[n] for n in names if n in fixed_sources), None)
        tied_to_fixed = next((fixed_sources[s] for s in fixed_sources if s in parent and root(s) == root(names[0])),
                             None)
        why = why or tied_to_fixed
        if why is None and len({widths[n] for n in names}) > 1:
            why = f"the layers tied to it ({', '.join(names)}) differ in width"
        if why is not None:
            fixed.update({n: why for n in names})
            continue
        groups.append(Group("+".join(names), tuple(names), widths[names[0]]))
    return Found(tuple(groups), fixed)


def rebuild(serialized: dict[str, Any], widths: dict[str, int], l2: float, dropout: float) -> keras.Model:
    """The base model with each listed layer at its new width, L2 `l2` on the kernels of every searched layer and a
    Dropout layer of rate `dropout` after each (0: none), fresh weights; not compiled."""
    import keras

    new = copy.deepcopy(serialized)
    new.pop("build_config", None)
    layers = layers_of(new)
    for layer in layers:  # built from the widths upstream, not from the shapes the base model was built with
        layer.pop("build_config", None)
    regularizer = keras.saving.serialize_keras_object(keras.regularizers.L2(l2)) if l2 > 0 else None
    for layer in layers:
        name, kind = layer["config"]["name"], layer["class_name"]
        if name not in widths:
            continue
        layer["config"][WIDTH_KEYS[kind]] = int(widths[name])
        for key in KERNEL_REGULARIZERS.get(kind, ("kernel_regularizer",)):
            layer["config"][key] = copy.deepcopy(regularizer)
    if dropout > 0:
        _insert_dropout(new, [n for n in widths], dropout)
    return keras.saving.deserialize_keras_object(new)


def _insert_dropout(serialized: dict[str, Any], after: list[str], rate: float) -> None:
    import keras

    layers = layers_of(serialized)
    sequential = serialized["class_name"] == "Sequential"
    for name in after:
        index = next(i for i, l in enumerate(layers) if l["config"]["name"] == name)
        drop = keras.saving.serialize_keras_object(keras.layers.Dropout(rate, name=f"{name}_dropout"))
        if not sequential:
            drop["name"] = drop["config"]["name"]
            drop["inbound_nodes"] = [{"args": [_tensor_ref(name)], "kwargs": {}}]
            for other in layers:
                other["inbound_nodes"] = _renamed(other.get("inbound_nodes", []), name, drop["name"])
        layers.insert(index + 1, drop)


def _tensor_ref(name: str) -> dict[str, Any]:
    """A reference to a layer's output in a Functional config (its shape is a placeholder: Keras links the layer's
    real output)."""
    return {"class_name": "__keras_tensor__", "config": {"shape": [None], "dtype": "float32",
                                                         "keras_history": [name, 0, 0]}}


def _renamed(nodes: Any, old: str, new: str) -> Any:
    """Inbound nodes with every reference to `old`'s output pointed at `new`'s."""
    if isinstance(nodes, dict):
        if nodes.get("class_name") == "__keras_tensor__" and nodes["config"]["keras_history"][0] == old:
            return {**nodes, "config": {**nodes["config"], "keras_history": [new, 0, 0]}}
        return {k: _renamed(v, old, new) for k, v in nodes.items()}
    if isinstance(nodes, (list, tuple)):
        return [_renamed(v, old, new) for v in nodes]
    return nodes


def _inputs(layers: list[dict[str, Any]], sequential: bool) -> dict[str, list[str]]:
    """Each layer's input layers."""
    if sequential:
        names = [l["config"]["name"] for l in layers]
        return {b: [a] for a, b in zip(names, names[1:], strict=False)}
    return {l["config"]["name"]: sorted(set(_refs(l.get("inbound_nodes", [])))) for l in layers}


def _refs(nodes: Any) -> list[str]:
    if isinstance(nodes, dict):
        if nodes.get("class_name") == "__keras_tensor__":
            return [nodes["config"]["keras_history"][0]]
        return [r for v in nodes.values() for r in _refs(v)]
    if isinstance(nodes, (list, tuple)):
        return [r for v in nodes for r in _refs(v)]
    return []


def _output_names(serialized: dict[str, Any], layers: list[dict[str, Any]], sequential: bool) -> list[str]:
    if sequential:
        return [layers[-1]["config"]["name"]]
    outputs = serialized["config"]["output_layers"]
    if outputs and isinstance(outputs[0], str):  # a single output: [name, node, tensor]
        outputs = [outputs]
    return [out[0] for out in outputs]
