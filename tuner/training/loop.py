"""The epoch loop of tuner's own training path (tuner.training.sharedfit), calling Keras's callbacks as `model.fit`
does, and one optimizer step with TensorFlow's fused kernels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

EpochScores = tuple[Any, Any, Any, Any]  # loss, metric, val_loss, val_metric of one epoch


def train(model: Any, epochs: int, steps: int, metric: str, callbacks: list[Any],
          epoch: Callable[[int], EpochScores], finish: Callable[[], None]) -> dict[str, list[float]]:
    """Run `epoch(e)` for each epoch with the callbacks around it, given the logs `model.fit` would give them (the
    epoch's last batch, then the epoch); stop when one sets `model.stop_training`; `finish()` runs however it ends.
    Returns the history as the callbacks left the logs."""
    import keras

    recorded = keras.callbacks.History()  # the last callback: it records the logs as the others left them
    calls = keras.callbacks.CallbackList([*callbacks, recorded], model=model, epochs=epochs, steps=steps, verbose=0)
    model.stop_training = False
    logs: dict[str, float] = {}
    try:
        calls.on_train_begin()
        for e in range(epochs):
            calls.on_epoch_begin(e)
            loss, score, val_loss, val_score = epoch(e)
            logs = {"loss": float(loss), metric: float(score), "val_loss": float(val_loss),
                    f"val_{metric}": float(val_score)}
            calls.on_train_batch_end(steps - 1, {"loss": logs["loss"], metric: logs[metric]})
            calls.on_epoch_end(e, logs)
            if model.stop_training:
                break
        calls.on_train_end(logs=logs or None)
    finally:
        finish()
    return {name: [float(v) for v in values] for name, values in recorded.history.items()}


def apply_update(optimizer: str, weights: list[Any], ms: list[Any], vs: list[Any], grads: list[Any], step: Any,
                 lr: Any, beta_1: float, beta_2: float, epsilon: float) -> None:
    """One optimizer step on `weights` (tf.Variables) in place: Keras's Adam arithmetic (moments in `ms`, `vs`,
    `step` counted from 1) or plain SGD. A weight without a gradient is left as it is."""
    import tensorflow as tf

    if optimizer == "sgd":
        for w, g in zip(weights, grads, strict=True):
            if g is not None:
                tf.raw_ops.ResourceApplyGradientDescent(var=w.handle, alpha=lr, delta=g)
        return
    t = tf.cast(step, tf.float32)
    b1, b2 = tf.constant(beta_1), tf.constant(beta_2)
    b1_power, b2_power = tf.pow(b1, t), tf.pow(b2, t)
    for w, m, v, g in zip(weights, ms, vs, grads, strict=True):
        if g is not None:
            tf.raw_ops.ResourceApplyAdam(var=w.handle, m=m.handle, v=v.handle, beta1_power=b1_power,
                                         beta2_power=b2_power, lr=lr, beta1=b1, beta2=b2,
                                         epsilon=tf.constant(epsilon), grad=g)
