"""The user-model fixed workload, written the way a user would without tuner: a hand-written Optuna study over a grid
of 16 width configurations of their own Functional CNN with a residual block (the same model as
studies/models/cnn.py), 10 epochs each, no pruning, `model.fit` on NumPy arrays, `clear_session` per trial, on the
8x8 digit images of studies/data/digit_images (pixels / 255, the same 75/25 stratified split as tuner's study
studies/fixed_grid_cnn.yaml). Usage: anchor_user_cnn.py [storage_url]. Prints one JSON line."""
import json, sys, time
t0 = time.perf_counter()
from pathlib import Path
import numpy as np
import optuna
import keras
from sklearn.model_selection import train_test_split

GRID = {"conv_1": [8, 16, 32, 64], "dense_head": [16, 32, 64, 128]}
EPOCHS = 10
storage = sys.argv[1] if len(sys.argv) > 1 else None
folder = Path(__file__).resolve().parents[2] / "studies" / "data" / "digit_images"
images = keras.utils.image_dataset_from_directory(folder, labels="inferred", label_mode="int", color_mode="grayscale",
                                                  image_size=(8, 8), shuffle=False, batch_size=None, verbose=False)
X = np.stack([x.numpy() for x, _ in images]).astype("float32") / 255.0
y = np.array([int(label) for _, label in images])
Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


def build(conv_1, dense_head):
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(conv_1, 3, padding="same", activation="relu")(inputs)
    r = keras.layers.Conv2D(conv_1, 3, padding="same")(x)
    r = keras.layers.BatchNormalization()(r)
    x = keras.layers.Activation("relu")(keras.layers.Add()([x, r]))
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.0)(x)
    x = keras.layers.Dense(dense_head, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))


def objective(trial):
    keras.backend.clear_session()
    model = build(trial.suggest_categorical("conv_1", GRID["conv_1"]),
                  trial.suggest_categorical("dense_head", GRID["dense_head"]))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(Xtr, ytr, validation_data=(Xva, yva), epochs=EPOCHS, batch_size=64, verbose=0)
    return max(h.history["val_accuracy"])


optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.create_study(direction="maximize", storage=storage, sampler=optuna.samplers.GridSampler(GRID, seed=0))
t1 = time.perf_counter()
study.optimize(objective)
t2 = time.perf_counter()
print(json.dumps({"tool": "optuna-plain-user-cnn", "startup_s": round(t1 - t0, 2), "search_s": round(t2 - t1, 2),
                  "wall_s": round(t2 - t0, 2), "trials": len(study.trials), "epochs": EPOCHS * len(study.trials),
                  "best": round(study.best_value, 4)}))
