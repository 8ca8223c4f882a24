# Copied unchanged from the shared bench folder (../shared/bench/floor_epoch.py): what a user would write without tuner.
"""The floor: one epoch of a 64-256-10 MLP on digits as a single fused XLA tf.function (no Keras fit loop,
no callbacks, no validation). Compare a tuner's per-epoch time with this. Prints one JSON line."""
import json, time
import tensorflow as tf
from tensorflow import keras
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype("float32")
Xtr, _, ytr, _ = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
n = (len(Xtr) // 64) * 64
model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(256, activation="relu"), keras.layers.Dense(10)])
opt = keras.optimizers.Adam(1e-3)
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
xt, yt = tf.constant(Xtr[:n]), tf.constant(ytr[:n])

@tf.function(jit_compile=True)
def epoch():
    loss = tf.constant(0.0)
    for i in tf.range(0, n, 64):
        with tf.GradientTape() as tape:
            loss = loss_fn(yt[i:i + 64], model(xt[i:i + 64], training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
    return loss

epoch()
t = time.perf_counter()
for _ in range(20):
    epoch()
print(json.dumps({"tool": "fused-floor", "units": 256, "ms_per_epoch": round((time.perf_counter() - t) / 20 * 1000, 1)}))
