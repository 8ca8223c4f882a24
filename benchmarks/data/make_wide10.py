"""Write wide10.npz (not kept in git: ~7 MB): a 10-class problem of realistic size for the one-shot time-to-quality
benchmark, 30,000 rows x 256 features valued 0-16, each class a mixture of three clusters in 64 informative
dimensions (64 more are mixtures of those), made by scikit-learn's make_classification with a fixed seed (no
download). benchmarks/bench_oneshot_time.py writes it when it is missing: python benchmarks/data/make_wide10.py
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification

OUT = Path(__file__).with_name("wide10.npz")


def write() -> Path:
    x, y = make_classification(n_samples=30_000, n_features=256, n_informative=64, n_redundant=64, n_classes=10,
                               n_clusters_per_class=3, class_sep=1.5, flip_y=0.01, random_state=11)
    x = np.rint((x - x.min(axis=0)) / (x.max(axis=0) - x.min(axis=0)) * 16).astype(np.uint8)
    np.savez_compressed(OUT, x=x, y=y.astype(np.int64))
    return OUT


if __name__ == "__main__":
    print(write())
