"""A slimmable network: tuner's Dense stack at its widest, trained once so that the first k units of every hidden
layer form a working narrower network (Yu et al., 2018, "Slimmable Neural Networks"; Yu & Huang, 2019,
"Universally Slimmable Networks"). Knows nothing of Optuna: the caller says which widths exist.

Each training step follows the sandwich rule: the widest network, the narrowest and `sandwich - 2` widths drawn at
random are trained on the same batch, their gradients summed into one update. Only the widest learns from the
labels; the others learn its predictions (in-place distillation), which keeps the narrow networks from pulling the
shared weights towards their own, noisier fit. A training step slices each layer's first k units out of the
widest weights (one traced step for every width: the slice sizes are its arguments), so a narrow width costs what
its own network costs. The stack has no Batch Normalization, so no per-width statistics need recomputing.

Scoring a width vector is one forward pass over the validation (or training) rows: thousands of vectors cost less
than one from-scratch trial.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tuner.data import Dataset

Widths = tuple[int, ...]


@dataclass
class Slimmable:
    """The shared weights of one depth's widest network, and how to score a narrower one on them."""

    kernels: list[Any]  # tf.Variables: the hidden layers', then the output's
    biases: list[Any]
    activation: str
    task: str
    widest: Widths
    std: float = 1.0  # a standardized regression target's spread: MAE comes back in the target's units
    shape: tuple[int, ...] | None = None  # a Conv2D stack's image shape (rows reshaped to it); None: Dense
    pools: tuple[bool, ...] = ()  # a Conv2D stack: whether 2x2 max pooling follows each layer
    cells: int = 1  # a Conv2D stack: pixels of the last feature maps (the output layer's inputs per filter)

    def arrays(self) -> list[np.ndarray]:
        """The shared weights, to keep (`restore` takes them back)."""
        return [v.numpy() for v in (*self.kernels, *self.biases)]

    def restore(self, arrays: list[np.ndarray]) -> None:
        for variable, value in zip((*self.kernels, *self.biases), arrays, strict=True):
            variable.assign(value)

    def outputs(self, x: Any, widths: Widths) -> Any:
        """The network's logits (classification) or predictions at `widths`."""
        import tensorflow as tf

        return _sliced(self, tf.convert_to_tensor(x), [min(int(w), top) for w, top in zip(widths, self.widest)])

    def score(self, data: Dataset, widths: Widths, metric: str) -> float:
        """The metric a trial of these widths logs (`val_accuracy`, `val_loss`, `mae`...), estimated on the shared
        weights: on the validation rows for a `val_` metric, else on the training rows."""
        part = "val" if metric.startswith("val_") else "train"
        x, y = getattr(data, f"x_{part}"), getattr(data, f"y_{part}")
        return score_outputs(self.outputs(x.astype(np.float32), widths), y, self.task, metric, self.std)


def score_outputs(out: Any, y: np.ndarray, task: str, metric: str, std: float = 1.0) -> float:
    """A metric (its name without `val_`: accuracy, loss, mae, mse) of logits (or a regression's predictions,
    standardized by `std`) against the labels."""
    import tensorflow as tf

    base = metric.removeprefix("val_")
    if task == "classification":
        if base == "accuracy":
            return float(np.mean(np.argmax(out.numpy(), axis=1) == y))
        return float(tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y.astype(np.int64), out)))
    error = out.numpy().reshape(len(y), -1) - y.reshape(len(y), -1)
    return float(np.mean(np.abs(error)) * std) if base == "mae" else float(np.mean(error ** 2))


def train(data: Dataset, widest: Widths, narrowest: Widths, draw: Callable[[np.random.Generator], Widths], *,
          activation: str = "relu", dropout: float = 0.0, l2: float = 0.0, learning_rate: float = 1e-3,
          batch_size: int = 64, epochs: int = 30, seed: int = 0, optimizer: str = "adam",
          sandwich: int = 4, conv: bool = False, on_epoch: Callable[[int], None] = lambda epoch: None) -> Slimmable:
    """Train the widest network of one depth as a slimmable network (`sandwich` widths a step: the widest, the
    narrowest and widths from `draw`), with the study's dropout and L2 (on the widest network's kernels), optimizer,
    learning rate and batch size. `conv`: tuner's Conv2D stack on the data's image shape (3x3 filters, 2x2 max
    pooling while the maps are at least 4 pixels a side, the last maps flattened into the output layer), as
    tuner.training.families builds it; else its Dense stack. `on_epoch(e)` after each epoch (it may raise to stop)."""
    import keras
    import tensorflow as tf

    from tuner.training.families import KERNEL, pooled
    from tuner.training.model import make_optimizer

    rng = np.random.default_rng(seed)
    tf_rng = tf.random.Generator.from_seed(seed)
    glorot = keras.initializers.GlorotUniform(seed=seed)
    std = data.target_scaling.std if data.target_scaling is not None else 1.0
    if not conv:
        sizes = [data.n_features, *widest, data.n_outputs]
        shapes = list(zip(sizes, sizes[1:]))
        net = Slimmable([], [], activation, data.task, tuple(widest), std)
    else:
        size, pools = list(data.shape[:2]), []
        for _ in widest:
            pools.append(pooled(size) != size)
            size = pooled(size)
        fans = [data.shape[-1], *widest]
        shapes = [(KERNEL, KERNEL, a, b) for a, b in zip(fans, fans[1:])] + [(size[0] * size[1] * widest[-1],
                                                                               data.n_outputs)]
        net = Slimmable([], [], activation, data.task, tuple(widest), std, tuple(data.shape), tuple(pools),
                        size[0] * size[1])
    net.kernels = [tf.Variable(glorot(shape)) for shape in shapes]
    net.biases = [tf.Variable(tf.zeros(shape[-1])) for shape in shapes]
    variables = [*net.kernels, *net.biases]
    opt = make_optimizer(optimizer, learning_rate)
    classify = data.task == "classification"

    @tf.function(reduce_retracing=True)
    def step(x: Any, y: Any, chosen: Any) -> Any:
        with tf.GradientTape() as tape:
            top = _sliced(net, x, chosen[0], dropout, tf_rng)
            if classify:
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, top))
                teacher = tf.stop_gradient(tf.nn.softmax(top))
            else:
                loss = tf.reduce_mean(tf.square(top - tf.reshape(y, tf.shape(top))))
                teacher = tf.stop_gradient(top)
            loss += l2 * tf.add_n([tf.reduce_sum(tf.square(k)) for k in net.kernels[:-1]])
            for i in range(1, chosen.shape[0]):
                out = _sliced(net, x, chosen[i], dropout, tf_rng)
                loss += tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(teacher, out)) if classify else \
                    tf.reduce_mean(tf.square(out - teacher))
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    x_all = tf.constant(data.x_train.astype(np.float32))
    y_all = tf.constant(data.y_train.astype(np.int64 if classify else np.float32))
    sandwiches(step, x_all, y_all, widest, narrowest, draw, rng, batch_size=batch_size, epochs=epochs,
               sandwich=sandwich, on_epoch=on_epoch)
    return net


def sandwiches(step: Callable[[Any, Any, Any], Any], x_all: Any, y_all: Any, widest: Widths, narrowest: Widths,
               draw: Callable[[np.random.Generator], Widths], rng: np.random.Generator, *, batch_size: int,
               epochs: int, sandwich: int, on_epoch: Callable[[int], None]) -> None:
    """The epochs of a slimmable network's training: each batch of shuffled rows goes to `step(x, y, widths)` with
    the widest widths, the narrowest and `sandwich - 2` drawn (an int tensor, one row a width vector)."""
    import tensorflow as tf

    n = len(x_all)
    for epoch in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            rows = tf.constant(order[start:start + batch_size])
            chosen = [tuple(widest), tuple(narrowest), *(draw(rng) for _ in range(sandwich - 2))]
            step(tf.gather(x_all, rows), tf.gather(y_all, rows), tf.constant(chosen, tf.int32))
        on_epoch(epoch)


def _sliced(net: Slimmable, x: Any, widths: Any, dropout: float = 0.0, rng: Any = None) -> Any:
    """The network at `widths` (one a layer; an int tensor inside the traced step) as the first-k slices of its
    weights: a narrow width costs what its own network costs, where masking the widest would cost the widest's."""
    import keras
    import tensorflow as tf

    act = keras.activations.get(net.activation)
    h = x if net.shape is None else tf.reshape(x, (-1, *net.shape))
    k_in = tf.shape(h)[-1]
    for layer, (kernel, bias) in enumerate(zip(net.kernels[:-1], net.biases[:-1])):
        k = widths[layer]
        if net.shape is None:
            h = act(tf.matmul(h, kernel[:k_in, :k]) + bias[:k])
        else:
            h = act(tf.nn.conv2d(h, kernel[:, :, :k_in, :k], 1, "SAME") + bias[:k])
            if net.pools[layer]:
                h = tf.nn.max_pool2d(h, 2, 2, "VALID")
        if dropout > 0:
            h = h * tf.cast(rng.uniform(tf.shape(h)) >= dropout, h.dtype) / (1.0 - dropout)
        k_in = k
    head = net.kernels[-1]
    if net.shape is not None:  # the flattened maps: pixel-major, filters inside, so a filter's rows are strided
        h = tf.reshape(h, (tf.shape(h)[0], -1))
        head = tf.reshape(tf.reshape(head, (net.cells, net.widest[-1], -1))[:, :k_in], (net.cells * k_in, -1))
        return tf.matmul(h, head) + net.biases[-1]
    return tf.matmul(h, head[:k_in]) + net.biases[-1]
