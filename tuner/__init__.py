"""tuner: width tuning for Keras models, searched with Optuna and stored in SQL.

The Python API (tuner.api): `tuner.start(study, trials=...)`, `tuner.open(...)`, `tuner.load(name)`,
`tuner.best(study)`, `tuner.best_model(study)`; `tuner.ModelParams` is what a build function of yours receives.
"""

from tuner.api import Result, best, best_model, load, open, start  # noqa: A004 - tuner.open opens a study
from tuner.errors import TunerError
from tuner.record import ModelParams

__all__ = ["ModelParams", "Result", "TunerError", "best", "best_model", "load", "open", "start"]
__version__ = "0.1.0"
