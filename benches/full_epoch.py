#!/usr/bin/env python3
"""Whole epochs: this crate's trainer against Keras' `fit`, interleaved.

Where compare.py times 60 batches on a small slice of MNIST, this trains
whole 60,000-image epochs, as a user does: Keras' mnist_cnn.py (batch 128,
Adadelta lr 1.0, shuffled every epoch, the 10,000 test images scored after
each epoch) with `model.fit`, and this crate's `reproduce --epochs E`. Each
side's epoch time is its training alone (Keras: from the epoch's start to
its last batch, measured by a callback; this crate: `train_seconds` of its
history.json, the same span); the wall time of each run and its peak
resident memory are printed beside it. ROUNDS runs each, alternating.

The first run creates target/bench-venv with tensorflow-cpu (as compare.py
does); --python names another interpreter with TensorFlow.

    MNIST_DIR=/path/to/mnist python3 benches/full_epoch.py [--epochs 2] [--rounds 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "target" / "full-epoch"
TRAIN_IMAGES = 60000


def keras_worker(epochs):
    """Runs inside the Python that has TensorFlow; prints one JSON line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from tensorflow import keras
    import tensorflow as tf
    from keras_mnist_cnn import mnist_arrays, mnist_cnn

    x, y, xt, yt = mnist_arrays()
    model = mnist_cnn()
    model.compile(
        loss="categorical_crossentropy",
        optimizer=keras.optimizers.Adadelta(learning_rate=1.0, rho=0.95, epsilon=1e-8),
        metrics=["accuracy"],
    )

    class Clock(keras.callbacks.Callback):
        """Training time of each epoch: its start to its last batch's end."""

        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.last = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(self.last - self.start)

    clock = Clock()
    history = model.fit(x, y, batch_size=128, epochs=epochs, shuffle=True, verbose=0,
                        validation_data=(xt, yt), callbacks=[clock])
    print(json.dumps({
        "name": f"Keras {keras.__version__} / TensorFlow {tf.__version__}",
        "epoch_seconds": [round(s, 2) for s in clock.seconds],
        "accuracy": [float(a) for a in history.history["val_accuracy"]],
    }))


def python_with_tensorflow(explicit):
    if explicit:
        return explicit
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from compare import python_with_tensorflow as make
    return make(None)


def run_child(cmd):
    """Runs `cmd`; returns its standard output, wall seconds and peak resident
    memory in MiB (from wait4, which reports this child's own peak)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed:\n{err.read()}")
        return out.read(), wall, round(usage.ru_maxrss / 1024)


def run_keras(python, epochs):
    out, wall, peak = run_child([python, __file__, "--keras-worker", str(epochs)])
    res = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    res.update(wall_seconds=round(wall, 1), peak_rss_mib=peak)
    return res


def run_ours(epochs, round_no):
    out_dir = OUT / f"ours-{round_no}"
    binary = ROOT / "target" / "release" / "filters-are-weights"
    _, wall, peak = run_child([str(binary), "reproduce", "--epochs", str(epochs),
                               "--out", str(out_dir), "--quiet"])
    history = json.loads((out_dir / "history.json").read_text())
    return {
        "name": "filters-are-weights",
        "epoch_seconds": [e["train_seconds"] for e in history["epochs"]],
        "accuracy": [e["test_accuracy"] for e in history["epochs"]],
        "wall_seconds": round(wall, 1),
        "peak_rss_mib": peak,
    }


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--keras-worker":
        return keras_worker(int(sys.argv[2]))
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--python", help="a Python with tensorflow installed")
    args = parser.parse_args()
    if not os.environ.get("MNIST_DIR"):
        sys.exit("set MNIST_DIR to a directory holding the MNIST IDX files")
    python = python_with_tensorflow(args.python)
    subprocess.run(["cargo", "build", "--release", "-q"], cwd=ROOT, check=True)
    runs = {"ours": [], "keras": []}
    for r in range(args.rounds):
        for side, run in (("ours", lambda: run_ours(args.epochs, r + 1)),
                          ("keras", lambda: run_keras(python, args.epochs))):
            res = run()
            runs[side].append(res)
            secs = ", ".join(f"{s:.1f}" for s in res["epoch_seconds"])
            print(f"round {r + 1}: {res['name']}: epochs {secs} s; run {res['wall_seconds']} s "
                  f"wall, peak {res['peak_rss_mib']} MiB", flush=True)
    print()
    print(f"| trainer | s per epoch (median of {args.rounds} x {args.epochs}) | images/s "
          f"| wall s per {args.epochs}-epoch run (median) | peak memory (MiB) |")
    print("|---|---|---|---|---|")
    epoch = {}
    for side in ("ours", "keras"):
        rs = runs[side]
        epoch[side] = statistics.median(s for r in rs for s in r["epoch_seconds"])
        wall = statistics.median(r["wall_seconds"] for r in rs)
        peak = max(r["peak_rss_mib"] for r in rs)
        print(f"| {rs[0]['name']} | {epoch[side]:.1f} | {TRAIN_IMAGES / epoch[side]:.0f} "
              f"| {wall:.0f} | {peak} |")
    print(f"\nratio ours / keras: {epoch['keras'] / epoch['ours']:.2f}x images per second "
          f"over whole epochs")


if __name__ == "__main__":
    main()
