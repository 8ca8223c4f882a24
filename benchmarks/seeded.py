"""Run a reference script with another seed, leaving the script itself unchanged.

Usage: seeded.py SEED [--npz FILE] SCRIPT [ARGS...]. The scripts hard-code seed=0 for their sampler (Optuna's
TPESampler) or tuner (KerasTuner's Hyperband); this replaces that seed before running the script as __main__.
With --npz, the scripts' `load_digits(return_X_y=True)` returns the file's `x` and `y` arrays instead (64 features,
10 classes, values 0-16 like digits, e.g. studies/data/noisy10.npz), so the same unmodified script runs on
another data set.
"""

from __future__ import annotations

import functools
import runpy
import sys


def _reseed(cls: type, seed: int) -> None:
    original = cls.__init__

    @functools.wraps(original)
    def init(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        kwargs["seed"] = seed
        original(self, *args, **kwargs)

    cls.__init__ = init


def _swap_digits(npz: str) -> None:
    import numpy as np
    import sklearn.datasets

    def load(*, return_X_y: bool = False, **_: object) -> tuple[np.ndarray, np.ndarray]:  # noqa: N803
        if not return_X_y:
            raise NotImplementedError("seeded.py --npz replaces load_digits(return_X_y=True) only")
        with np.load(npz) as arrays:
            return arrays["x"].astype("float64"), arrays["y"]

    sklearn.datasets.load_digits = load


def main() -> None:
    seed, *rest = sys.argv[1:]
    if rest[0] == "--npz":
        _swap_digits(rest[1])
        rest = rest[2:]
    script, *args = rest
    import optuna

    _reseed(optuna.samplers.TPESampler, int(seed))
    if script.endswith("anchor_kerastuner.py"):
        import keras_tuner

        _reseed(keras_tuner.Hyperband, int(seed))
    sys.argv = [script, *args]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
