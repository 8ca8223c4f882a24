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
    """`model` with the study's preprocessing around it; its weights are shared, not copied."""
    import keras

    inputs = keras.Input((data.n_features,), name="raw_features")
    hidden = inputs
    if data.scaling is not None:
        hidden = keras.layers.Normalization(mean=data.scaling.center, variance=np.square(data.scaling.spread),
                                            name="feature_scaling")(hidden)
    outputs = model(hidden)
    if data.target_scaling is not None:
        outputs = keras.layers.Rescaling(scale=data.target_scaling.std, offset=data.target_scaling.mean,
                                         name=f"to_{_name(data.target)}_units")(outputs)
    return keras.Model(inputs, outputs, name=f"{model.name}_on_raw_inputs")


def raw_rows(x: np.ndarray, data: Dataset) -> np.ndarray:
    """Scaled rows of the data set as they were before scaling."""
    return x if data.scaling is None else x * data.scaling.spread + data.scaling.center


def raw_target(y: np.ndarray, data: Dataset) -> np.ndarray:
    """A regression target as it was before standardization."""
    return y if data.target_scaling is None else y * data.target_scaling.std + data.target_scaling.mean


def _name(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_") or "target"
