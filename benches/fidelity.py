#!/usr/bin/env python3
"""Fidelity: does this crate train the model Keras trained in 2017?

Trains Keras' mnist_cnn.py with the 2017 settings (Keras 2.0: Adadelta with
lr 1.0, rho 0.95, epsilon 1e-8; categorical cross-entropy on probabilities
clipped to [1e-7, 1 - 1e-7]; glorot-uniform kernels, zero biases; batch 128,
shuffled every epoch) and this crate's `reproduce`, on the same MNIST files,
for EPOCHS epochs and each of SEEDS seeds, and prints each epoch's test
accuracy as mean, standard deviation and range over the seeds, for both.
Seeds do not correspond across the two (each draws its own initial weights,
shuffles and dropout masks): the comparison is between distributions.

The first run creates target/bench-venv with tensorflow-cpu (as compare.py
does); --python names another interpreter with TensorFlow.

    MNIST_DIR=/path/to/mnist python3 benches/fidelity.py [--epochs 3] [--seeds 1,2,3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "target" / "fidelity"


def keras_worker(epochs, seed):
    """Runs inside the Python that has TensorFlow; prints one JSON line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import tensorflow as tf
    from tensorflow import keras
    from keras_mnist_cnn import mnist_arrays, mnist_cnn

    keras.utils.set_random_seed(seed)
    x, y, xt, yt = mnist_arrays()

    def keras2_crossentropy(target, output):
        # Keras 2.0's categorical_crossentropy (TensorFlow backend), 2017.
        eps = 1e-7
        output = output / tf.reduce_sum(output, axis=-1, keepdims=True)
        output = tf.clip_by_value(output, eps, 1.0 - eps)
        return -tf.reduce_sum(target * tf.math.log(output), axis=-1)

    model = mnist_cnn()
    model.compile(
        loss=keras2_crossentropy,
        optimizer=keras.optimizers.Adadelta(learning_rate=1.0, rho=0.95, epsilon=1e-8),
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    history = model.fit(x, y, batch_size=128, epochs=epochs, shuffle=True, verbose=0,
                        validation_data=(xt, yt))
    print(json.dumps({
        "name": f"keras {keras.__version__} / tensorflow {tf.__version__}",
        "accuracy": [float(a) for a in history.history["val_accuracy"]],
        "seconds": round(time.perf_counter() - start, 1),
    }))


def python_with_tensorflow(explicit):
    if explicit:
        return explicit
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from compare import python_with_tensorflow as make
    return make(None)


def run_keras(python, epochs, seed):
    out = subprocess.run([python, __file__, "--keras-worker", str(epochs), str(seed)],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def run_ours(epochs, seed):
    out = OUT / f"ours-seed{seed}-epochs{epochs}"
    start = time.perf_counter()
    subprocess.run(["cargo", "run", "--release", "-q", "--", "reproduce", "--epochs", str(epochs),
                    "--seed", str(seed), "--out", str(out), "--quiet"],
                   cwd=ROOT, check=True, capture_output=True)
    history = json.loads((out / "history.json").read_text())
    return {
        "name": "filters-are-weights",
        "accuracy": [e["test_accuracy"] for e in history["epochs"]],
        "seconds": round(time.perf_counter() - start, 1),
    }


def summary(values):
    pct = [100 * v for v in values]
    mean = statistics.mean(pct)
    sd = statistics.stdev(pct) if len(pct) > 1 else 0.0
    return f"{mean:.2f} ± {sd:.2f} ({min(pct):.2f}–{max(pct):.2f})"


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--keras-worker":
        return keras_worker(int(sys.argv[2]), int(sys.argv[3]))
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated seeds")
    parser.add_argument("--python", help="a Python with tensorflow installed")
    args = parser.parse_args()
    if not os.environ.get("MNIST_DIR"):
        sys.exit("set MNIST_DIR to a directory holding the MNIST IDX files")
    seeds = [int(s) for s in args.seeds.split(",")]
    python = python_with_tensorflow(args.python)
    subprocess.run(["cargo", "build", "--release", "-q"], cwd=ROOT, check=True)
    runs = {"ours": [], "keras": []}
    for seed in seeds:
        for side, run in (("ours", lambda: run_ours(args.epochs, seed)),
                          ("keras", lambda: run_keras(python, args.epochs, seed))):
            res = run()
            runs[side].append(res)
            acc = ", ".join(f"{100 * a:.2f}" for a in res["accuracy"])
            print(f"seed {seed}: {res['name']}: {acc} ({res['seconds']} s)", flush=True)
    names = {side: r[0]["name"] for side, r in runs.items()}
    print()
    print(f"Test accuracy (%) after each epoch, mean ± standard deviation (range) over "
          f"{len(seeds)} seeds:\n")
    print(f"| epoch | {names['ours']} | {names['keras']} (2017 settings) |")
    print("|---|---|---|")
    for e in range(args.epochs):
        cells = [summary([r["accuracy"][e] for r in runs[side]]) for side in ("ours", "keras")]
        print(f"| {e + 1} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
