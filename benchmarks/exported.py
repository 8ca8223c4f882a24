"""What benchmarks/shipped.py does with tuner's outputs, in a process of its own (it imports TensorFlow).

    exported.py score DIR TEST.npz          the accuracy of DIR/model.keras (from `tuner export`) on the test rows
    exported.py recheck STORAGE NAME K      the top K complete trials re-scored with a second seed: the trial whose
                                            mean of the two validation scores is best

Each prints one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SECOND_SEED = 7919  # added to a trial's seed for its second training


def score(folder: Path, test: Path) -> float:
    """Accuracy of the exported model (raw inputs in, class scores out) on the test rows, in their own labels."""
    import keras
    import numpy as np

    with np.load(test) as arrays:
        x, y = arrays["x"], arrays["y"]
    classes = json.loads((folder / "classes.json").read_text())
    model = keras.models.load_model(folder / "model.keras")
    out = np.asarray(model.predict(x.astype("float32"), batch_size=1024, verbose=0))
    picked = (out[:, 0] > 0).astype(int) if out.shape[-1] == 1 else out.argmax(axis=-1)
    labels = np.asarray(classes)[picked]
    return float((labels.astype(y.dtype) == y).mean())


def recheck(storage: str, name: str, k: int) -> dict:
    """The top `k` complete trials trained again on their own rows with a second seed; the pick is the best mean of
    the two validation scores (the trial's and the second training's)."""
    import copy

    import optuna

    from tuner import record
    from tuner.data import load_data
    from tuner.run.export import retrain
    from tuner.search.metric import resolve_metric
    from tuner.search.models import models_for
    from tuner.store import open_storage, studies

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=name, storage=open_storage(storage))
    definition = studies.definition(study)
    spec = definition.spec
    data = load_data(spec.data, spec.task, definition.base_dir)
    metric = resolve_metric(spec.training, data.task, spec.model is not None)
    models = models_for(spec, data, [definition.base_dir, Path.cwd()])
    sign = 1 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1
    done = [t for t in study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE])]
    top = sorted(done, key=lambda t: sign * t.value, reverse=True)[:k]
    rows = []
    for trial in top:
        twin = copy.deepcopy(trial)
        twin.user_attrs = {**trial.user_attrs, record.SEED: int(trial.user_attrs.get(record.SEED, 0)) + SECOND_SEED}
        second = retrain(models, data, metric, twin, "no").reproduced
        rows.append({"trial": trial.number, "first": trial.value, "second": second,
                     "mean": (trial.value + second) / 2})
    best = max(rows, key=lambda r: sign * r["mean"])
    return {"trial": best["trial"], "rows": rows}


def main() -> None:
    command, *args = sys.argv[1:]
    if command == "score":
        print(json.dumps(score(Path(args[0]), Path(args[1]))))
    elif command == "recheck":
        print(json.dumps(recheck(args[0], args[1], int(args[2]))))
    else:
        raise SystemExit(f"exported.py: unknown command {command!r}; use score or recheck")


if __name__ == "__main__":
    main()
