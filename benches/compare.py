#!/usr/bin/env python3
"""Training throughput: this crate against Keras/TensorFlow, interleaved.

Runs benches/train_throughput.rs (release build) and benches/keras_mnist_cnn.py
one after the other, ROUNDS times, on the same MNIST files, and prints each
side's median images per second, their ratio and each one's peak memory. The
first run creates a virtual environment in target/bench-venv with
tensorflow-cpu (about 270 MB); --python uses another interpreter instead.

    MNIST_DIR=/path/to/mnist python3 benches/compare.py [--rounds 3] [--steps 60]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "target" / "bench-venv"
# Forward pass of mnist_cnn per image, multiply-adds counted as 2 FLOPs:
# conv1 26·26·32·9, conv2 24·24·64·288, dense 9216·128 + 128·10.
FORWARD_FLOP = 2 * (26 * 26 * 32 * 9 + 24 * 24 * 64 * 288 + 9216 * 128 + 128 * 10)
# Training: forward, weight gradients and input gradients (none for conv1's input).
TRAIN_FLOP = 3 * FORWARD_FLOP - 2 * 26 * 26 * 32 * 9


def python_with_tensorflow(explicit):
    if explicit:
        return explicit
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {VENV} with tensorflow-cpu (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "tensorflow-cpu==2.21.0"], check=True)
    return str(python)


def run_json(cmd):
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--python", help="a Python with tensorflow installed")
    args = parser.parse_args()
    if not os.environ.get("MNIST_DIR"):
        sys.exit("set MNIST_DIR to a directory holding the MNIST IDX files")
    python = python_with_tensorflow(args.python)
    subprocess.run(["cargo", "bench", "--bench", "train_throughput", "--no-run", "-q"], cwd=ROOT, check=True)
    steps = [str(args.steps), str(args.warmup)]
    ours_cmd = ["cargo", "bench", "-q", "--bench", "train_throughput", "--"] + steps
    keras_cmd = [python, "benches/keras_mnist_cnn.py"] + steps
    results = {"ours": [], "keras": []}
    for r in range(args.rounds):
        for side, cmd in (("ours", ours_cmd), ("keras", keras_cmd)):
            res = run_json(cmd)
            results[side].append(res)
            print(f"round {r + 1}: {res['name']}: {res['images_per_s']:.0f} images/s, "
                  f"peak {res['peak_rss_mib']} MiB", flush=True)
    med = {s: statistics.median(x["images_per_s"] for x in v) for s, v in results.items()}
    mem = {s: max(x["peak_rss_mib"] for x in v) for s, v in results.items()}
    names = {s: v[0]["name"] for s, v in results.items()}
    print()
    # "GFLOP/s" counts the dense arithmetic of training (TRAIN_FLOP per image);
    # a trainer that skips some of it (Winograd, sparse gradients) can exceed
    # the machine's matrix-product rate on this scale.
    print(f"| trainer | images/s (median of {args.rounds}) | dense-equivalent GFLOP/s | s per 60,000-image epoch | peak memory (MiB) |")
    print("|---|---|---|---|---|")
    for s in ("ours", "keras"):
        print(f"| {names[s]} | {med[s]:.0f} | {med[s] * TRAIN_FLOP / 1e9:.0f} | {60000 / med[s]:.0f} | {mem[s]:.0f} |")
    print(f"\nratio ours / keras: {med['ours'] / med['keras']:.2f}x images per second, "
          f"{mem['ours'] / mem['keras']:.2f}x peak memory")
    print(f"({TRAIN_FLOP / 1e6:.1f} MFLOP per training image)")


if __name__ == "__main__":
    main()
