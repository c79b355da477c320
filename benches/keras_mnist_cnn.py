"""Training throughput of Keras' mnist_cnn.py (2017) on TensorFlow, the
reference for benches/train_throughput.rs: the same model, batch 128,
Adadelta(lr=1.0, rho=0.95, epsilon=1e-8), categorical cross-entropy, on the
same MNIST IDX files. Images per second over STEPS steps after WARMUP steps,
and peak resident memory. Prints one JSON line.

    MNIST_DIR=... python benches/keras_mnist_cnn.py [STEPS] [WARMUP]
"""
import gzip
import json
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow import keras  # noqa: E402


def read_idx(path):
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(directory, base):
    for name in (base + ".gz", base):
        p = Path(directory) / name
        if p.exists():
            return p
    raise SystemExit(f"{directory} has no {base}(.gz)")


def mnist_arrays():
    """The training and test sets of MNIST_DIR (else data/mnist) as Keras
    takes them: images float32 in 0..1, [n, 28, 28, 1]; labels one-hot."""
    directory = os.environ.get("MNIST_DIR") or "data/mnist"
    x, y, xt, yt = (read_idx(find(directory, base)) for base in (
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"))
    prep = lambda a: (a.astype("float32") / 255.0).reshape(-1, 28, 28, 1)  # noqa: E731
    onehot = lambda a: keras.utils.to_categorical(a, 10)  # noqa: E731
    return prep(x), onehot(y), prep(xt), onehot(yt)


def mnist_cnn():
    """Keras' examples/mnist_cnn.py (2017), layer for layer."""
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(32, (3, 3), activation="relu"),
        keras.layers.Conv2D(64, (3, 3), activation="relu"),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Dropout(0.25),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(10, activation="softmax"),
    ])


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    warmup = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    batch = 128
    directory = os.environ.get("MNIST_DIR") or "data/mnist"
    n = (steps + warmup) * batch
    x = read_idx(find(directory, "train-images-idx3-ubyte"))[:n]
    y = read_idx(find(directory, "train-labels-idx1-ubyte"))[:n]
    x = (x.astype("float32") / 255.0).reshape(-1, 28, 28, 1)
    y = keras.utils.to_categorical(y, 10)

    model = mnist_cnn()
    assert model.count_params() == 1_199_882
    model.compile(
        loss="categorical_crossentropy",
        optimizer=keras.optimizers.Adadelta(learning_rate=1.0, rho=0.95, epsilon=1e-8),
    )

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch_index, logs=None):
            if batch_index + 1 == warmup:
                self.start = time.perf_counter()
            if batch_index + 1 == warmup + steps:
                self.seconds = time.perf_counter() - self.start

    clock = Clock()
    model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0, callbacks=[clock])
    print(json.dumps({
        "name": f"keras {keras.__version__} / tensorflow {tf.__version__}",
        "images_per_s": round(steps * batch / clock.seconds, 1),
        "steps": steps,
        "seconds": round(clock.seconds, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))


if __name__ == "__main__":
    main()
