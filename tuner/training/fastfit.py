"""Fast training for tuner's Dense MLPs: one graph per depth, a whole epoch per call, shared by every trial.

`model.fit` pays per trial to trace a new graph and per batch to dispatch a step from Python. For the models
`build_model` makes (Dense layers with optional Dropout, Adam or SGD) the arithmetic is the same whatever the
widths, so the epoch is written once as a pure function of tensors: weights and optimizer slots go in and come
out, widths stay dynamic (`None` in the input signature), and L2, dropout, learning rate and batch size are tensor
arguments. The graph is traced once per (depth, activation, task, optimizer) and reused by every later trial of
that kind in the process. The Keras model is still built per trial: its initial weights are the starting point and
the trained weights are written back into it. Callbacks get the same per-epoch logs as `model.fit`'s.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import Any

from tuner.data import Dataset
from tuner.record import Hyperparams
from tuner.training import loop
from tuner.training.model import loss_and_metric

ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "selu", "gelu", "swish", "softplus", "linear")

_graphs: dict[tuple[Any, ...], Any] = {}
_tensors: dict[int, tuple[Any, ...]] = {}
_lock = threading.Lock()  # the graphs' variables are shared: one trial at a time per process


@dataclass(frozen=True)
class Plan:
    """What the fast path needs to know about a model it can train; None from `plan` means use `model.fit`."""

    depth: int
    activation: str
    task: str
    optimizer: str
    learning_rate: float
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7


def plan(model: Any, hp: Hyperparams, task: str) -> Plan | None:
    """Recognise a model that `build_model` made from `hp`; anything else (or a changed one) gets None."""
    import keras

    if not isinstance(hp, Hyperparams):  # the user's own model
        return None

    optimizer = getattr(model, "optimizer", None)
    name = {keras.optimizers.Adam: "adam", keras.optimizers.SGD: "sgd"}.get(type(optimizer))
    if name is None or hp.activation not in ACTIVATIONS or optimizer_extras(optimizer, name):
        return None
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    others = [layer for layer in model.layers if not isinstance(layer, (keras.layers.Dense, keras.layers.Dropout))]
    if others or len(dense) != len(hp.layers) + 1 or not isinstance(model, keras.Sequential):
        return None
    for layer, spec in zip(dense, hp.layers, strict=False):
        if layer.units != spec.units or not layer.use_bias or layer.activation.__name__ != hp.activation:
            return None
    head = "softmax" if task == "classification" else "linear"
    if dense[-1].activation.__name__ != head or not dense[-1].use_bias or dense[-1].kernel_regularizer is not None:
        return None
    loss, _ = loss_and_metric(task)
    if getattr(model, "loss", None) != loss:
        return None
    if name == "adam":
        return Plan(len(hp.layers), hp.activation, task, name, float(optimizer.learning_rate.numpy()),
                    float(optimizer.beta_1), float(optimizer.beta_2), float(optimizer.epsilon))
    return Plan(len(hp.layers), hp.activation, task, name, float(optimizer.learning_rate.numpy()))


def optimizer_extras(optimizer: Any, name: str) -> bool:
    """Options the fast path does not implement (clipping, weight decay, EMA, AMSGrad, momentum)."""
    extras = [optimizer.clipnorm, optimizer.clipvalue, optimizer.global_clipnorm, optimizer.weight_decay]
    if any(value not in (None, 0, 0.0) for value in extras) or optimizer.use_ema:
        return True
    if name == "adam":
        return bool(optimizer.amsgrad)
    return bool(optimizer.momentum) or bool(optimizer.nesterov)


def fit(model: Any, data: Dataset, hp: Hyperparams, epochs: int, callbacks: list[Any], seed: int,
        how: Plan) -> dict[str, list[float]]:
    """Train `model` in place like `model.fit(..., shuffle=True)` and return the same history keys."""
    with _lock:
        return _fit(model, data, hp, epochs, callbacks, seed, how)


def _fit(model: Any, data: Dataset, hp: Hyperparams, epochs: int, callbacks: list[Any], seed: int,
         how: Plan) -> dict[str, list[float]]:
    import tensorflow as tf

    graph = _graph(how)
    x_train, y_train, x_val, y_val, *_ = _device_data(data)
    graph.load(model.trainable_variables)
    l2 = tf.constant([layer.l2 for layer in hp.layers] + [0.0], tf.float32)
    dropout = tf.constant([layer.dropout for layer in hp.layers], tf.float32)
    lr = tf.constant(how.learning_rate, tf.float32)
    batch = tf.constant(hp.batch_size, tf.int32)
    step = [tf.constant(0, tf.int64)]

    def epoch(e: int) -> loop.EpochScores:
        step[0], loss, score = graph.run_epoch(x_train, y_train, tf.constant([seed, e], tf.int64), step[0], l2,
                                               dropout, lr, batch)
        return (loss, score, *graph.validate(x_val, y_val, l2))

    return loop.train(model, epochs, -(-len(data.x_train) // hp.batch_size), loss_and_metric(data.task)[1],
                      callbacks, epoch, lambda: graph.store(model, step[0], how))


def evaluate(model: Any, data: Dataset, hp: Hyperparams, how: Plan) -> dict[str, float]:
    """The model's loss and metric on the test rows, with the traced validation step (no new trace)."""
    import tensorflow as tf

    with _lock:
        graph = _graph(how)
        *_, x_test, y_test = _device_data(data)
        graph.load(model.trainable_variables)
        loss, score = graph.validate(x_test, y_test, tf.constant([layer.l2 for layer in hp.layers] + [0.0],
                                                                 tf.float32))
    return {"loss": float(loss), loss_and_metric(data.task)[1]: float(score)}


def _device_data(data: Dataset) -> tuple[Any, ...]:
    """The data set as constant tensors, converted once per process and reused by every trial (float32, as the
    MLP's input takes them: integer or bool rows a loader gave are cast)."""
    import tensorflow as tf

    key = id(data)
    if key not in _tensors or _tensors[key][0] is not data:
        if len(_tensors) >= 4:
            _tensors.clear()
        shape = (-1,) if data.task == "classification" else (-1, 1)
        rows = functools.partial(tf.constant, dtype=tf.float32)
        test = (rows(data.x_test), tf.constant(data.y_test.reshape(shape))) if data.n_test else (None, None)
        _tensors[key] = (data, rows(data.x_train), tf.constant(data.y_train.reshape(shape)),
                         rows(data.x_val), tf.constant(data.y_val.reshape(shape)), *test)
    return _tensors[key][1:]


class _Graph:
    """The traced functions for one kind of model and the variables they train, reshaped for every trial.

    The variables have no fixed shape, so one trace serves every width; a trial loads its model's initial weights
    into them, and the fused optimizer kernels update them in place.
    """

    def __init__(self, how: Plan) -> None:
        import tensorflow as tf

        n = 2 * (how.depth + 1)
        shapes = [tf.TensorShape([None, None]) if i % 2 == 0 else tf.TensorShape([None]) for i in range(n)]

        def fresh() -> list[Any]:
            return [tf.Variable(tf.zeros([0] * len(shape)), shape=shape, trainable=True) for shape in shapes]

        self.weights, self.m, self.v = fresh(), fresh(), fresh()
        self.run_epoch, self.validate = _trace(how, self.weights, self.m, self.v)

    def load(self, variables: list[Any]) -> None:
        for mine, theirs, m, v in zip(self.weights, variables, self.m, self.v, strict=True):
            mine.assign(theirs.value)
            m.assign(mine * 0.0)
            v.assign(mine * 0.0)

    def store(self, model: Any, step: Any, how: Plan) -> None:
        """Trained weights (and Adam's moments and step count) go back into the Keras model and its optimizer."""
        for variable, value in zip(model.trainable_variables, self.weights, strict=True):
            variable.assign(value)
        optimizer = model.optimizer
        optimizer.iterations.assign(step)
        if how.optimizer == "adam" and optimizer.built:
            for variable, value in zip(optimizer._momentums + optimizer._velocities, self.m + self.v, strict=True):
                variable.assign(value)


def _graph(how: Plan) -> _Graph:
    """The epoch and validation functions for this kind of model, traced at most once per process."""
    key = (how.depth, how.activation, how.task, how.optimizer, how.beta_1, how.beta_2, how.epsilon)
    if key not in _graphs:
        _graphs[key] = _Graph(how)
    return _graphs[key]


def _trace(how: Plan, weights: list[Any], ms: list[Any], vs: list[Any]) -> tuple[Any, Any]:
    import keras
    import tensorflow as tf

    depth, classify = how.depth, how.task == "classification"
    activation = keras.activations.get(how.activation)
    y_spec = tf.TensorSpec([None], tf.int32) if classify else tf.TensorSpec([None, 1], tf.float32)
    x_spec = tf.TensorSpec([None, None], tf.float32)

    def forward(x: Any, dropout: Any = None, key: Any = None) -> Any:
        h = x
        for i in range(depth):
            h = activation(tf.matmul(h, weights[2 * i]) + weights[2 * i + 1])
            if dropout is not None:
                keep = 1.0 - dropout[i]
                mask = tf.random.stateless_uniform(tf.shape(h), seed=key[i]) >= dropout[i]
                h = tf.where(mask, h / keep, tf.zeros_like(h))
        return tf.matmul(h, weights[-2]) + weights[-1]

    def losses(y: Any, out: Any) -> tuple[Any, Any]:
        """Per-sample loss and metric: crossentropy and accuracy, or squared error and absolute error."""
        if classify:
            per = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=out)
            hit = tf.cast(tf.equal(tf.argmax(out, axis=1, output_type=tf.int32), y), tf.float32)
            return per, hit
        err = out - y
        return tf.reduce_mean(tf.square(err), axis=1), tf.reduce_mean(tf.abs(err), axis=1)

    def penalty(l2: Any) -> Any:
        return tf.add_n([l2[i] * tf.reduce_sum(tf.square(weights[2 * i])) for i in range(depth + 1)])

    @tf.function(input_signature=[x_spec, y_spec, tf.TensorSpec([2], tf.int64), tf.TensorSpec([], tf.int64),
                                  tf.TensorSpec([None], tf.float32), tf.TensorSpec([None], tf.float32),
                                  tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.int32)])
    def run_epoch(x, y, key, step, l2, dropout, lr, batch):  # noqa: ANN001, ANN202
        n = tf.shape(x)[0]
        order = tf.argsort(tf.random.stateless_uniform([n], seed=key))
        n_batches = (n + batch - 1) // batch
        loss_sum, score_sum = tf.constant(0.0), tf.constant(0.0)
        for b in tf.range(n_batches):
            rows = order[b * batch:tf.minimum((b + 1) * batch, n)]
            xb, yb = tf.gather(x, rows), tf.gather(y, rows)
            size = tf.cast(tf.shape(rows)[0], tf.float32)
            seeds = tf.stack([tf.stack([key[0], key[1] * 1_000_003 + tf.cast(b, tf.int64) * 31 + i])
                              for i in range(depth)])
            with tf.GradientTape() as tape:
                per, hit = losses(yb, forward(xb, dropout, seeds))
                loss = tf.reduce_mean(per) + penalty(l2)
            grads = tape.gradient(loss, weights)
            step = step + 1
            loop.apply_update(how.optimizer, weights, ms, vs, grads, step, lr, how.beta_1, how.beta_2, how.epsilon)
            loss_sum += loss * size
            score_sum += tf.reduce_sum(hit)
        count = tf.cast(n, tf.float32)
        return step, loss_sum / count, score_sum / count

    @tf.function(input_signature=[x_spec, y_spec, tf.TensorSpec([None], tf.float32)])
    def validate(x, y, l2):  # noqa: ANN001, ANN202
        per, hit = losses(y, forward(x))
        return tf.reduce_mean(per) + penalty(l2), tf.reduce_mean(hit)

    return run_epoch, validate
