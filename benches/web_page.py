#!/usr/bin/env python3
"""The page against itself and the native trainer, in each browser engine:
training speed on 2 threads and on 1, time to the first trained filters,
and what a visitor downloads.

Builds the page (web/build.sh), serves it with web/serve.py (cross-origin
isolated, so it has threads) with MNIST_DIR's IDX files, and runs, ROUNDS
times and alternating:

- the page in each engine (headless Chromium, headless Firefox ESR, WebKit's
  MiniBrowser under xvfb-run) on 2 threads, then on 1 (?threads=N;
  web/tests/engines.mjs --bench): seconds from opening it, with MNIST
  already in the browser's cache, to the first redraw of trained filters;
  then images per second while it trains, over wall time (scoring test
  digits and redrawing included) and over the worker's training time alone;
- the native trainer on 2 threads (benches/train_throughput.rs), batch 128
  too.

Prints the medians with their ranges and ratios, and what a visitor
downloads, counted apart: the page (its files as web/stamp.py lists them,
which the service worker keeps for offline use after the first visit: all
of them but one of the two WebAssembly builds, with threads where the page
is isolated), and the guide beside it (fetched only when its chapters are
opened, never kept). Both as served (web/serve.py does not compress) and
gzipped (as GitHub Pages serves them); the data sets not included. Needs
what the page tests need (Node.js, the three engines, `npm ci --prefix
web`); `--sizes` prints only the sizes of the page built in web/dist.

    MNIST_DIR=/path/to/mnist python3 benches/web_page.py [--rounds 3] [--seconds 20]
        [--engines chromium,firefox,webkit]
    python3 benches/web_page.py --sizes
"""
import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from page_driver import engine_run, serve

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
sys.path.insert(0, str(WEB))
from stamp import BUILDS, page_files  # noqa: E402  (web/stamp.py: the page's files)


def page_round(engine, page, seconds, threads):
    return engine_run(engine, page, "--bench", seconds, "--query", f"threads={threads}")


def native_round():
    env = dict(os.environ, RAYON_NUM_THREADS="2")
    out = subprocess.run(["cargo", "bench", "-q", "--bench", "train_throughput", "--", "40", "5"],
                         cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def summary(values):
    return f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=20, help="training time measured in the page")
    parser.add_argument("--engines", default="chromium,firefox,webkit")
    parser.add_argument("--sizes", action="store_true", help="only the sizes of the page built in web/dist")
    args = parser.parse_args()
    if args.sizes:
        if not (WEB / "dist" / "coi.js").is_file():
            sys.exit("web/dist holds no built page: build it with web/build.sh")
        print_sizes(WEB / "dist")
        return
    engines = args.engines.split(",")
    data = os.environ.get("MNIST_DIR")
    if not data:
        sys.exit("set MNIST_DIR to a directory holding the MNIST IDX files")
    subprocess.run([str(WEB / "build.sh")], check=True)
    subprocess.run(["cargo", "bench", "--bench", "train_throughput", "--no-run", "-q"], cwd=ROOT, check=True)
    server, page = serve(data)
    # Per engine, per threads asked for: wall and training-time images/s,
    # threads had, seconds to the first trained filters.
    seen = {(e, t): {"wall": [], "training": [], "threads": [], "first": []} for e in engines for t in (2, 1)}
    native = []
    try:
        for r in range(args.rounds):
            for engine in engines:
                for threads in (2, 1):
                    res = page_round(engine, page, args.seconds, threads)
                    s = seen[(engine, threads)]
                    s["wall"].append(res["imagesPerSecond"])
                    s["training"].append(res["trainingImagesPerSecond"])
                    s["threads"].append(res["threads"])
                    s["first"].append(res["secondsToFirstTrainedFilters"])
                    print(f"round {r + 1}: {engine} on {res['threads']} thread(s): {s['wall'][-1]:.0f} "
                          f"images/s of wall time, {s['training'][-1]:.0f} of training time; first "
                          f"trained filters after {s['first'][-1]:.1f} s", flush=True)
            native.append(native_round()["images_per_s"])
            print(f"round {r + 1}: native, 2 threads: {native[-1]:.0f} images/s", flush=True)
    finally:
        server.terminate()
    med = statistics.median
    print(f"\nmedians (range) over {args.rounds} rounds:")
    print(f"  native, 2 threads: {summary(native)} images/s")
    for engine in engines:
        two, one = seen[(engine, 2)], seen[(engine, 1)]
        ratio = [a / b for a, b in zip(two["training"], one["training"])]
        print(f"  {engine}, {max(two['threads'])} thread(s) (2 asked): {summary(two['wall'])} images/s of "
              f"wall time, {summary(two['training'])} of training time; {med(two['wall']) / med(native):.2f}x "
              f"native (wall)")
        print(f"  {engine}, 1 thread: {summary(one['wall'])} images/s of wall time, {summary(one['training'])} "
              f"of training time")
        print(f"  {engine}, 2 threads asked / 1 (training time, per round): {med(ratio):.2f}x "
              f"({min(ratio):.2f}-{max(ratio):.2f}); first trained filters after {med(two['first']):.1f} s "
              f"({min(two['first']):.1f}-{max(two['first']):.1f})")
    print_sizes(WEB / "dist")


def print_sizes(dist):
    """What a visitor downloads of the page built in `dist`, and of its guide, apart."""
    def sizes(files):
        raw = sum((dist / f).stat().st_size for f in files)
        return raw, sum(len(gzip.compress((dist / f).read_bytes(), 9)) for f in files)

    page = page_files(dist)
    for build in BUILDS:
        other = [b for b in BUILDS if b != build]
        files = [f for f in page if not any(f.startswith(o) for o in other)]
        raw, gz = sizes(files)
        print(f"  the page with {build} (a first visit; what the service worker keeps): {len(files)} files, "
              f"{raw / 1e6:.2f} MB as served, {gz / 1e6:.2f} MB gzipped")
        for f in files:
            print(f"    {f}: {sizes([f])[1] / 1e3:.0f} kB gzipped")
    guide = sorted(str(p.relative_to(dist)) for p in (dist / "guide").rglob("*") if p.is_file())
    if guide:
        raw, gz = sizes(guide)
        print(f"  the guide (fetched only when opened, not kept): {len(guide)} files, {raw / 1e6:.2f} MB as "
              f"served, {gz / 1e6:.2f} MB gzipped")


if __name__ == "__main__":
    main()
