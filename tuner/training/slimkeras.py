"""A user's own Keras model as a slimmable network (tuner.training.slimmable does tuner's own stacks): the model at
its widest, with a channel mask after every layer whose output width is a searched one, so that the first k
channels of each searched width (a tied group's layers together) make the narrower network.

A mask zeroes the channels past k. A layer after it sees zeros where the narrow network has no channel, so Dense,
convolutions, element-wise merges, concatenation, flattening and pooling compute exactly what the narrow network
computes; a layer that turns zeros into something else (a bias, Batch Normalization's offset, a sigmoid) is followed
by a mask of its own. Batch Normalization's batch statistics are then the narrow network's; its moving statistics,
shared by every width, are recomputed for each width from a batch of training rows before that width is scored.
What masks cannot make exact is refused: a normalization across the channels (LayerNormalization...), a searched
recurrent layer or attention key width. Every width costs the widest network's compute, where the slicing of
tuner's own stacks costs each width its own.

Knows nothing of Optuna; works on configs, as tuner.training.rewiden does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tuner.data import Dataset
from tuner.errors import SpecError
from tuner.training import rewiden
from tuner.training.slimmable import sandwiches, score_outputs
from tuner.training.widthgraph import ELEMENTWISE, KEEPS_WIDTH, RNN, Graph

if TYPE_CHECKING:
    import keras

Widths = tuple[int, ...]  # one per searched width, in the order of `names`
ACROSS_CHANNELS = {"LayerNormalization", "GroupNormalization", "UnitNormalization", "Softmax"}
# layers that keep zero channels zero: after a concatenation or a flattening, whose width is no single one, these
# need no mask of their own
ZERO_KEEPING = ELEMENTWISE | {
    "Concatenate", "Flatten", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
    "GaussianDropout", "Identity", "ReLU", "LeakyReLU", "ELU", "ActivityRegularization", "Masking", "Reshape",
    "Permute", "RepeatVector", "Resizing", "CenterCrop", "RandomCrop", "RandomFlip", "RandomRotation", "RandomZoom",
    "RandomTranslation"} | {k for k in KEEPS_WIDTH if "Pooling" in k or k.startswith(("ZeroPadding", "Cropping",
                                                                                       "UpSampling"))}
CALIBRATION = 256  # training rows whose batch statistics are Batch Normalization's for a width being scored
ZERO_AT_ZERO = {"linear", "relu", "relu6", "elu", "selu", "tanh", "gelu", "silu", "swish", "leaky_relu", "mish"}


def mask_points(serialized: dict[str, Any], searched: dict[str, str], key: str = "one_shot") -> dict[str, str]:
    """Each layer whose output takes a mask, and the searched width (`searched`: width layer -> its width's name)
    the mask is for; a SpecError names a layer that masks cannot make exact."""
    layers = rewiden.layers_of(serialized)
    graph = Graph(layers, serialized["class_name"] == "Sequential", rewiden.output_refs(serialized))
    kinds = {l["config"]["name"]: (l["class_name"], l["config"]) for l in layers}
    points: dict[str, str] = {}
    for (name, _), outs in graph.out.items():
        if name not in kinds:
            continue
        kind, config = kinds[name]
        width = outs[0]
        hit = [s for s in width.terms if s in searched]
        if kind in RNN | {"MultiHeadAttention"} and name in searched:
            raise SpecError(f"{key}: {kind} {name!r} is searched, and its width is inside its recurrence or "
                            f"attention, which masks cannot narrow; leave it out of space.units or remove one_shot")
        if not hit:
            continue
        if kind in ACROSS_CHANNELS:
            raise SpecError(f"{key}: {kind} {name!r} normalizes across the channels of the searched width "
                            f"{searched[hit[0]]!r}, so a narrower width cannot be read off the widest network; "
                            f"remove one_shot to search this model trial by trial")
        simple = width.simple()
        if simple in searched:
            points.setdefault(name, searched[simple])
        elif kind not in ZERO_KEEPING and not (kind == "Activation" and config.get("activation") in ZERO_AT_ZERO):
            raise SpecError(f"{key}: {kind} {name!r} takes the searched width {searched[hit[0]]!r} joined with "
                            f"others, which masks cannot narrow exactly; remove one_shot to search this model "
                            f"trial by trial")
    return points


@dataclass
class MaskedNet:
    """The widest model with its masks, and how to score a narrower one on its weights."""

    model: Any  # keras.Model, with WidthMask layers
    masks: dict[str, Any]  # width name -> tf.Variable of the widest width's ones and zeros
    names: tuple[str, ...]
    widest: Widths
    task: str
    head: str  # how the output reads: "softmax", "logits", "sigmoid", "sigmoid_logit" or "value"
    calibration: Any  # training rows for Batch Normalization's statistics (None: the model has none)
    std: float = 1.0
    _forward: Any = None

    def arrays(self) -> list[np.ndarray]:
        """The shared weights, Batch Normalization's statistics included, to keep (`restore` takes them back)."""
        return [np.asarray(w) for w in self.model.get_weights()]

    def restore(self, arrays: list[np.ndarray]) -> None:
        self.model.set_weights(arrays)

    def outputs(self, x: Any, widths: Widths) -> Any:
        """Logits (classification) or predictions at `widths`, Batch Normalization's moving statistics recomputed
        for them first (from the calibration rows: the moving statistics become that batch's)."""
        import keras
        import tensorflow as tf

        if self._forward is None:
            for layer in self.model.layers:
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.momentum = 0.0  # training is over: a training-mode pass sets the statistics to its batch's

            @tf.function(reduce_retracing=True)
            def forward(x: Any, widths: Any) -> Any:
                _assign(self.masks, self.names, self.widest, widths)
                if self.calibration is not None:
                    self.model(self.calibration, training=True)
                return log_probs(self.model(x, training=False), self.head)

            self._forward = forward
        return self._forward(tf.convert_to_tensor(x), tf.constant(widths, tf.int32))

    def score(self, data: Dataset, widths: Widths, metric: str) -> float:
        from tuner.training.fit import as_input

        part = "val" if metric.startswith("val_") else "train"
        x, y = getattr(data, f"x_{part}"), getattr(data, f"y_{part}")
        return score_outputs(self.outputs(as_input(self.model, x), widths), y, self.task, metric, self.std)


def masked(serialized: dict[str, Any], points: dict[str, str], widest: dict[str, int]) -> tuple[Any, dict[str, Any]]:
    """The model of `serialized` with a WidthMask after each layer of `points`, and the masks (all ones)."""
    import keras
    import tensorflow as tf

    config = dict(serialized)
    config["config"] = dict(config["config"], layers=[dict(l) for l in rewiden.layers_of(serialized)])
    mask_layer = _mask_layer()
    rewiden.insert_after(config, {name: mask_layer(name=f"{name}_width_mask") for name in points})
    model = keras.saving.deserialize_keras_object(config)
    masks = {name: tf.Variable(tf.ones(width), trainable=False) for name, width in widest.items()}
    for layer in model.layers:
        if isinstance(layer, mask_layer):
            object.__setattr__(layer, "mask", masks[points[layer.name.removesuffix("_width_mask")]])
    return model, masks


def train(model: Any, masks: dict[str, Any], data: Dataset, names: tuple[str, ...], widest: Widths,
          narrowest: Widths, draw: Callable[[np.random.Generator], Widths], *, learning_rate: float, batch_size: int,
          epochs: int, seed: int = 0, optimizer: str = "adam", sandwich: int = 4,
          on_epoch: Callable[[int], None] = lambda epoch: None) -> MaskedNet:
    """Train `model` (from `masked`) as a slimmable network: the sandwich rule and in-place distillation, as
    tuner.training.slimmable trains tuner's own stacks, with the model's own L2 and dropout."""
    import keras
    import tensorflow as tf

    from tuner.training.fit import as_input
    from tuner.training.model import make_optimizer
    from tuner.training.usermodels import last_activation

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    head = _head(data.task, int(model.outputs[0].shape[-1]), last_activation(model))
    norms = any(isinstance(l, keras.layers.BatchNormalization) for l in model.layers)
    x_all = tf.constant(as_input(model, data.x_train))
    classify = data.task == "classification"
    y_all = tf.constant(data.y_train.astype(np.int64 if classify else np.float32))
    net = MaskedNet(model, masks, names, tuple(widest), data.task, head,
                    tf.gather(x_all, rng.permutation(len(x_all))[:CALIBRATION]) if norms else None,
                    data.target_scaling.std if data.target_scaling is not None else 1.0)
    variables = model.trainable_variables
    opt = make_optimizer(optimizer, learning_rate)

    def at(x: Any, widths: Any) -> Any:
        _assign(masks, names, widest, widths)
        return log_probs(model(x, training=True), head)

    @tf.function(reduce_retracing=True)
    def step(x: Any, y: Any, chosen: Any) -> Any:
        with tf.GradientTape() as tape:
            top = at(x, chosen[0])
            if classify:
                loss = -tf.reduce_mean(tf.gather(top, y, batch_dims=1))
                teacher = tf.stop_gradient(tf.exp(top))
            else:
                loss = tf.reduce_mean(tf.square(top - tf.reshape(y, tf.shape(top))))
                teacher = tf.stop_gradient(top)
            if model.losses:
                loss += tf.add_n(model.losses)
            for i in range(1, chosen.shape[0]):
                out = at(x, chosen[i])
                loss += -tf.reduce_mean(tf.reduce_sum(teacher * out, axis=-1)) if classify else \
                    tf.reduce_mean(tf.square(out - teacher))
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    sandwiches(step, x_all, y_all, widest, narrowest, draw, rng, batch_size=batch_size, epochs=epochs,
               sandwich=sandwich, on_epoch=on_epoch)
    return net


def _assign(masks: dict[str, Any], names: tuple[str, ...], widest: Widths, widths: Any) -> None:
    import tensorflow as tf

    for i, (name, top) in enumerate(zip(names, widest)):
        masks[name].assign(tf.cast(tf.range(top) < widths[i], tf.float32))


def log_probs(out: Any, head: str) -> Any:
    """The model's output as log-probabilities of the classes (a regression's: as it is)."""
    import tensorflow as tf

    if head == "softmax":
        return tf.math.log(tf.clip_by_value(out, 1e-7, 1.0))
    if head == "logits":
        return tf.nn.log_softmax(out)
    if head in ("sigmoid", "sigmoid_logit"):
        z = out if head == "sigmoid_logit" else tf.math.log(tf.clip_by_value(out, 1e-7, 1 - 1e-7) /
                                                            tf.clip_by_value(1 - out, 1e-7, 1.0))
        return tf.concat([tf.math.log_sigmoid(-z), tf.math.log_sigmoid(z)], axis=-1)
    return out


def _head(task: str, width: int, activation: str) -> str:
    if task != "classification":
        return "value"
    if width == 1:
        return "sigmoid" if activation == "sigmoid" else "sigmoid_logit"
    return "softmax" if activation == "softmax" else "logits"


@functools.cache
def _mask_layer() -> type:
    import keras

    @keras.saving.register_keras_serializable(package="tuner")
    class WidthMask(keras.layers.Layer):
        """Zeroes the channels past a searched width (its `mask`, set once the model is built; none: all kept)."""

        def call(self, x: Any) -> Any:
            mask = getattr(self, "mask", None)
            return x if mask is None else x * keras.ops.cast(mask, x.dtype)

    return WidthMask
