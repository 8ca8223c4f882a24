"""tuner: width tuning for Keras models, searched with Optuna and stored in SQL."""

from tuner.errors import TunerError

__all__ = ["TunerError"]
__version__ = "0.1.0"
