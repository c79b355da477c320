#!/usr/bin/env python3
"""How long the page takes for the steps of the guide's lesson plans
(book/src/teaching/lesson-plans.md), in each browser engine: with 6,000
images an epoch, the time from pressing "train" to the end of epochs 1, 7
and 15 (the post's figure) and the test accuracy then; with all 60,000, the
time of one epoch.

Serves the built page (web/build.sh first) with web/serve.py and a data
set's four IDX files (MNIST_DIR's, or --data DIR; --dataset fashion-mnist),
and plays it through web/tests/engines.mjs --soak, 2 threads asked for.

    MNIST_DIR=/path/to/mnist python3 benches/lesson_times.py
        [--engines chromium,firefox,webkit] [--dataset fashion-mnist --data DIR] [--full]
"""
import argparse
import os
import sys

from page_driver import engine_run, serve


def play(engine, page, dataset, epochs, images):
    query = "threads=2" + (f"&dataset={dataset}" if dataset != "mnist" else "")
    return engine_run(engine, page, "--soak", epochs, "--images-per-epoch", images, "--query", query)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="chromium,firefox,webkit")
    parser.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist"])
    parser.add_argument("--data", help="the data set's four IDX files (default: $MNIST_DIR)")
    parser.add_argument("--full", action="store_true", help="also one epoch of all 60,000 images")
    a = parser.parse_args()
    data = a.data or os.environ.get("MNIST_DIR")
    if not data:
        sys.exit("name the data set's IDX files: --data DIR, or MNIST_DIR")
    proc, page = serve(data, a.dataset)
    try:
        for engine in a.engines.split(","):
            r = play(engine, page, a.dataset, 15, 6000)
            start = r["loaded"]["at"]
            marks = {e: r["soak"][e - 1] for e in (1, 7, 15)}
            line = ", ".join(f"epoch {e} at {(s['at'] - start) / 1000:.0f} s ({100 * s['accuracy']:.1f}%)"
                             for e, s in marks.items())
            print(f"{engine} ({r['loaded']['threads']} threads), {a.dataset}, 6,000 images an epoch: {line}",
                  flush=True)
            if a.full:
                r = play(engine, page, a.dataset, 1, 60000)
                s = r["soak"][0]
                print(f"{engine}, {a.dataset}, one epoch of 60,000 images: "
                      f"{(s['at'] - r['loaded']['at']) / 1000:.0f} s ({100 * s['accuracy']:.1f}%)", flush=True)
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
