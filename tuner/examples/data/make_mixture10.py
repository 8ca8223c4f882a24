"""Write mixture10.npz: a third 10-class problem shaped like scikit-learn's digits (64 features, values 0-16) for
the search-quality benchmark: 4,000 rows, each class a mixture of three clusters in 32 informative dimensions
(16 more are mixtures of those), so that the width and depth of the network matter.

Generated once with scikit-learn's make_classification (no download), so that the digits reference scripts in
benchmarks/reference/ run on it unchanged. Run from anywhere: python studies/data/make_mixture10.py
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification

x, y = make_classification(n_samples=4000, n_features=64, n_informative=32, n_redundant=16, n_classes=10,
                           n_clusters_per_class=3, class_sep=1.5, flip_y=0.01, random_state=7)
x = np.rint((x - x.min(axis=0)) / (x.max(axis=0) - x.min(axis=0)) * 16).astype(np.uint8)  # like digits' 0-16 pixels
np.savez_compressed(Path(__file__).with_name("mixture10.npz"), x=x, y=y.astype(np.int64))
