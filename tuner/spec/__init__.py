"""The study file: YAML validated into pydantic models at the edge, trusted everywhere after."""

from tuner.spec.dim import Dim, Scalar
from tuner.spec.load import load_spec, parse_spec
from tuner.spec.sections import (BUNDLED, BudgetSpec, DataSpec, GridSpec, HalvingSpec, HyperbandSpec, MedianSpec,
                                 NoPrunerSpec, RandomSpec, ResourcesSpec, SpaceSpec, TPESpec, TrainingSpec,
                                 WarmStartSpec)
from tuner.spec.studyfile import StudySpec

__all__ = ["BUNDLED", "BudgetSpec", "DataSpec", "Dim", "GridSpec", "HalvingSpec", "HyperbandSpec", "MedianSpec",
           "NoPrunerSpec", "RandomSpec", "ResourcesSpec", "Scalar", "SpaceSpec", "StudySpec", "TPESpec", "TrainingSpec",
           "WarmStartSpec", "load_spec", "parse_spec"]
