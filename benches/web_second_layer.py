#!/usr/bin/env python3
"""What the second layer sees, timed in the page: each engine's worker
finding every conv2 channel's top patches over all of a data set's test
images (the crate's second_layer::top_patches, compiled to WebAssembly), on
2 threads, ROUNDS times; next to it, the native crate's time for the same
work (benches/second_layer.rs, run by the caller).

Serves the built page (web/build.sh first) with web/serve.py and the four
IDX files of MNIST_DIR (or --data DIR), opens it in each engine
(web/tests/engines.mjs --second-layer), trains one batch, then asks.

    MNIST_DIR=/path/to/mnist python3 benches/web_second_layer.py [--rounds 3]
        [--engines chromium,firefox,webkit]
"""
import argparse
import json
import os
import sys

from page_driver import engine_run, serve


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--engines", default="chromium,firefox,webkit")
    parser.add_argument("--data", help="the data set's four IDX files (default: $MNIST_DIR)")
    a = parser.parse_args()
    data = a.data or os.environ.get("MNIST_DIR")
    if not data:
        sys.exit("name the data set's IDX files: --data DIR, or MNIST_DIR")
    rows = []
    for engine in a.engines.split(","):
        proc, page = serve(data)
        try:
            r = engine_run(engine, page, "--second-layer", a.rounds, "--query", "threads=2", check=False)
        finally:
            proc.terminate()
            proc.wait()
        r = r or {"failed": True}
        r["engine"] = engine
        print(json.dumps(r), flush=True)
        rows.append(r)
    print("\nthe second layer's top patches in the page, seconds for each round:")
    for r in rows:
        if r.get("failed"):
            print(f"{r['engine']:10} failed (above)")
            continue
        times = " ".join(f"{s['ms'] / 1000:.2f}" for s in r["secondLayer"])
        images = r["secondLayer"][0]["images"]
        print(f"{r['engine']:10} {r['threads']} threads, {images} test images: {times}")


if __name__ == "__main__":
    main()
