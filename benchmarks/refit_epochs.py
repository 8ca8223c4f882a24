"""Refit's epoch count: the best trial's own (`best_epoch + 1`) against it scaled to the larger set of rows.

For every stored `tuner` cell of benchmarks/shipped.py (its card holds the trial's hyperparameters, seed and epochs),
the model is trained again on training + validation rows as `tuner export` does, once for the trial's own epoch count
(as the cells' exports did) and once for it times (training + validation rows) / training rows (as exports do now),
and scored on the rows no tool saw. The first gives the cell's own test score back, up to TensorFlow's run-to-run
differences. No search runs: one process, a few seconds a model.

    python benchmarks/refit_epochs.py                    # every stored tuner cell
    python benchmarks/refit_epochs.py --cells 'noisy10/*/60/*'
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality  # noqa: E402
from shipped import CELLS, ROOT, tuner_study  # noqa: E402

RESULT = ROOT / "benchmarks" / "results" / "refit_epochs.json"


def scores(cell: dict, work: Path) -> dict[str, float]:
    """The cell's model refit for its own epoch count and for it scaled, each scored on the unseen rows."""
    import numpy as np

    from tuner.backend import load_keras, start_trial
    from tuner.data import load_data
    from tuner.record import Hyperparams
    from tuner.search.models import models_for
    from tuner.spec import load_spec
    from tuner.training.fit import fit
    from tuner.training.raw_inputs import raw_inputs

    rest, test = quality.shared_split(cell["data"], work)
    path = tuner_study(cell["data"], rest, work)
    spec = load_spec(path)
    data = load_data(spec.data, spec.task, path.parent)
    models = models_for(spec, data, [path.parent])
    card = cell["params"]
    hp = Hyperparams.from_dict(card["hyperparams"])
    rows = data.for_refit("yes")
    factor = len(rows.x_train) / len(data.x_train)
    with np.load(test) as arrays:
        x, y = arrays["x"].astype("float32"), arrays["y"]
    out = {"factor": factor}
    load_keras()
    for key, epochs in (("own", card["epochs"]), ("scaled", max(1, round(card["epochs"] * factor)))):
        start_trial(card["seed"])
        model = models.build(hp)
        fit(model, rows, hp, epochs, [], seed=card["seed"])
        predicted = np.asarray(raw_inputs(model, data).predict(x, batch_size=1024, verbose=0)).argmax(axis=-1)
        out[key] = float((np.asarray(data.classes)[predicted].astype(y.dtype) == y).mean())
        out[f"{key}_epochs"] = epochs
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", nargs="+", default=["*"], help="DATA/tool/BUDGET/SEED globs (tool is tuner)")
    args = parser.parse_args()
    cells = [json.loads(p.read_text()) for p in sorted(CELLS.glob("*-tuner-*.json"))]
    cells = [c for c in cells if c["tool"] == "tuner" and c["params"].get("hyperparams")
             and any(fnmatch.fnmatch(f"{c['data']}/tuner/{c['budget']}/{c['seed']}", p) for p in args.cells)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="tuner-refit-epochs-") as tmp:
        for cell in cells:
            got = scores(cell, Path(tmp))
            rows.append({"data": cell["data"], "budget": cell["budget"], "seed": cell["seed"],
                         "cell": cell["test"], **got})
            print(f"{cell['data']} {cell['budget']} s seed {cell['seed']}: cell {cell['test']:.4f}, own epochs "
                  f"({got['own_epochs']}) {got['own']:.4f}, scaled x{got['factor']:.2f} ({got['scaled_epochs']}) "
                  f"{got['scaled']:.4f}", flush=True)
    RESULT.write_text(json.dumps(rows, indent=1) + "\n")
    for data in sorted({r["data"] for r in rows}):
        mine = [r for r in rows if r["data"] == data]
        own, scaled = [r["own"] for r in mine], [r["scaled"] for r in mine]
        print(f"{data}: own epochs {statistics.fmean(own):.4f} (worst {min(own):.4f}), scaled "
              f"{statistics.fmean(scaled):.4f} (worst {min(scaled):.4f}) over {len(mine)} cells")


if __name__ == "__main__":
    main()
