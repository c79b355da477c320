#!/usr/bin/env python3
"""The page against the native trainer: training speed, time to the first
trained filters, and what a visitor downloads.

Builds the page (web/build.sh), serves it on 127.0.0.1 with MNIST_DIR's IDX
files (cacheable, as a web server would serve them), and runs, ROUNDS times
and alternating:

- the page in headless Chromium (web/tests/page.mjs --bench): seconds from
  opening it, with MNIST already in the browser's cache, to the first redraw
  of trained filters; then images per second while it trains (one thread:
  a page's WebAssembly runs on one), over wall time (scoring test digits and
  redrawing included) and over the worker's training time alone;
- the native trainer on one thread (RAYON_NUM_THREADS=1
  benches/train_throughput.rs), batch 128 too.

Prints the medians, their ratio, and the page's files as a visitor downloads
them (gzipped). Needs what the page tests need (Node.js, Chromium,
`npm ci --prefix web`).

    MNIST_DIR=/path/to/mnist python3 benches/web_page.py [--rounds 2] [--seconds 20]
"""
import argparse
import functools
import gzip
import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"


def serve(site, data):
    class Handler(http.server.SimpleHTTPRequestHandler):
        def translate_path(self, path):
            path = path.split("?")[0]
            if path.startswith("/data/"):
                return str(Path(data) / path[len("/data/"):])
            return super().translate_path(path)

        def end_headers(self):
            self.send_header("Cache-Control", "max-age=3600")
            super().end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Handler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def page_round(addr, seconds):
    out = subprocess.run(["node", str(WEB / "tests" / "page.mjs"), "--page", f"{addr}/",
                          "--idx", f"{addr}/data", "--bench", str(seconds)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def native_round():
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    out = subprocess.run(["cargo", "bench", "-q", "--bench", "train_throughput", "--", "40", "5"],
                         cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=20, help="training time measured in the page")
    args = parser.parse_args()
    data = os.environ.get("MNIST_DIR")
    if not data:
        sys.exit("set MNIST_DIR to a directory holding the MNIST IDX files")
    subprocess.run([str(WEB / "build.sh")], check=True)
    subprocess.run(["cargo", "bench", "--bench", "train_throughput", "--no-run", "-q"], cwd=ROOT, check=True)
    addr = serve(WEB / "dist", data)
    page, training, native, first = [], [], [], []
    for r in range(args.rounds):
        res = page_round(addr, args.seconds)
        page.append(res["imagesPerSecond"])
        training.append(res["trainingImagesPerSecond"])
        first.append(res["secondsToFirstTrainedFilters"])
        print(f"round {r + 1}: page: {page[-1]:.0f} images/s of wall time, {training[-1]:.0f} "
              f"of training time; first trained filters after {first[-1]:.1f} s", flush=True)
        native.append(native_round()["images_per_s"])
        print(f"round {r + 1}: native, one thread: {native[-1]:.0f} images/s", flush=True)
    p, t, n = statistics.median(page), statistics.median(training), statistics.median(native)
    print(f"\nmedian: page {p:.0f} images/s of wall time ({p / n:.2f}x native), {t:.0f} of "
          f"training time ({t / n:.2f}x); native one thread {n:.0f} images/s; first trained "
          f"filters after {statistics.median(first):.1f} s")
    sizes = {f.name: len(gzip.compress(f.read_bytes(), 9))
             for f in sorted((WEB / "dist").rglob("*")) if f.is_file()}
    for name, size in sizes.items():
        print(f"  {name}: {size / 1e3:.0f} kB gzipped")
    print(f"a visitor downloads {sum(sizes.values()) / 1e6:.2f} MB (gzipped) besides the data")


if __name__ == "__main__":
    main()
