"""Write studies/models/digits_base.keras: an existing model to re-widen (studies/digits_rewiden.yaml), as a user
would bring one. A Functional CNN for 8x8x1 digit images with a residual block (its two convolutions must keep equal
widths), batch normalization, pooling and a Dense head, compiled with Adam. Widths are hand-picked, as they
usually are: 32, 32, 64. Run from anywhere: python studies/models/make_base.py
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

OUT = Path(__file__).resolve().parent / "digits_base.keras"


def make() -> keras.Model:
    inputs = keras.Input((8, 8, 1), name="image")
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv_a")(inputs)
    y = keras.layers.Conv2D(32, 3, padding="same", name="conv_b")(x)
    y = keras.layers.BatchNormalization(name="bn")(y)
    x = keras.layers.ReLU(name="relu")(keras.layers.Add(name="residual")([x, y]))
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(64, activation="relu", name="head")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="digit")(x)
    model = keras.Model(inputs, outputs, name="digits_base")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


if __name__ == "__main__":
    make().save(OUT)
    print(f"written {OUT}")
