"""Write noisy10.npz: a harder 10-class problem shaped like scikit-learn's digits (64 features, values 0-16).

Generated once with scikit-learn's make_classification (no download), so that the digits reference scripts in
benchmarks/reference/ run on it unchanged. Run from anywhere: python studies/data/make_noisy10.py
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification

x, y = make_classification(n_samples=3000, n_features=64, n_informative=20, n_redundant=10, n_classes=10,
                           n_clusters_per_class=2, class_sep=1.2, flip_y=0.02, random_state=0)
x = np.rint((x - x.min(axis=0)) / (x.max(axis=0) - x.min(axis=0)) * 16).astype(np.uint8)  # like digits' 0-16 pixels
np.savez_compressed(Path(__file__).with_name("noisy10.npz"), x=x, y=y.astype(np.int64))
