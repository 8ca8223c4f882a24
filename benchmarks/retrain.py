"""Retrain search picks and score them on the test rows: one procedure for every tool's pick.

Usage: retrain.py JOBS.json, where JOBS holds {"rest": NPZ, "test": NPZ, "picks": [{"params": {...}, "seed": N},
...]}. Each pick is the reference scripts' model (benchmarks/reference/anchor_optuna_plain.py: n_layers Dense ReLU
layers of units_i with L2 l2 and dropout_i after each, softmax output, Adam 1e-3, batch 64, inputs / 16), trained on
the same 75/25 split of the rest rows for 30 epochs, its weights taken from the best validation epoch, seeded with
the pick's seed. Prints one JSON line: the test accuracies, in the order of the picks (null for a missing pick).
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

EPOCHS = 30


def score(params: dict, seed: int, x_tr, y_tr, x_va, y_va, x_te, y_te) -> float:  # noqa: ANN001
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((64,))])
    for i in range(int(params["n_layers"])):
        model.add(keras.layers.Dense(int(params[f"units_{i}"]), activation="relu",
                                     kernel_regularizer=keras.regularizers.l2(float(params["l2"]))))
        model.add(keras.layers.Dropout(float(params[f"dropout_{i}"])))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    best = keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=EPOCHS,
                                         restore_best_weights=True)
    model.fit(x_tr, y_tr, validation_data=(x_va, y_va), epochs=EPOCHS, batch_size=64, verbose=0, callbacks=[best])
    return float(model.evaluate(x_te, y_te, verbose=0, batch_size=1024)[1])


def main() -> None:
    jobs = json.loads(open(sys.argv[1]).read())
    with np.load(jobs["rest"]) as rest, np.load(jobs["test"]) as test:
        x, y, x_te, y_te = rest["x"] / 16.0, rest["y"], test["x"] / 16.0, test["y"]
    x_tr, x_va, y_tr, y_va = train_test_split(x.astype("float32"), y, test_size=0.25, random_state=0, stratify=y)
    x_te = x_te.astype("float32")
    known: dict[str, float] = {}
    scores = []
    for pick in jobs["picks"]:
        if pick is None or pick.get("params") is None:
            scores.append(None)
            continue
        key = json.dumps([pick["params"], pick["seed"]], sort_keys=True)
        if key not in known:
            known[key] = score(pick["params"], int(pick["seed"]), x_tr, y_tr, x_va, y_va, x_te, y_te)
        scores.append(known[key])
    print(json.dumps(scores))


if __name__ == "__main__":
    main()
