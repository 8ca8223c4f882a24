"""An existing Keras model, re-widened: its width-bearing layers found, and the model rebuilt from its Keras config
with other widths, L2 on those layers' weights and dropout after them.

Every tensor's width (its last axis) is read from the config as a sum of layer widths (widthgraph.py). A width layer
(Dense, Conv*, SeparableConv*, LSTM/GRU/SimpleRNN, Embedding's output_dim) takes any width in and starts one of its
own; layers that keep the channel count (normalization, activations, dropout, pooling, padding, `Rescaling`,
`Normalization`, ...) pass it on; `DepthwiseConv*` multiplies it by its depth_multiplier and `Flatten` by the spatial
size; a `Concatenate` on the channel axis sums its inputs (on another axis, its inputs must be equal);
`MultiHeadAttention` keeps its query's width (a fixed one with `output_shape`), and its key_dim is a width of its own,
searched like a layer's (value_dim follows it when the two are equal, as Keras defaults it, else stays). The model's
inputs, and the outputs of layers tuner does not follow, are fixed widths.

Where widths must be equal (an element-wise merge: `Add`, `Subtract`, `Multiply`, `Average`, `Maximum`, `Minimum`;
a shared layer's inputs; an RNN's initial_state; `Attention`'s query and key) the layers are **tied** and searched as
one width: a Transformer's embedding and the last Dense of each MLP block feeding a residual Add are one width, the
MLP's inner Dense another. A width that must equal a fixed one (a residual from the model's input) stays; so does a
width of 1 that broadcasts. Where a tensor's width cannot change (the model's output, a `Reshape` or `Permute`, an
adapted `Normalization`, a per-channel `Rescaling`, a grouped convolution, a layer type tuner does not follow, a
custom layer, a model inside the model) the layers its width is made of stay. A `Concatenate`'s inputs are free
unless its output is so constrained, or must match another width at a merge: a sum cannot be tied to one width,
so they stay ("it feeds Concatenate 'cat', whose output must match Add 'res'"). Each width that stays says why;
each layer not followed is named with what tuner did instead. A subclassed `keras.Model` has no layer graph in its
config: re-widening it is a SpecError naming `model.build` as the way.

Works on the config alone (Sequential or Functional models), so the rebuilt model has fresh weights (an adapted
`Normalization` keeps its statistics, written into its config). L2 goes on the kernels (Embedding: its embeddings;
MultiHeadAttention: its four projections; SeparableConv: depthwise and pointwise).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from tuner.errors import SpecError
from tuner.training.widthgraph import WIDTH_KEYS, Found, Graph, Group

__all__ = ["WIDTH_KEYS", "Found", "Group", "find", "rebuild", "serialize"]

if TYPE_CHECKING:
    import keras

KERNEL_REGULARIZERS = {"SeparableConv1D": ("depthwise_regularizer", "pointwise_regularizer"),
                       "SeparableConv2D": ("depthwise_regularizer", "pointwise_regularizer"),
                       "Embedding": ("embeddings_regularizer",)}


def serialize(model: keras.Model) -> dict[str, Any]:
    """The model's config; an adapted `Normalization` keeps what it learned (its mean and variance, as constants),
    since the rebuilt model starts with fresh weights."""
    import keras
    import numpy as np

    serialized = keras.saving.serialize_keras_object(model)
    configs = {l["config"]["name"]: l["config"] for l in serialized.get("config", {}).get("layers", [])}
    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras.layers.Normalization) and layer.input_mean is None and layer.built \
                and layer.name in configs:
            configs[layer.name]["mean"] = np.asarray(layer.adapt_mean).tolist()
            configs[layer.name]["variance"] = np.asarray(layer.adapt_variance).tolist()
    return serialized


def layers_of(serialized: dict[str, Any]) -> list[dict[str, Any]]:
    return serialized["config"]["layers"]


def find(serialized: dict[str, Any], key: str = "model") -> Found:
    """The base model's width-bearing layers, grouped by ties, and those that stay with why; `key` names the study
    file's field in an error."""
    if "layers" not in serialized.get("config", {}):
        raise SpecError(f"{key}: {serialized.get('class_name')} is a subclassed keras.Model: its config has no layer "
                        f"graph to re-widen; give model.build: file.py:function, a function of hp that builds it "
                        f"with the widths hp.units[...]")
    graph = Graph(layers_of(serialized), serialized["class_name"] == "Sequential", output_refs(serialized))
    return graph.found()


def rebuild(serialized: dict[str, Any], widths: dict[str, int], l2: float | None, dropout: float) -> keras.Model:
    """The base model with each listed layer at its new width, L2 `l2` on the kernels (embeddings) of every searched
    layer (None: each keeps its own regularizer) and a Dropout layer of rate `dropout` after each (0: none), fresh
    weights; not compiled."""
    import keras

    return keras.saving.deserialize_keras_object(rewidened(serialized, widths, l2, dropout))


def rewidened(serialized: dict[str, Any], widths: dict[str, int], l2: float | None, dropout: float) -> dict[str, Any]:
    """The config `rebuild` builds."""
    import keras

    new = copy.deepcopy(serialized)
    new.pop("build_config", None)
    layers = layers_of(new)
    for layer in layers:  # built from the widths upstream, not from the shapes the base model was built with
        layer.pop("build_config", None)
    regularizer = keras.saving.serialize_keras_object(keras.regularizers.L2(l2)) if l2 else None
    for layer in layers:
        name, kind, config = layer["config"]["name"], layer["class_name"], layer["config"]
        if name not in widths:
            continue
        if kind == "MultiHeadAttention" and config.get("value_dim") == config["key_dim"]:
            config["value_dim"] = int(widths[name])
        config[WIDTH_KEYS[kind]] = int(widths[name])
        for regularized in KERNEL_REGULARIZERS.get(kind, ("kernel_regularizer",)) if l2 is not None else ():
            config[regularized] = copy.deepcopy(regularizer)
    if dropout > 0:
        insert_after(new, {name: keras.layers.Dropout(dropout, name=f"{name}_dropout") for name in widths})
    return new


def insert_after(serialized: dict[str, Any], after: dict[str, keras.layers.Layer]) -> None:
    """A new layer after each named layer (on its first output; a shared layer gets one call per call)."""
    import keras

    layers = layers_of(serialized)
    sequential = serialized["class_name"] == "Sequential"
    for name, layer in after.items():
        index = next(i for i, l in enumerate(layers) if l["config"]["name"] == name)
        added = keras.saving.serialize_keras_object(layer)
        if not sequential:
            added["name"] = added["config"]["name"]
            calls = max(1, len(layers[index].get("inbound_nodes", [])))
            added["inbound_nodes"] = [{"args": [_tensor_ref(name, k)], "kwargs": {}} for k in range(calls)]
            for other in layers:
                other["inbound_nodes"] = _renamed(other.get("inbound_nodes", []), name, added["name"])
            serialized["config"]["output_layers"] = _renamed(serialized["config"]["output_layers"], name,
                                                             added["name"])
        layers.insert(index + 1, added)


def _tensor_ref(name: str, node: int = 0) -> dict[str, Any]:
    """A reference to a layer's output in a Functional config (its shape is a placeholder: Keras links the layer's
    real output)."""
    return {"class_name": "__keras_tensor__", "config": {"shape": [None], "dtype": "float32",
                                                         "keras_history": [name, node, 0]}}


def _renamed(nodes: Any, old: str, new: str) -> Any:
    """Inbound nodes (or output refs) with every reference to `old`'s first output pointed at `new`'s."""
    if isinstance(nodes, dict):
        history = nodes.get("config", {}).get("keras_history") if nodes.get("class_name") == "__keras_tensor__" \
            else None
        if history is not None:
            if history[0] == old and history[2] == 0:
                return {**nodes, "config": {**nodes["config"], "keras_history": [new, history[1], 0]}}
            return nodes
        return {k: _renamed(v, old, new) for k, v in nodes.items()}
    if isinstance(nodes, (list, tuple)):
        if len(nodes) == 3 and nodes[0] == old and nodes[2] == 0 and isinstance(nodes[1], int):
            return [new, nodes[1], 0]  # an output ref: [layer, node, tensor]
        return [_renamed(v, old, new) for v in nodes]
    return nodes


def output_refs(serialized: dict[str, Any]) -> list[tuple[str, int, int]]:
    if serialized["class_name"] == "Sequential":
        return [(layers_of(serialized)[-1]["config"]["name"], 0, 0)]
    outputs = serialized["config"]["output_layers"]
    if outputs and isinstance(outputs[0], str):  # a single output: [name, node, tensor]
        outputs = [outputs]
    return [(out[0], int(out[1]), int(out[2])) for out in outputs]
