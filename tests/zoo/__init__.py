"""A zoo of Keras models as users write them, each with data that fits it, to hold tuner's training paths to plain
`model.fit` (tests/test_zoo.py).

An entry names its build function in tests/zoo/models.py (None: tuner's own Dense stack, a study without `model:`),
its loader in tests/zoo/data.py, the task and the metric it is judged on, the widths searched (`space.units`, each
fixed here to one value; one number for tuner's Dense stack, of `layers` layers), the L2 and dropout given through `hp.l2` / `hp.dropout`, the training path tuner is
expected to take (`shared`: tuner.training.sharedfit, `fit`: plain `model.fit`),
and the ways it can also be re-widened as an existing model (`keras`: a .keras file, `function`: a function
returning it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ZooModel:
    name: str
    build: str | None
    loader: str
    task: str
    metric: str
    units: dict[str, int] | int
    path: str
    l2: float = 0.0
    dropout: float = 0.0
    rewiden: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 1e-3
    layers: int = 1


ZOO = (
    ZooModel("dense_stack", None, "digits_flat", "classification", "val_accuracy", 32, "shared", learning_rate=3e-3),
    ZooModel("dense_stack_regularized", None, "digits_flat", "classification", "val_accuracy", 32, "shared",
             l2=1e-3, dropout=0.2, layers=2, learning_rate=3e-3),
    ZooModel("lstm_tokens", "lstm_tokens", "tokens", "classification", "val_accuracy", {"lstm": 16, "head": 16},
             "fit", l2=1e-4, dropout=0.2, learning_rate=1e-2),
    ZooModel("gru_tokens_dataset", "gru_tokens", "tokens_dataset", "classification", "val_accuracy", {"gru": 16},
             "fit", rewiden=("function",), learning_rate=1e-2),
    ZooModel("conv1d_sequence", "conv1d_sequence", "waves", "classification", "val_accuracy",
             {"conv_a": 16, "conv_b": 16}, "shared", l2=1e-4, dropout=0.2, learning_rate=3e-3),
    ZooModel("residual_cnn", "residual_cnn", "digits", "classification", "val_accuracy",
             {"conv_1": 16, "dense_head": 32}, "shared", rewiden=("keras", "function"), learning_rate=1e-2),
    ZooModel("inception", "inception", "digits", "classification", "val_accuracy",
             {"stem": 16, "branch_1x1": 8, "branch_3x3": 8, "pool_proj": 8}, "shared", rewiden=("keras",),
             learning_rate=1e-2),
    ZooModel("densenet", "densenet", "digits", "classification", "val_accuracy", {"stem": 16, "grow_1": 8},
             "shared", rewiden=("function",), learning_rate=1e-2),
    ZooModel("split_inputs", "split_inputs", "tumours", "classification", "val_accuracy", {"left": 8, "right": 8},
             "shared"),
    ZooModel("transformer", "transformer", "waves", "classification", "val_accuracy", {"mlp": 32}, "fit",
             l2=1e-4, dropout=0.1, learning_rate=3e-3),
    ZooModel("separable", "separable", "digits", "classification", "val_accuracy", {"separable": 16}, "fit",
             learning_rate=1e-2),
    ZooModel("preprocessing", "preprocessing", "digits_raw", "classification", "val_accuracy", {"hidden": 32},
             "fit", data={"scale": "none"}),
    ZooModel("compiled_topk", "compiled_topk", "digits_flat", "classification", "val_accuracy", {"hidden": 24},
             "fit"),
    ZooModel("regression_mae", "regression_mae", "diabetes", "regression", "val_mae", {"hidden": 16}, "shared"),
    ZooModel("sigmoid_binary", "sigmoid_binary", "tumours", "classification", "val_accuracy", {"hidden": 8},
             "fit"),
    ZooModel("auc_binary", "auc_binary", "tumours", "classification", "val_auc", {"hidden": 8}, "fit"),
    ZooModel("logits", "logits", "digits", "classification", "val_accuracy", {"conv": 8}, "shared"),
    ZooModel("binary_logit", "binary_logit", "tumours", "classification", "val_accuracy", {"hidden": 8}, "fit",
             learning_rate=1e-2),
)
BY_NAME = {entry.name: entry for entry in ZOO}
