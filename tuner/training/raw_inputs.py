"""A trained model that takes the raw inputs it was tuned on: the feature scaling fitted on the training rows as a
Keras `Normalization` layer in front, and, for a standardized regression target, a `Rescaling` layer behind that
gives predictions in the target's own units. Only Keras's own layers: `keras.models.load_model` needs nothing else."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tuner.data import Dataset

if TYPE_CHECKING:
    import keras


def raw_inputs(model: keras.Model, data: Dataset) -> keras.Model:
    """A copy of the trained `model` (its weights, not its optimizer's state: the file is for predicting) with the
    study's preprocessing around it."""
    import keras

    trained = model
    model = keras.models.clone_model(trained)
    model.set_weights(trained.get_weights())

    if data.raw_shape is not None:  # images: raw pixels in, divided as in training
        inputs = keras.Input(data.raw_shape, name="raw_images")
        hidden = inputs if data.scaling is None else \
            keras.layers.Rescaling(1.0 / float(data.scaling.spread.flat[0]), name="pixel_scaling")(inputs)
    else:
        inputs = keras.Input((data.n_features,), name="raw_features")
        hidden = inputs
        if data.scaling is not None:
            hidden = keras.layers.Normalization(mean=data.scaling.center, variance=np.square(data.scaling.spread),
                                                name="feature_scaling")(hidden)
    shape = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else (data.n_features,)
    if shape != tuple(inputs.shape[1:]):  # an image or a sequence: the raw row reshaped to what the model takes
        hidden = keras.layers.Reshape(shape, name="row_to_input")(hidden)
    outputs = model(hidden)
    if data.target_scaling is not None:
        outputs = keras.layers.Rescaling(scale=data.target_scaling.std, offset=data.target_scaling.mean,
                                         name=f"to_{_name(data.target)}_units")(outputs)
    return keras.Model(inputs, outputs, name=f"{model.name}_on_raw_inputs")


def raw_rows(x: np.ndarray, data: Dataset) -> np.ndarray:
    """Scaled rows of the data set as they were before scaling (images in their own shape)."""
    raw = x if data.scaling is None else x * data.scaling.spread + data.scaling.center
    return raw.reshape((len(raw), *data.raw_shape)) if data.raw_shape is not None else raw


def raw_target(y: np.ndarray, data: Dataset) -> np.ndarray:
    """A regression target as it was before standardization."""
    return y if data.target_scaling is None else y * data.target_scaling.std + data.target_scaling.mean


def _name(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_") or "target"
