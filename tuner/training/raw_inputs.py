"""A trained model that takes the raw inputs it was tuned on, in their own shape and dtype (a CSV's flat rows, an
image, a loader's int32 token ids): the feature scaling fitted on the training rows as a Keras `Normalization` layer
in front (images: a `Rescaling` by 1/255), and, for a standardized regression target, a `Rescaling` layer behind that
gives predictions in the target's own units. Its outputs are in the order of the study's classes. Only Keras's own
layers: `keras.models.load_model` needs nothing else."""

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

    scaling, shape = data.scaling, data.row_shape
    pixels = scaling is not None and scaling.kind == "pixels"
    inputs = keras.Input(shape, dtype=str(data.x_train.dtype), name="raw_images" if pixels else "raw_features")
    hidden = inputs
    if pixels:  # raw pixels in, divided as in training
        hidden = keras.layers.Rescaling(1.0 / float(scaling.spread.flat[0]), name="pixel_scaling")(hidden)
    elif scaling is not None:
        if len(shape) > 1:  # fitted per value of the flat row
            hidden = keras.layers.Reshape((data.n_features,), name="flat_row")(hidden)
        hidden = keras.layers.Normalization(mean=scaling.center, variance=np.square(scaling.spread),
                                            name="feature_scaling")(hidden)
    wanted = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else tuple(hidden.shape[1:])
    if wanted != tuple(hidden.shape[1:]):  # an image or a sequence: the row reshaped to what the model takes
        hidden = keras.layers.Reshape(wanted, name="row_to_input")(hidden)
    outputs = model(hidden)
    if data.target_scaling is not None:
        outputs = keras.layers.Rescaling(scale=data.target_scaling.std, offset=data.target_scaling.mean,
                                         name=f"to_{_name(data.target)}_units")(outputs)
    return keras.Model(inputs, outputs, name=f"{model.name}_on_raw_inputs")


def raw_rows(x: np.ndarray, data: Dataset) -> np.ndarray:
    """Rows of the data set as they were before scaling, in their own shape and dtype (what `raw_inputs` takes)."""
    raw = x if data.scaling is None else x * data.scaling.spread + data.scaling.center
    return raw.reshape((len(raw), *data.row_shape))


def raw_target(y: np.ndarray, data: Dataset) -> np.ndarray:
    """A regression target as it was before standardization."""
    return y if data.target_scaling is None else y * data.target_scaling.std + data.target_scaling.mean


def _name(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_") or "target"
