"""A Functional CNN with a residual block, built from the widths a trial samples (studies/digits_images.yaml).

tuner calls `build(hp)` once per trial: `hp.units` holds the widths the study file names (conv_1, dense_head),
`hp.l2` and `hp.dropout` the sampled regularization, `hp.input_shape` and `hp.n_outputs` what the data needs.
The model is returned uncompiled, so tuner compiles it for the task with the study's training settings.
"""

import keras


def build(hp):
    l2 = keras.regularizers.L2(hp.l2) if hp.l2 > 0 else None
    inputs = keras.Input(hp.input_shape)
    x = keras.layers.Conv2D(hp.units["conv_1"], 3, padding="same", activation="relu", kernel_regularizer=l2,
                            name="conv_1")(inputs)
    y = keras.layers.Conv2D(hp.units["conv_1"], 3, padding="same", kernel_regularizer=l2, name="conv_2")(x)
    y = keras.layers.BatchNormalization(name="bn")(y)
    x = keras.layers.Activation("relu")(keras.layers.Add(name="residual")([x, y]))  # equal widths: one parameter
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dropout(hp.dropout, name="dropout")(x)
    x = keras.layers.Dense(hp.units["dense_head"], activation="relu", kernel_regularizer=l2, name="dense_head")(x)
    outputs = keras.layers.Dense(hp.n_outputs, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="residual_cnn")
