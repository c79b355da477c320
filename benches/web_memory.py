#!/usr/bin/env python3
"""The page's memory with a whole data set: the training worker's
WebAssembly memory once the data is decoded and at the end of each epoch of
training on all of it, in each browser engine, with the page's JavaScript
heap where the engine tells it (Chromium).

Serves the built page (web/build.sh first) with web/serve.py and a data
set's four IDX files (MNIST_DIR's, or --data DIR; --dataset fashion-mnist
for Fashion-MNIST), opens it in each engine (web/tests/engines.mjs --soak)
and plays EPOCHS epochs of all 60,000 images, on 2 threads. A module's
memory never shrinks: the last figure is the peak. With --other ROOT, the
same for the page built in another checkout (its web/dist), alternating,
to compare two versions in one run.

    MNIST_DIR=/path/to/mnist python3 benches/web_memory.py [--epochs 2]
        [--engines chromium,firefox,webkit] [--dataset fashion-mnist --data DIR]
        [--other ../before]
"""
import argparse
import json
import os
import sys
from pathlib import Path

from page_driver import ROOT, engine_run, serve

MIB = 1 << 20


def soak(engine, page, epochs, dataset):
    query = "threads=2" + (f"&dataset={dataset}" if dataset != "mnist" else "")
    # A failure is reported and the other runs go on.
    return engine_run(engine, page, "--soak", epochs, "--query", query, check=False)


def mib(v):
    return "-" if v is None else f"{v / MIB:.0f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--engines", default="chromium,firefox,webkit")
    parser.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist"])
    parser.add_argument("--data", help="the data set's four IDX files (default: $MNIST_DIR)")
    parser.add_argument("--other", type=Path, help="another checkout, its page built, to compare")
    a = parser.parse_args()
    data = a.data or os.environ.get("MNIST_DIR")
    if not data:
        sys.exit("name the data set's IDX files: --data DIR, or MNIST_DIR")
    roots = [("this", ROOT)] + ([("other", a.other.resolve())] if a.other else [])
    for _, root in roots:
        if not (root / "web" / "dist").is_dir():
            sys.exit(f"{root}/web/dist is missing: run {root}/web/build.sh first")
    rows = []
    for engine in a.engines.split(","):
        for name, root in roots:
            proc, page = serve(data, a.dataset, root)
            try:
                r = soak(engine, page, a.epochs, a.dataset)
            finally:
                proc.terminate()
                proc.wait()
            if r is None:
                r = {"engine": engine, "failed": True}
            r.update(version=name, root=str(root))
            print(json.dumps(r), flush=True)
            rows.append(r)
    print(f"\n{a.dataset}, {a.epochs} epochs of 60,000 images, 2 threads asked for: MiB")
    print(f"{'engine':10} {'version':8} {'threads':>7} {'loaded':>7} "
          + " ".join(f"{'epoch ' + str(e + 1):>8}" for e in range(a.epochs)) + f" {'JS heap':>8}")
    for r in rows:
        if r.get("failed"):
            print(f"{r['engine']:10} {r['version']:8} failed (above)")
            continue
        epochs = " ".join(f"{mib(s['workerMemory']):>8}" for s in r["soak"])
        print(f"{r['engine']:10} {r['version']:8} {r['loaded']['threads']:>7} "
              f"{mib(r['loaded']['workerMemory']):>7} {epochs} {mib(r['soak'][-1]['jsHeap']):>8}")


if __name__ == "__main__":
    main()
