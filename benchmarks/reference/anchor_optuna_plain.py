# Copied unchanged from the shared bench folder (../shared/bench/anchor_optuna_plain.py): what a user would write without tuner.
"""Anchor: what a user writes by hand with Optuna + Keras (optuna-examples style).
Same search space as the project's default digits study. Prints one JSON line."""
import json, sys, time, os
t0 = time.perf_counter()
import numpy as np
import optuna
from optuna_integration import TFKerasPruningCallback
import tensorflow as tf
from tensorflow import keras
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

budget_s = float(sys.argv[1]) if len(sys.argv) > 1 else 120
storage = sys.argv[2] if len(sys.argv) > 2 else None
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype("float32")
Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
EPOCHS = 30
epochs_run = []

def objective(trial):
    keras.backend.clear_session()
    n_layers = trial.suggest_int("n_layers", 1, 3)
    l2 = trial.suggest_float("l2", 1e-6, 1e-1, log=True)
    model = keras.Sequential([keras.Input((64,))])
    for i in range(n_layers):
        model.add(keras.layers.Dense(trial.suggest_int(f"units_{i}", 8, 512, log=True), activation="relu",
                                     kernel_regularizer=keras.regularizers.l2(l2)))
        model.add(keras.layers.Dropout(trial.suggest_float(f"dropout_{i}", 0.0, 0.5)))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(Xtr, ytr, validation_data=(Xva, yva), epochs=EPOCHS, batch_size=64, verbose=0,
                  callbacks=[TFKerasPruningCallback(trial, "val_accuracy")])
    epochs_run.append(len(h.history["val_accuracy"]))
    return max(h.history["val_accuracy"])

optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.create_study(direction="maximize", storage=storage, sampler=optuna.samplers.TPESampler(seed=0),
                            pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=EPOCHS))
t1 = time.perf_counter()
study.optimize(objective, timeout=budget_s)
t2 = time.perf_counter()
states = [t.state.name for t in study.trials]
print(json.dumps({"tool": "optuna-plain", "startup_s": round(t1 - t0, 2), "search_s": round(t2 - t1, 2),
                  "trials": len(states), "complete": states.count("COMPLETE"), "pruned": states.count("PRUNED"),
                  "epochs": int(sum(epochs_run)), "best": round(study.best_value, 4)}))
