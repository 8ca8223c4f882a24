"""Model: hyperparameters in, Keras model out. Knows nothing of Optuna; imports TensorFlow only when building."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuner.record import Hyperparams, LayerRow, total_params

if TYPE_CHECKING:
    import keras


def architecture(hp: Hyperparams, n_features: int, n_outputs: int,
                 shape: tuple[int, ...] | None = None) -> list[LayerRow]:
    """One row per Dense layer (hidden layers, then the output): units, parameters (n*m+m), dropout, L2."""
    if hp.family != "dense":
        from tuner.training import families

        return families.architecture(hp, shape or (n_features,), n_outputs)
    rows, fan_in = [], n_features
    for i, layer in enumerate(hp.layers):
        rows.append(LayerRow(f"dense_{i}", layer.units, fan_in * layer.units + layer.units, layer.dropout, layer.l2))
        fan_in = layer.units
    rows.append(LayerRow("output", n_outputs, fan_in * n_outputs + n_outputs, 0.0, 0.0))
    return rows


def count_params(hp: Hyperparams, n_features: int, n_outputs: int, shape: tuple[int, ...] | None = None) -> int:
    """Trainable parameters of the model `build_model` would make, without building it."""
    return total_params(architecture(hp, n_features, n_outputs, shape))


def loss_and_metric(task: str) -> tuple[str, str]:
    if task == "classification":
        return "sparse_categorical_crossentropy", "accuracy"
    return "mse", "mae"


def build_model(hp: Hyperparams, n_features: int, n_outputs: int, task: str, optimizer: str = "adam",
                shape: tuple[int, ...] | None = None) -> keras.Model:
    """Input -> [Dense(units, activation, L2) -> Dropout(rate)] x n -> output, compiled for the task.

    Other families (`hp.family`) replace the Dense layers with Conv2D or LSTM/GRU layers (tuner.training.families).
    """
    import keras

    layers: list[Any] = [keras.Input((n_features,), name="features")]
    if hp.family != "dense":
        from tuner.training import families

        layers += families.hidden_layers(hp, shape or (n_features,))
    for i, layer in enumerate(hp.layers if hp.family == "dense" else ()):
        regularizer = keras.regularizers.L2(layer.l2) if layer.l2 > 0 else None
        layers.append(keras.layers.Dense(layer.units, activation=hp.activation, kernel_regularizer=regularizer,
                                         name=f"dense_{i}"))
        if layer.dropout > 0:
            layers.append(keras.layers.Dropout(layer.dropout, name=f"dropout_{i}"))
    head = "softmax" if task == "classification" else None
    layers.append(keras.layers.Dense(n_outputs, activation=head, name="output"))
    model = keras.Sequential(layers, name="tuner_mlp" if hp.family == "dense" else f"tuner_{hp.family}")
    loss, metric = loss_and_metric(task)
    model.compile(optimizer=make_optimizer(optimizer, hp.learning_rate), loss=loss, metrics=[metric])
    return model


def make_optimizer(name: str, learning_rate: float) -> Any:
    import keras

    classes = {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW, "sgd": keras.optimizers.SGD,
               "rmsprop": keras.optimizers.RMSprop}
    return classes[name](learning_rate=learning_rate)
