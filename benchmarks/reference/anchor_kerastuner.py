# Copied unchanged from the shared bench folder (../shared/bench/anchor_kerastuner.py): what a user would write without tuner.
"""Anchor: KerasTuner Hyperband on the same search space and data as anchor_optuna_plain.py.
Prints one JSON line. Usage: anchor_kerastuner.py [max_epochs] [workdir]"""
import json, sys, time, tempfile
t0 = time.perf_counter()
import numpy as np
import keras_tuner as kt
from tensorflow import keras
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

EPOCHS = int(sys.argv[1]) if len(sys.argv) > 1 else 30
workdir = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp()
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype("float32")
Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
epochs_run = []

class Count(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        epochs_run.append(1)

def build(hp):
    n_layers = hp.Int("n_layers", 1, 3)
    l2 = hp.Float("l2", 1e-6, 1e-1, sampling="log")
    model = keras.Sequential([keras.Input((64,))])
    for i in range(n_layers):
        model.add(keras.layers.Dense(hp.Int(f"units_{i}", 8, 512, sampling="log"), activation="relu",
                                     kernel_regularizer=keras.regularizers.l2(l2)))
        model.add(keras.layers.Dropout(hp.Float(f"dropout_{i}", 0.0, 0.5)))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model

tuner = kt.Hyperband(build, objective="val_accuracy", max_epochs=EPOCHS, factor=3, seed=0,
                     directory=workdir, project_name="digits", overwrite=True)
t1 = time.perf_counter()
tuner.search(Xtr, ytr, validation_data=(Xva, yva), batch_size=64, verbose=0, callbacks=[Count()])
t2 = time.perf_counter()
trials = tuner.oracle.trials.values()
best = max(t.score for t in trials if t.score is not None)
print(json.dumps({"tool": "keras-tuner-hyperband", "startup_s": round(t1 - t0, 2), "search_s": round(t2 - t1, 2),
                  "trials": len(trials), "epochs": len(epochs_run), "best": round(best, 4)}))
