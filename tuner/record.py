"""The trial record: what one trial trains with, the parameter names it is sampled under, and every attribute key
tuner writes to a trial or a study. The objective, the warm start, the views and the CLI all read and write
through these names.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# ---------------------------------------------------------------------------------------- study user attributes
SPEC = "tuner.spec"  # the study file's definition, as validated
FINGERPRINT = "tuner.fingerprint"  # what makes two study files the same search
BASE_DIR = "tuner.base_dir"  # the study file's folder: relative data paths start there
DATA = "tuner.data"  # the data set's description (name, task, shapes)
METRIC = "tuner.metric"  # the Keras log key the study optimizes; written last when a study is created
TRIALS = "tuner.trials"  # the trial budget `tuner start --trials` last set for the whole study
BEST_MODEL = "tuner.best_model"  # the best-model artifact: artifact_id, filename, trial, value[, refit, test]
ONE_SHOT_STAGE = "tuner.one_shot"  # the one-shot stage, once done: estimates, seconds, the widths retrained
ONE_SHOT_RANK = "tuner.one_shot_rank"  # Spearman correlation of estimate and trained value, and widths it covers
ONE_SHOT_WEIGHTS = "tuner.one_shot_weights"  # the stage's trained networks: key, and each one's artifact id
REFIT_ROWS = {"yes": "training + validation", "no": "training", "all": "training + validation + test"}  # by refit

# ---------------------------------------------------------------------------------------- trial user attributes
UNITS = "units"  # width of each hidden layer the trial has
N_PARAMS = "n_params"  # trainable parameters of the whole model
ARCHITECTURE = "architecture"  # one row per layer: layer, units, params, dropout, l2
SEED = "seed"
DROPOUT = "dropout"  # per layer
L2 = "l2"  # per layer
EPOCHS_RUN = "epochs_run"
BEST_EPOCH = "best_epoch"
OVERFIT_GAP = "overfit_gap"  # training minus validation metric (> 0: fits training better than it generalizes)
TRAIN_SECONDS = "train_seconds"
FAIL_REASON = "fail_reason"
WORKER = "worker"  # who ran the trial: "host:pid", or "ray:<node id>:<pid>" on a Ray cluster
CURVE = "curve"  # per-epoch metric of a multi-objective trial (it cannot report intermediate values)
LATENCY = "latency_us"  # inference time per sample, when latency is an objective
WARM_START = "warm_start"  # the trial was enqueued as a starting point
BASE_MODEL = "base_model"  # the trial is the user's existing model as it is (re-widened studies)
BASE_RAN_WITH = "base_ran_with"  # what that trial trained with: its own widths, nothing added, its optimizer
ONE_SHOT = "one_shot"  # the trial is a one-shot estimate: scored on shared weights, never trained on its own
ESTIMATE = "one_shot_estimate"  # a retrained trial's one-shot estimate (the value its widths scored)
LIST_ATTRS = (ARCHITECTURE, CURVE)  # attributes holding lists of rows or values, left out of flat tables
OUTLINE_ATTRS = (FAIL_REASON, WARM_START, ONE_SHOT)  # the user attributes that decide how a trial counts

# ------------------------------------------------------------------------------------------------- constraints
CONSTRAINT = "max_params"  # Optuna 5's trial.set_constraint key: n_params - max_params (<= 0 is feasible)
LEGACY_CONSTRAINTS = "constraints"  # the trial system attribute optuna-dashboard 0.21 reads

# ------------------------------------------------------------------------------------------------ fail reasons
INTERRUPTED = "interrupted"  # Ctrl-C: the trial is redone and does not use up the budget
INFEASIBLE = "infeasible"  # prefix of the reason of a model over max_params, never trained


def train_key(base: str) -> str:
    """The attribute holding the training-set metric at the best epoch (`train_accuracy`)."""
    return f"train_{base}"


def val_key(base: str) -> str:
    """The attribute holding the validation metric at the best epoch (`val_accuracy`)."""
    return f"val_{base}"


def test_key(base: str) -> str:
    """The attribute holding the trained model's metric on the test rows (`test_accuracy`): recorded, never used
    to prune or choose."""
    return f"test_{base}"


# --------------------------------------------------------------------------------------------- parameter names
N_LAYERS = "n_layers"
PER_LAYER_FIELDS = ("units", "dropout", "l2")  # may be sampled for each layer or shared by all
SHARED_FIELDS = ("activation", "learning_rate", "batch_size")  # one value for the whole model
INTEGER_FIELDS = ("layers", "units", "batch_size")
WIDTH_MULTIPLIER = "width_multiplier"  # the one factor that scales every width of an existing model


def param_name(field: str, layer: int | str | None = None) -> str:
    """The Optuna parameter a dimension is sampled as: `n_layers`, `units_0` (one layer's value, `units_conv_1` for a
    named width of the user's model) or `units`
    (one value all layers share)."""
    if field == "layers":
        return N_LAYERS
    return field if layer is None else f"{field}_{layer}"


# ------------------------------------------------------------------------------------- what a trial is judged on
@dataclass(frozen=True)
class Metric:
    name: str  # the Keras log key, e.g. "val_accuracy"
    direction: str  # "maximize" or "minimize"

    @property
    def base(self) -> str:
        """The training-set counterpart's key ("accuracy" for "val_accuracy")."""
        return self.name.removeprefix("val_")

    @property
    def validation(self) -> str:
        return f"val_{self.base}"

    def better(self, a: float, b: float) -> bool:
        return a > b if self.direction == "maximize" else a < b

    def best_index(self, values: list[float]) -> int:
        pick = max if self.direction == "maximize" else min
        return values.index(pick(values))


# ----------------------------------------------------------------------------------------- what a trial trains
@dataclass(frozen=True)
class Layer:
    units: int
    dropout: float
    l2: float


@dataclass(frozen=True)
class Hyperparams:
    """Everything needed to build and train one model; only the layers a trial has are listed."""

    layers: tuple[Layer, ...]
    activation: str
    learning_rate: float
    batch_size: int
    family: str = "dense"

    @property
    def units(self) -> list[int]:
        return [layer.units for layer in self.layers]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Hyperparams:
        return cls(layers=tuple(Layer(**layer) for layer in data["layers"]), activation=data["activation"],
                   learning_rate=data["learning_rate"], batch_size=data["batch_size"],
                   family=data.get("family", "dense"))


@dataclass(frozen=True)
class ModelParams:
    """What one trial gives the user's own model: a width per name (a layer, or layers tied to one width), the
    L2 and dropout, the learning rate and batch size, and what the data asks of the model. A build function reads
    `hp.units["conv_1"]`, `hp.l2`, `hp.dropout`, `hp.input_shape`, `hp.n_outputs`; `multiplier` is the factor an
    existing model's widths were scaled by (model.widths: multiplier); `base`: the existing model as it is (its own
    widths, optimizer and learning rate, no L2 or dropout added)."""

    units: dict[str, int]
    l2: float
    dropout: float
    learning_rate: float
    batch_size: int
    activation: str
    input_shape: tuple[int, ...]
    n_outputs: int
    task: str
    multiplier: float | None = None
    family: str = "user"
    base: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ModelCard:
    """What an export says about its model (hyperparams.json, and MODEL_CARD.md made from it): the trial it is of,
    the rows it trained on and its scores, its hyperparameters, the data it takes and how to call it."""

    study: str
    trial: int
    seed: int
    epochs: int
    metric: str
    direction: str
    recorded: float  # the trial's value in the study
    reproduced: float | None  # the same value retrained here (refit "no"), else None
    refit: str  # "yes", "no" or "all" (REFIT_ROWS)
    trained_on: str
    trained_rows: int
    test_metric: str
    test: float | None  # on the test rows, where any remain unseen
    units: str | None
    n_params: int
    params: dict[str, Any]
    hyperparams: dict[str, Any]
    data: dict[str, Any]  # Dataset.describe()
    classes: list[Any]
    inputs: list[str]
    raw_shape: list[int] | None
    dtype: str
    images: bool
    scaling: str
    input_lines: list[str]
    example: list[Any]  # one validation row, raw
    pick: str | None  # how a class is read from a prediction `p` (classification)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StudyView:
    """A study as `tuner list` and `tuner status` show it (and print with --json)."""

    name: str
    direction: str  # "maximize", or one per objective joined by "/"
    metric: str
    units: str | None
    trials: int
    counts: dict[str, int]  # complete, pruned, failed, running, used, infeasible
    best_value: float | None
    best_trial: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LayerRow:
    """One row of a model's architecture (the last row is the output), as a trial's `architecture` attribute stores
    it: the layer, its width (units or filters; None where it has none), its parameters, and the dropout and L2
    tuner gave it (None where the user's own code decides)."""

    layer: str
    units: int | None
    params: int
    dropout: float | None
    l2: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def total_params(architecture: list[LayerRow]) -> int:
    """The model's trainable parameters: the sum over its architecture rows."""
    return sum(row.params for row in architecture)
