# Copied unchanged from the shared bench folder (../shared/bench/anchor_fixed_grid.py): what a user would write without tuner.
"""Fixed workload: the same 32 configurations x 10 epochs, no pruning, run the way a hand-written Optuna script does
(GridSampler, model.fit on NumPy arrays). The work is identical whatever the order, so wall time compares engines,
not luck. Usage: anchor_fixed_grid.py [storage_url]. Prints one JSON line."""
import json, sys, time
t0 = time.perf_counter()
import optuna
from tensorflow import keras
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

GRID = {"n_layers": [1, 2], "units": [16, 64, 256, 512], "dropout": [0.0, 0.3], "l2": [1e-5, 1e-3]}
EPOCHS = 10
storage = sys.argv[1] if len(sys.argv) > 1 else None
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype("float32")
Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)

def objective(trial):
    keras.backend.clear_session()
    n_layers = trial.suggest_categorical("n_layers", GRID["n_layers"])
    units = trial.suggest_categorical("units", GRID["units"])
    dropout = trial.suggest_categorical("dropout", GRID["dropout"])
    l2 = trial.suggest_categorical("l2", GRID["l2"])
    model = keras.Sequential([keras.Input((64,))])
    for _ in range(n_layers):
        model.add(keras.layers.Dense(units, activation="relu", kernel_regularizer=keras.regularizers.l2(l2)))
        model.add(keras.layers.Dropout(dropout))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(Xtr, ytr, validation_data=(Xva, yva), epochs=EPOCHS, batch_size=64, verbose=0)
    return max(h.history["val_accuracy"])

optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.create_study(direction="maximize", storage=storage, sampler=optuna.samplers.GridSampler(GRID, seed=0))
t1 = time.perf_counter()
study.optimize(objective)
t2 = time.perf_counter()
print(json.dumps({"tool": "optuna-plain-grid", "startup_s": round(t1 - t0, 2), "search_s": round(t2 - t1, 2),
                  "wall_s": round(t2 - t0, 2), "trials": len(study.trials), "epochs": EPOCHS * len(study.trials),
                  "best": round(study.best_value, 4)}))
