"""The zoo's models, written as a Keras user writes a `model.build` function: `build(hp)` reads the widths it is
given by name (`hp.units[...]`), `hp.l2`, `hp.dropout`, `hp.input_shape` and `hp.n_outputs`, and returns the model,
uncompiled unless the model has optimizer settings or metrics of its own."""

from __future__ import annotations

from typing import Any

import keras

from tests.zoo import data

layers = keras.layers


def _l2(hp: Any) -> Any:
    return keras.regularizers.L2(hp.l2) if hp.l2 > 0 else None


def _classifier(hp: Any, x: Any) -> Any:
    return layers.Dense(hp.n_outputs, activation="softmax", name="output")(x)


def dense_stack(hp: Any) -> keras.Model:
    """tuner's own Dense stack as docs/study-files.md describes it: [Dense(units, relu, L2) -> Dropout] per layer, then a
    softmax (or linear) output, compiled for the task with Adam."""
    model = keras.Sequential([keras.Input(hp.input_shape, name="features")])
    for i, layer in enumerate(hp.layers):
        regularizer = keras.regularizers.L2(layer.l2) if layer.l2 > 0 else None
        model.add(layers.Dense(layer.units, activation=hp.activation, kernel_regularizer=regularizer,
                               name=f"dense_{i}"))
        if layer.dropout > 0:
            model.add(layers.Dropout(layer.dropout, name=f"dropout_{i}"))
    head = "softmax" if hp.task == "classification" else None
    model.add(layers.Dense(hp.n_outputs, activation=head, name="output"))
    loss, metric = ("sparse_categorical_crossentropy", "accuracy") if hp.task == "classification" else ("mse", "mae")
    model.compile(optimizer=keras.optimizers.Adam(hp.learning_rate), loss=loss, metrics=[metric])
    return model


def lstm_tokens(hp: Any) -> keras.Model:
    inputs = keras.Input(hp.input_shape)
    x = layers.Embedding(data.VOCAB, 16, name="embedding")(inputs)
    x = layers.LSTM(hp.units["lstm"], name="lstm")(x)
    x = layers.Dropout(hp.dropout, name="dropout")(x)
    x = layers.Dense(hp.units["head"], activation="relu", kernel_regularizer=_l2(hp), name="head")(x)
    return keras.Model(inputs, _classifier(hp, x), name="lstm_tokens")


def gru_tokens(hp: Any) -> keras.Model:
    """Token ids in an int32 input."""
    return keras.Sequential([
        keras.Input(hp.input_shape, dtype="int32"),
        layers.Embedding(data.VOCAB, 16, name="embedding"),
        layers.GRU(hp.units["gru"], name="gru"),
        layers.Dense(hp.n_outputs, activation="softmax", name="output"),
    ], name="gru_tokens")


def conv1d_sequence(hp: Any) -> keras.Model:
    inputs = keras.Input(hp.input_shape)
    x = layers.Conv1D(hp.units["conv_a"], 3, activation="relu", kernel_regularizer=_l2(hp), name="conv_a")(inputs)
    x = layers.MaxPooling1D(name="pool")(x)
    x = layers.Conv1D(hp.units["conv_b"], 3, activation="relu", kernel_regularizer=_l2(hp), name="conv_b")(x)
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    x = layers.Dropout(hp.dropout, name="dropout")(x)
    return keras.Model(inputs, _classifier(hp, x), name="conv1d_sequence")


def residual_cnn(hp: Any) -> keras.Model:
    inputs = keras.Input(hp.input_shape)
    x = layers.Conv2D(hp.units["conv_1"], 3, padding="same", activation="relu", kernel_regularizer=_l2(hp),
                      name="conv_1")(inputs)
    y = layers.Conv2D(hp.units["conv_1"], 3, padding="same", kernel_regularizer=_l2(hp), name="conv_2")(x)
    y = layers.BatchNormalization(name="bn")(y)
    x = layers.Activation("relu", name="relu")(layers.Add(name="residual")([x, y]))
    x = layers.GlobalAveragePooling2D(name="gap")(layers.MaxPooling2D(name="pool")(x))
    x = layers.Dropout(hp.dropout, name="dropout")(x)
    x = layers.Dense(hp.units["dense_head"], activation="relu", kernel_regularizer=_l2(hp), name="dense_head")(x)
    return keras.Model(inputs, _classifier(hp, x), name="residual_cnn")


def inception(hp: Any) -> keras.Model:
    inputs = keras.Input(hp.input_shape)
    stem = layers.Conv2D(hp.units["stem"], 3, padding="same", activation="relu", name="stem")(inputs)
    one = layers.Conv2D(hp.units["branch_1x1"], 1, activation="relu", name="branch_1x1")(stem)
    three = layers.Conv2D(hp.units["branch_3x3"], 3, padding="same", activation="relu", name="branch_3x3")(stem)
    pooled = layers.MaxPooling2D(3, strides=1, padding="same", name="branch_pool")(stem)
    pooled = layers.Conv2D(hp.units["pool_proj"], 1, activation="relu", name="pool_proj")(pooled)
    x = layers.Concatenate(name="mixed")([one, three, pooled])
    x = layers.Flatten(name="flatten")(layers.MaxPooling2D(name="pool")(x))
    return keras.Model(inputs, _classifier(hp, x), name="inception")


def densenet(hp: Any) -> keras.Model:
    inputs = keras.Input(hp.input_shape)
    x = layers.Conv2D(hp.units["stem"], 3, padding="same", name="stem")(inputs)
    for i in (1, 2):
        y = layers.BatchNormalization(name=f"bn_{i}")(x)
        y = layers.Activation("relu", name=f"relu_{i}")(y)
        y = layers.Conv2D(hp.units["grow_1"], 3, padding="same", name=f"grow_{i}")(y)
        x = layers.Concatenate(name=f"dense_block_{i}")([x, y])
    x = layers.Flatten(name="flatten")(layers.MaxPooling2D(name="pool")(x))
    return keras.Model(inputs, _classifier(hp, x), name="densenet")


def split_inputs(hp: Any) -> keras.Model:
    """Two branches, the first 15 and the last 15 features, merged: a two-input model on tuner's one input."""
    inputs = keras.Input(hp.input_shape)
    first = layers.Dense(hp.units["left"], activation="relu", name="left")(inputs[:, :15])
    second = layers.Dense(hp.units["right"], activation="relu", name="right")(inputs[:, 15:])
    x = layers.Concatenate(name="merge")([first, second])
    return keras.Model(inputs, _classifier(hp, x), name="split_inputs")


def two_inputs(hp: Any) -> keras.Model:
    """The same two branches as two `keras.Input`s."""
    left_in, right_in = keras.Input((15,), name="left_in"), keras.Input((15,), name="right_in")
    first = layers.Dense(hp.units["left"], activation="relu", name="left")(left_in)
    second = layers.Dense(hp.units["right"], activation="relu", name="right")(right_in)
    x = layers.Concatenate(name="merge")([first, second])
    return keras.Model([left_in, right_in], _classifier(hp, x), name="two_inputs")


def transformer(hp: Any) -> keras.Model:
    inputs = keras.Input(hp.input_shape)
    x = layers.Dense(16, name="embed")(inputs)
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=8, name="attention")(x, x)
    x = layers.LayerNormalization(name="norm_1")(layers.Add(name="residual_1")([x, attended]))
    y = layers.Dense(hp.units["mlp"], activation="relu", kernel_regularizer=_l2(hp), name="mlp")(x)
    y = layers.Dropout(hp.dropout, name="dropout")(y)
    y = layers.Dense(16, kernel_regularizer=_l2(hp), name="mlp_out")(y)
    x = layers.LayerNormalization(name="norm_2")(layers.Add(name="residual_2")([x, y]))
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    return keras.Model(inputs, _classifier(hp, x), name="transformer")


def separable(hp: Any) -> keras.Model:
    return keras.Sequential([
        keras.Input(hp.input_shape),
        layers.SeparableConv2D(hp.units["separable"], 3, padding="same", activation="relu", name="separable"),
        layers.DepthwiseConv2D(3, activation="relu", name="depthwise"),
        layers.Flatten(name="flatten"),
        layers.Dense(hp.n_outputs, activation="softmax", name="output"),
    ], name="separable")


def preprocessing(hp: Any) -> keras.Model:
    """Raw pixels in: Rescaling to [0, 1], then a Normalization adapted on the training rows."""
    x_train, _ = data.digits_raw()["train"]
    normalization = layers.Normalization(name="normalization")
    normalization.adapt(x_train / 16.0)
    return keras.Sequential([
        keras.Input(hp.input_shape),
        layers.Rescaling(1 / 16, name="rescaling"),
        normalization,
        layers.Dense(hp.units["hidden"], activation="relu", name="hidden"),
        layers.Dense(hp.n_outputs, activation="softmax", name="output"),
    ], name="preprocessing")


def compiled_topk(hp: Any) -> keras.Model:
    """Compiled with its own optimizer (AdamW: learning rate 3e-3, weight decay 1e-3) and a top-3 metric."""
    model = keras.Sequential([
        keras.Input(hp.input_shape),
        layers.Dense(hp.units["hidden"], activation="relu", name="hidden"),
        layers.Dense(hp.n_outputs, activation="softmax", name="output"),
    ], name="compiled_topk")
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=3e-3, weight_decay=1e-3),
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", keras.metrics.SparseTopKCategoricalAccuracy(k=3, name="top3")])
    return model


def regression_mae(hp: Any) -> keras.Model:
    model = keras.Sequential([
        keras.Input(hp.input_shape),
        layers.Dense(hp.units["hidden"], activation="relu", name="hidden"),
        layers.Dense(1, name="output"),
    ], name="regression_mae")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2), loss="mse", metrics=["mae"])
    return model


def sigmoid_binary(hp: Any) -> keras.Model:
    model = keras.Sequential([
        keras.Input(hp.input_shape),
        layers.Dense(hp.units["hidden"], activation="relu", name="hidden"),
        layers.Dense(1, activation="sigmoid", name="output"),
    ], name="sigmoid_binary")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def auc_binary(hp: Any) -> keras.Model:
    """A sigmoid output judged by its AUC, with AdamW's weight decay."""
    model = keras.Sequential([
        keras.Input(hp.input_shape),
        layers.Dense(hp.units["hidden"], activation="relu", name="hidden"),
        layers.Dense(1, activation="sigmoid", name="output"),
    ], name="auc_binary")
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=3e-3, weight_decay=1e-4),
                  loss="binary_crossentropy", metrics=[keras.metrics.AUC(name="auc")])
    return model


def logits(hp: Any) -> keras.Model:
    """A last Dense layer without activation: logits."""
    return keras.Sequential([
        keras.Input(hp.input_shape),
        layers.Conv2D(hp.units["conv"], 3, activation="relu", name="conv"),
        layers.Flatten(name="flatten"),
        layers.Dense(hp.n_outputs, name="logits"),
    ], name="logits")


def binary_logit(hp: Any) -> keras.Model:
    """One output unit without activation for two classes: a logit."""
    return keras.Sequential([
        keras.Input(hp.input_shape),
        layers.Dense(hp.units["hidden"], activation="relu", name="hidden"),
        layers.Dense(1, name="logit"),
    ], name="binary_logit")
