#!/usr/bin/env python3
"""One training epoch in a notebook against one in the command-line program.

Runs, ROUNDS times and alternating, a full 60,000-image epoch (seed 42,
batch 128) through `filters-are-weights reproduce --epochs 1` (cargo's
release build) and through the same library calls in a notebook cell under
the evcxr kernel (its build configured by notebooks/evcxr.toml and
notebooks/.cargo/config.toml), and prints each epoch's training seconds and
the ratio of the medians. The notebook's first cell also compiles the crate
if evcxr's build directory is cold.

    MNIST_DIR=/path/to/mnist python3 benches/notebook_epoch.py [--rounds 2]

Needs what the notebooks need (see book/src/teaching/notebooks.md): evcxr_jupyter, jupyter_client
and nbformat.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "notebooks"))

CELLS = [
    ':dep filters-are-weights = { path = "..", default-features = false }',
    "use filters_are_weights::prelude::*;",
    """let seconds: f32 = {
    let data = Mnist::load()?;
    let config = TrainConfig {
        epochs: 1,
        snapshot_epochs: vec![],
        progress: Progress::Silent,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(MnistCnn::new(42, &Device::Cpu)?, config)?;
    trainer.run(&data)?;
    trainer.history.epochs[0].train_seconds
};
println!("EPOCH_SECONDS {seconds}");""",
]


def notebook_epoch():
    import nbformat
    from run import execute, problems_of

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    start = time.monotonic()
    times = execute(nb)
    problems = problems_of(nb)
    if problems:
        sys.exit("the benchmark notebook failed:\n" + "\n".join(problems))
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    seconds = float(re.search(r"EPOCH_SECONDS ([0-9.]+)", text).group(1))
    return seconds, times[0], time.monotonic() - start


def cli_epoch():
    out = ROOT / "target" / "notebook-epoch" / "cli"
    subprocess.run(["cargo", "run", "--release", "-q", "--", "reproduce", "--epochs", "1",
                    "--snapshot-steps", "", "--quiet", "--out", str(out)],
                   cwd=ROOT, check=True, capture_output=True)
    history = json.loads((out / "history.json").read_text())
    return history["epochs"][0]["train_seconds"]


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not os.environ.get("MNIST_DIR"):
        sys.exit("set MNIST_DIR to a directory holding the MNIST IDX files")
    os.environ.pop("FAW_QUICK", None)
    subprocess.run(["cargo", "build", "--release", "-q"], cwd=ROOT, check=True)
    cli, nb = [], []
    for r in range(args.rounds):
        cli.append(cli_epoch())
        print(f"round {r + 1}: command line: epoch {cli[-1]:.1f} s", flush=True)
        seconds, first_cell, total = notebook_epoch()
        nb.append(seconds)
        print(f"round {r + 1}: notebook: epoch {seconds:.1f} s "
              f"(first cell {first_cell:.1f} s, {total:.1f} s in all)", flush=True)
    c, n = statistics.median(cli), statistics.median(nb)
    print(f"\nmedian epoch: command line {c:.1f} s, notebook {n:.1f} s: "
          f"the notebook takes {n / c:.2f}x the command line's time")


if __name__ == "__main__":
    main()
