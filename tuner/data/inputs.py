"""Whether the user's model can take the study's data scaled: an input of an integer dtype, or one that feeds an
`Embedding` (or a lookup layer), takes ids as they are, and scaled ids mean nothing. The data is loaded from the
study file alone (every process, worker and export derives the same rows from it), so the model does not change how
it is loaded: a scaled input such a model takes stops the study with a SpecError that names `data.scale: none`."""

from __future__ import annotations

from typing import Any

from tuner.data.dataset import Dataset
from tuner.errors import SpecError

INDEX_LAYERS = frozenset({"Embedding", "IntegerLookup", "CategoryEncoding", "Hashing"})  # they take ids as ids


def takes_ids(model: Any) -> str | None:
    """Why the model's input must come unscaled (its integer dtype, the layer that takes ids), or None."""
    import keras

    dtype = str(model.inputs[0].dtype) if getattr(model, "inputs", None) else "float32"
    if dtype.startswith(("int", "uint")) or dtype == "bool":
        return f"its input is {dtype}"
    for layer in _layers(model, keras.Model):
        if type(layer).__name__ in INDEX_LAYERS:
            return f"it feeds {type(layer).__name__} layer {layer.name!r}"
    return None


def check_scaling(data: Dataset, model: Any, key: str) -> None:
    """A SpecError when scaled rows would go into a model that takes ids."""
    why = takes_ids(model) if data.scaling is not None else None
    if why is not None:
        raise SpecError(f"data.scale: {data.scaling.kind} scaling would change the ids the model of {key} takes "
                        f"({why}); set data.scale: none (integer arrays from a loader are never scaled)")


def _layers(model: Any, kind: type) -> list[Any]:
    """Every layer of the model, those of nested models included."""
    found = []
    for layer in model.layers:
        found.append(layer)
        if isinstance(layer, kind):
            found += _layers(layer, kind)
    return found
