"""Writes load.csv: a deterministic hourly series (daily and weekly cycles, a temperature it follows, noise).

Run `python studies/data/make_load.py` to regenerate it; the same seed gives the same file byte for byte.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HOURS = 1500


def main() -> None:
    rng = np.random.default_rng(6)
    t = np.arange(HOURS)
    temperature = 12 + 8 * np.sin(2 * np.pi * (t - 9) / 24) + 3 * np.sin(2 * np.pi * t / (24 * 30)) + \
        rng.normal(0, 0.8, HOURS)
    load = 50 + 15 * np.sin(2 * np.pi * (t - 7) / 24) + 6 * (t % 168 < 120) + 0.9 * (temperature - 12) + \
        rng.normal(0, 1.5, HOURS)
    lines = ["temperature,load"] + [f"{a:.2f},{b:.2f}" for a, b in zip(temperature, load)]
    (Path(__file__).parent / "load.csv").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
