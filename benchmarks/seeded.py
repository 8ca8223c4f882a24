"""Run a reference script with another seed, leaving the script itself unchanged.

Usage: seeded.py SEED SCRIPT [ARGS...]. The scripts hard-code seed=0 for their sampler (Optuna's TPESampler) or
tuner (KerasTuner's Hyperband); this replaces that seed before running the script as __main__.
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


def main() -> None:
    seed, script, *args = sys.argv[1:]
    import optuna

    _reseed(optuna.samplers.TPESampler, int(seed))
    if script.endswith("anchor_kerastuner.py"):
        import keras_tuner

        _reseed(keras_tuner.Hyperband, int(seed))
    sys.argv = [script, *args]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
