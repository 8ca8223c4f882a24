"""Training any Keras model without a new trace per trial: one compiled epoch per architecture, shared by its widths.

This is tuner's training path for its own Dense and Conv2D stacks and for the user's models alike. `model.fit`
traces a new training step for every model it trains (~2 s a trial for the small residual CNN of
studies/models/cnn.py, ten of its epochs), although models that differ only in their widths run the same layer code
on differently shaped weights. Here the first model of an architecture is cloned into a *template*; its epoch (the
template's own Keras layer calls inside a `keras.StatelessScope`, the model's compiled loss, Adam or SGD with
TensorFlow's fused kernels, a whole epoch per call, the rows in the per-epoch order tuner.training.pipelines gives
`model.fit`) is traced over variables whose shape is unknown in every dimension a change of widths changes (a
kernel's last two, every vector's), and in any other where that architecture's models were seen to differ. Every later model of the architecture runs that trace: its weights (and Batch Normalization
statistics, dropout seeds) go in, the trained ones come back into it. The learning rate, batch size, L1/L2
factors and dropout rates are arguments of the trace too, so a study that samples them traces no more for it.

Shared only where a layer's call cannot see its own width (LAYERS; a convolution's bias is reshaped to (..., -1)
in the template, a dropout layer draws its mask from its Keras seed at the rate given); any other layer, an
activity regularizer or one other than L1/L2, a metric, loss or optimizer other than the study's, a quantized or
mixed-precision model, goes through `model.fit` (`plan` says None).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from tuner.data import Dataset
from tuner.training import loop, pipelines
from tuner.training.model import loss_and_metric

LAYERS = frozenset({
    "InputLayer", "Dense", "Conv1D", "Conv2D", "Conv3D", "BatchNormalization", "Activation", "ReLU", "LeakyReLU",
    "ELU", "Softmax", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
    "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D", "GlobalMaxPooling1D",
    "GlobalMaxPooling2D", "GlobalMaxPooling3D", "Flatten", "Dropout", "Rescaling", "Reshape", "ZeroPadding1D",
    "ZeroPadding2D", "ZeroPadding3D", "Identity",
})  # layers whose call reads its weights' shapes, never its width: Dense (units), convolutions (filters)
CONVOLUTIONS = ("Conv1D", "Conv2D", "Conv3D")
WIDTH_KEYS = frozenset({"units", "filters", "l1", "l2"})  # widths, and the factors of L1/L2 regularizers
SHAPE_KEYS = frozenset({"build_config", "shape", "build_input_shape"})  # shapes that follow the widths
MAX_TEMPLATES = 4  # architectures kept traced per process (each holds a model clone and two graphs)

_templates: OrderedDict[str, _Template] = OrderedDict()
_lock = threading.Lock()  # a template's variables are shared: one trial at a time per process
traces = 0  # epochs and evaluations traced in this process (a test counts them)


@dataclass(frozen=True)
class Plan:
    """How a model is trained here: its architecture's key, the optimizer and the compiled metric."""

    key: str
    optimizer: str
    learning_rate: float
    metric: str
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7


def plan(model: Any, task: str) -> Plan | None:
    """A plan for a Sequential or Functional model of LAYERS, compiled with one metric (the study's) and plain Adam
    or SGD at a fixed learning rate; None for anything else."""
    import keras

    if type(model).__name__ not in ("Sequential", "Functional") or not getattr(model, "compiled", False):
        return None
    if len(model.inputs or ()) != 1 or len(model.outputs or ()) != 1 or None in tuple(model.inputs[0].shape[1:]):
        return None
    if task == "classification" and tuple(model.outputs[0].shape[1:]) == (1,):  # one unit for two classes
        return None
    for layer in model.layers:
        kind = type(layer).__name__
        if kind not in LAYERS or type(layer) is not getattr(keras.layers, kind, None):
            return None
        if getattr(layer.dtype_policy, "name", "") != "float32" or layer.activity_regularizer is not None:
            return None
        if kind == "Dropout" and layer.noise_shape is not None:
            return None
    regularizers = (keras.regularizers.L1, keras.regularizers.L2, keras.regularizers.L1L2)
    if any(v.regularizer is not None and type(v.regularizer) not in regularizers for v in model.trainable_variables):
        return None
    optimizer = model.optimizer
    name = {keras.optimizers.Adam: "adam", keras.optimizers.SGD: "sgd"}.get(type(optimizer))
    if name is None or optimizer_extras(optimizer, name):
        return None
    rate = optimizer.get_config().get("learning_rate")
    if not isinstance(rate, float):  # a schedule
        return None
    _, metric = loss_and_metric(task)
    compiled = model.get_compile_config() or {}
    if [m if isinstance(m, str) else None for m in compiled.get("metrics") or []] != [metric]:
        return None
    loss = model.loss
    if not isinstance(loss, (str, keras.losses.Loss)) or compiled.get("loss_weights") is not None:
        return None
    described = loss if isinstance(loss, str) else [type(loss).__name__, loss.get_config()]
    key = json.dumps([_architecture(model), described, metric, name, optimizer.get_config().get("beta_1"),
                      optimizer.get_config().get("beta_2"), optimizer.get_config().get("epsilon")], default=str)
    if name == "adam":
        return Plan(key, name, rate, metric, float(optimizer.beta_1), float(optimizer.beta_2),
                    float(optimizer.epsilon))
    return Plan(key, name, rate, metric)


def optimizer_extras(optimizer: Any, name: str) -> bool:
    """Options the traced step does not implement (clipping, weight decay, EMA, AMSGrad, momentum)."""
    extras = [optimizer.clipnorm, optimizer.clipvalue, optimizer.global_clipnorm, optimizer.weight_decay]
    if any(value not in (None, 0, 0.0) for value in extras) or optimizer.use_ema:
        return True
    if name == "adam":
        return bool(optimizer.amsgrad)
    return bool(optimizer.momentum) or bool(optimizer.nesterov)


def _architecture(model: Any) -> Any:
    """The model's config with its widths, the shapes that follow them and its layers' names left out (layers are
    named by position): equal for two models that differ only in their widths."""
    config = model.get_config()
    names = {entry["config"]["name"]: f"#{i}" for i, entry in enumerate(config.get("layers", []))}

    def clean(node: Any) -> Any:
        if isinstance(node, dict):  # of a dropout rate, only whether there is one
            return {k: (v > 0 if k == "rate" else clean(v)) for k, v in node.items()
                    if k not in WIDTH_KEYS | SHAPE_KEYS}
        if isinstance(node, (list, tuple)):
            return [clean(v) for v in node]
        return names.get(node, node) if isinstance(node, str) else node

    config.pop("name", None)
    return [type(model).__name__, clean(config)]


def fit(model: Any, data: Dataset, batch_size: int, epochs: int, callbacks: list[Any], seed: int,
        how: Plan) -> dict[str, list[float]]:
    """Train `model` in place like `model.fit` on tuner.training.pipelines' batches; the same history keys."""
    with _lock:
        return _fit(model, data, batch_size, epochs, callbacks, seed, how)


def evaluate(model: Any, data: Dataset, how: Plan) -> dict[str, float]:
    """The model's loss and metric on the test rows, with the architecture's traced evaluation."""
    with _lock:
        template = _template(model, how)
        knobs = template.load(model)
        loss, score = template.evaluate(*_rows(data, template, "test"), *knobs)
    return {"loss": float(loss), how.metric: float(score)}


def _fit(model: Any, data: Dataset, batch_size: int, epochs: int, callbacks: list[Any], seed: int,
         how: Plan) -> dict[str, list[float]]:
    import tensorflow as tf

    template = _template(model, how)
    (x_train, y_train), (x_val, y_val) = _rows(data, template, "train"), _rows(data, template, "val")
    knobs = template.load(model)
    lr, batch = tf.constant(how.learning_rate, tf.float32), tf.constant(batch_size, tf.int32)
    step = [tf.constant(0, tf.int64)]

    def epoch(e: int) -> loop.EpochScores:
        step[0], loss, score = template.run_epoch(x_train, y_train, tf.constant([seed, e], tf.int64), step[0], lr,
                                                  batch, *knobs)
        return (loss, score, *template.evaluate(x_val, y_val, *knobs))

    return loop.train(model, epochs, -(-len(data.x_train) // batch_size), how.metric, callbacks, epoch,
                      lambda: template.store(model, step[0]))


def _rows(data: Dataset, template: _Template, part: str) -> tuple[Any, Any]:
    """One part of the data as tensors in the model's input shape and dtype (as Keras would cast them at the
    model's input), labels in the dtype the trace takes."""
    import tensorflow as tf

    x, y = pipelines.tensors(data, template.row_shape)[part]
    return (x if x.dtype == template.row_dtype else tf.cast(x, template.row_dtype),
            y if y.dtype == template.label_dtype else tf.cast(y, template.label_dtype))


def _template(model: Any, how: Plan) -> _Template:
    """The traced template for this model's architecture: made (or remade, with the dimensions that differ left
    unknown) when none fits the model's weights."""
    shapes = _shapes(model)
    template = _templates.get(how.key)
    if template is not None and template.fits(shapes):
        _templates.move_to_end(how.key)
        return template
    dynamic = _widths(model)
    if template is not None and len(template.shapes) == len(shapes):
        dynamic = [tuple(d or mine is None or mine != theirs for d, mine, theirs in zip(flags, old, new, strict=True))
                   for flags, old, new in zip(template.dynamic, template.shapes, shapes, strict=True)]
    _templates.pop(how.key, None)
    if len(_templates) >= MAX_TEMPLATES:
        _templates.popitem(last=False)
    _templates[how.key] = template = _Template(model, shapes, dynamic, how)
    return template


def _shapes(model: Any) -> list[tuple[int, ...]]:
    return [tuple(v.shape) for v in [*model.trainable_variables, *model.non_trainable_variables]]


def _widths(model: Any) -> list[tuple[bool, ...]]:
    """The dimensions a change of widths changes, left unknown from the first trace on: a kernel's last two (fan
    in, units or filters), every float vector's (biases, Batch Normalization's scales and statistics)."""
    return [tuple(i >= len(v.shape) - 2 and "float" in str(v.dtype) for i in range(len(v.shape)))
            for v in [*model.trainable_variables, *model.non_trainable_variables]]


class _Template:
    """A clone of the first model of an architecture, its traced epoch and evaluation, and the variables they use
    (unknown in the `dynamic` dimensions), loaded from each model trained and stored back into it."""

    def __init__(self, model: Any, shapes: list[tuple[int, ...]], dynamic: list[tuple[bool, ...]],
                 how: Plan) -> None:
        import keras
        import tensorflow as tf

        self.shapes = [tuple(None if d else n for n, d in zip(shape, flags, strict=True))
                       for shape, flags in zip(shapes, dynamic, strict=True)]
        self.dynamic = dynamic
        self.clone = keras.models.clone_model(model)
        self.rates: list[Any] = [None]  # the dropout rates' tensor, while the trace runs
        self.n_dropouts = 0
        for layer in self.clone.layers:
            if type(layer).__name__ in CONVOLUTIONS:
                layer.filters = -1  # its call reshapes the bias to (1, ..., filters): any width
            if type(layer).__name__ == "Dropout" and layer.rate > 0:
                layer.call = _dropout(layer, self.rates, self.n_dropouts)
                self.n_dropouts += 1
        self.regularized = [v.regularizer is not None for v in self.clone.trainable_variables]
        self.row_shape = tuple(model.inputs[0].shape[1:])
        self.row_dtype = tf.as_dtype(model.inputs[0].dtype)
        self.label_dtype = tf.int32 if how.metric == "accuracy" else tf.float32
        n_trainable = len(model.trainable_variables)
        values = [v.value for v in [*model.trainable_variables, *model.non_trainable_variables]]
        made = [tf.Variable(v, shape=tf.TensorShape(shape), trainable=i < n_trainable)
                for i, (v, shape) in enumerate(zip(values, self.shapes, strict=True))]
        self.weights, self.state = made[:n_trainable], made[n_trainable:]
        self.m = [tf.Variable(tf.zeros_like(v), shape=v.shape, trainable=False) for v in self.weights]
        self.v = [tf.Variable(tf.zeros_like(v), shape=v.shape, trainable=False) for v in self.weights]
        self.run_epoch, self.evaluate = _trace(self, model, how)

    def fits(self, shapes: list[tuple[int, ...]]) -> bool:
        return len(shapes) == len(self.shapes) and all(
            len(mine) == len(theirs) and all(m is None or m == t for m, t in zip(mine, theirs, strict=True))
            for mine, theirs in zip(self.shapes, shapes, strict=True))

    def load(self, model: Any) -> tuple[Any, Any, Any]:
        """The model's weights and state into the template's variables; its L1 and L2 factors (one per trainable
        variable) and dropout rates as the trace's arguments."""
        import tensorflow as tf

        for mine, theirs in zip([*self.weights, *self.state],
                                [*model.trainable_variables, *model.non_trainable_variables], strict=True):
            mine.assign(theirs.value)
        for mine, m, v in zip(self.weights, self.m, self.v, strict=True):
            m.assign(tf.zeros_like(mine))
            v.assign(tf.zeros_like(mine))
        factors = [v.regularizer for v in model.trainable_variables]
        l1 = [float(getattr(f, "l1", 0.0) or 0.0) for f in factors]
        l2 = [float(getattr(f, "l2", 0.0) or 0.0) for f in factors]
        rates = [float(layer.rate) for layer in model.layers if type(layer).__name__ == "Dropout" and layer.rate > 0]
        return tf.constant(l1, tf.float32), tf.constant(l2, tf.float32), tf.constant(rates, tf.float32)

    def store(self, model: Any, step: Any) -> None:
        """Trained weights and state (Batch Normalization statistics, dropout seeds) back into the model."""
        for theirs, mine in zip([*model.trainable_variables, *model.non_trainable_variables],
                                [*self.weights, *self.state], strict=True):
            theirs.assign(mine)
        model.optimizer.iterations.assign(step)


def _trace(template: _Template, model: Any, how: Plan) -> tuple[Any, Any]:
    import keras
    import tensorflow as tf

    clone, weights, state = template.clone, template.weights, template.state
    own = [*clone.trainable_variables, *clone.non_trainable_variables]
    loss_function = keras.losses.get(model.loss) if isinstance(model.loss, str) else model.loss
    classify = how.metric == "accuracy"
    outputs = [None, *model.outputs[0].shape[1:]]

    def forward(x: Any, training: bool, l1: Any, l2: Any, rates: Any) -> tuple[Any, Any, list[Any]]:
        """The clone's call on the template's variables: outputs, regularization penalty, the state it updated."""
        template.rates[0] = rates
        with keras.StatelessScope() as scope:
            values = [variable.value() for variable in [*weights, *state]]
            for variable, value in zip(own, values, strict=True):
                scope.add_update((variable, value))
            out = clone(x, training=training)
            out.set_shape(outputs)  # the output's width is never searched; no op added (a softmax stays the last)
            updated = [scope.get_current_value(variable) for variable in own[len(weights):]]
        penalty = tf.constant(0.0)
        for i, (w, regularized) in enumerate(zip(values, template.regularized, strict=False)):
            if regularized:  # Keras's L1, L2 and L1L2 arithmetic, with the trial's factors
                penalty += l1[i] * tf.reduce_sum(tf.abs(w)) + l2[i] * tf.reduce_sum(tf.square(w))
        return out, penalty, updated

    def scores(y: Any, out: Any) -> tuple[Any, Any]:
        """The batch's mean loss (as compiled) and its summed metric: hits, or absolute errors."""
        loss = tf.reduce_mean(loss_function(y, out))
        if classify:
            hits = tf.equal(tf.argmax(out, axis=-1, output_type=tf.int64), tf.cast(tf.reshape(y, [-1]), tf.int64))
            return loss, tf.reduce_sum(tf.cast(hits, tf.float32))
        error = tf.abs(out - tf.reshape(tf.cast(y, out.dtype), tf.shape(out)))
        return loss, tf.reduce_sum(tf.reduce_mean(error, axis=-1))

    def run_epoch(x, y, key, step, lr, batch, l1, l2, rates):  # noqa: ANN001, ANN202
        global traces
        traces += 1
        n = tf.shape(x)[0]
        order = tf.argsort(tf.random.stateless_uniform([n], seed=key))

        def one_batch(b, step, loss_sum, score_sum):  # noqa: ANN001, ANN202
            rows = order[b * batch:tf.minimum((b + 1) * batch, n)]
            xb, yb = tf.gather(x, rows), tf.gather(y, rows)
            with tf.GradientTape() as tape:
                out, penalty, updated = forward(xb, True, l1, l2, rates)
                loss, score = scores(yb, out)
                loss = loss + penalty
            grads = tape.gradient(loss, weights)
            for variable, value in zip(state, updated, strict=True):
                variable.assign(value)
            step = step + 1
            loop.apply_update(how.optimizer, weights, template.m, template.v, grads, step, lr, how.beta_1, how.beta_2,
                              how.epsilon)
            size = tf.cast(tf.shape(rows)[0], tf.float32)
            return b + 1, step, loss_sum + loss * size, score_sum + score

        n_batches = (n + batch - 1) // batch
        _, step, loss_sum, score_sum = tf.while_loop(
            lambda b, *_: b < n_batches, one_batch, [tf.constant(0), step, tf.constant(0.0), tf.constant(0.0)])
        count = tf.cast(n, tf.float32)
        return step, loss_sum / count, score_sum / count

    def evaluate(x, y, l1, l2, rates):  # noqa: ANN001, ANN202
        global traces
        traces += 1
        n, size = tf.shape(x)[0], pipelines.EVAL_BATCH

        def one_batch(b, loss_sum, score_sum, penalty):  # noqa: ANN001, ANN202
            xb, yb = x[b * size:(b + 1) * size], y[b * size:(b + 1) * size]
            out, penalty, _ = forward(xb, False, l1, l2, rates)
            loss, score = scores(yb, out)
            return b + 1, loss_sum + loss * tf.cast(tf.shape(xb)[0], tf.float32), score_sum + score, penalty

        _, loss_sum, score_sum, penalty = tf.while_loop(
            lambda b, *_: b < (n + size - 1) // size, one_batch,
            [tf.constant(0), tf.constant(0.0), tf.constant(0.0), tf.constant(0.0)])
        count = tf.cast(n, tf.float32)
        return loss_sum / count + penalty, score_sum / count

    x_spec = tf.TensorSpec([None, *template.row_shape], template.row_dtype)
    y_spec = tf.TensorSpec([None], template.label_dtype)
    knobs = [tf.TensorSpec([len(weights)], tf.float32)] * 2 + [tf.TensorSpec([template.n_dropouts], tf.float32)]
    epoch_spec = [x_spec, y_spec, tf.TensorSpec([2], tf.int64), tf.TensorSpec([], tf.int64),
                  tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.int32), *knobs]
    return (tf.function(run_epoch, input_signature=epoch_spec, autograph=False),
            tf.function(evaluate, input_signature=[x_spec, y_spec, *knobs], autograph=False))


def _dropout(layer: Any, rates: list[Any], i: int) -> Any:
    """The call of a template's Dropout layer: Keras's own (the mask drawn from the layer's seed generator, the
    seed cast as Keras's TensorFlow backend casts it) at the `i`-th rate the trace was given."""
    import tensorflow as tf

    def call(inputs: Any, training: bool = False) -> Any:
        if not training:
            return inputs
        seed = layer.seed_generator.next()
        if seed.dtype != tf.int32:
            seed = tf.cast(tf.math.floormod(seed, tf.int32.max - 1), tf.int32)
        return tf.nn.experimental.stateless_dropout(inputs, rate=rates[0][i], noise_shape=tf.shape(inputs), seed=seed)

    return call

