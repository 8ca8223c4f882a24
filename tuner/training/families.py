"""Layer families besides Dense: Conv2D filters for images, LSTM/GRU units for sequences.

Each hidden layer's width (filters or units) is tuned the same way as a Dense layer's units, with its own L2 (on
the kernel) and dropout (a Dropout layer after it). Rows stay flat in the data set; the model reshapes them to
`shape` first, so training and storage do not care which family a study uses. Imports Keras only when building.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuner.errors import SpecError
from tuner.record import Hyperparams, LayerRow

if TYPE_CHECKING:
    import keras

KERNEL = 3
GATES = {"lstm": 4, "gru": 3}
SHAPES = {"conv2d": "height, width, channels (e.g. data.shape: [8, 8, 1])",
          "lstm": "steps, features per step (e.g. data.window: 24)",
          "gru": "steps, features per step (e.g. data.window: 24)"}


def check(family: str, shape: tuple[int, ...] | None) -> None:
    """A family needs rows of a matching shape; say which data option gives it."""
    if family == "dense":
        return
    want = 3 if family == "conv2d" else 2
    if shape is None or len(shape) != want:
        raise SpecError(f"space.family {family}: needs each row shaped as {SHAPES[family]}; "
                        f"the data is shaped {list(shape) if shape else 'flat'}")


def architecture(hp: Hyperparams, shape: tuple[int, ...], n_outputs: int) -> list[LayerRow]:
    """One row per hidden layer and the output: width, parameters, dropout, L2 (no Keras needed)."""
    rows: list[LayerRow] = []
    fan_in, size = shape[-1], list(shape[:2])
    for i, layer in enumerate(hp.layers):
        w = layer.units
        if hp.family == "conv2d":
            params = KERNEL * KERNEL * fan_in * w + w
            size = pooled(size)
        else:
            bias = 2 * w if hp.family == "gru" else w  # Keras 3 GRU keeps two biases (reset_after=True)
            params = GATES[hp.family] * (fan_in * w + w * w + bias)
        rows.append(LayerRow(f"{hp.family}_{i}", w, params, layer.dropout, layer.l2))
        fan_in = w
    if hp.family == "conv2d":
        fan_in *= size[0] * size[1]  # the last feature maps, flattened
    rows.append(LayerRow("output", n_outputs, fan_in * n_outputs + n_outputs, 0.0, 0.0))
    return rows


def hidden_layers(hp: Hyperparams, shape: tuple[int, ...]) -> list[keras.layers.Layer]:
    """Reshape, then the family's layers (with pooling or sequence handling) up to the output layer."""
    import keras

    layers: list[Any] = [keras.layers.Reshape(shape, name="rows_to_shape")]
    size = list(shape[:2])
    for i, layer in enumerate(hp.layers):
        regularizer = keras.regularizers.L2(layer.l2) if layer.l2 > 0 else None
        if hp.family == "conv2d":
            layers.append(keras.layers.Conv2D(layer.units, KERNEL, padding="same", activation=hp.activation,
                                              kernel_regularizer=regularizer, name=f"conv2d_{i}"))
            if pooled(size) != size:
                layers.append(keras.layers.MaxPooling2D(2, name=f"pool_{i}"))
                size = pooled(size)
        else:
            cell = keras.layers.LSTM if hp.family == "lstm" else keras.layers.GRU
            layers.append(cell(layer.units, return_sequences=i < len(hp.layers) - 1,
                               kernel_regularizer=regularizer, name=f"{hp.family}_{i}"))
        if layer.dropout > 0:
            layers.append(keras.layers.Dropout(layer.dropout, name=f"dropout_{i}"))
    if hp.family == "conv2d":
        layers.append(keras.layers.Flatten(name="flatten"))
    return layers


def pooled(size: list[int]) -> list[int]:
    """2x2 max pooling after a Conv2D layer while the feature maps are at least 4 pixels on each side."""
    return [s // 2 for s in size] if min(size) >= 4 else size
