#!/usr/bin/env python3
"""Serves the page (web/dist) and, on the same origin, a folder of MNIST.

    web/build.sh                          # once: builds web/dist
    web/serve.py --data DIR [--port 8000] # then open the address it prints

DIR holds the four IDX files of MNIST or Fashion-MNIST (gzipped or not,
with `-idx` or `.idx` in their names, as the crate's `--data-dir` reads
them; `--dataset fashion-mnist` says which) or the Hugging Face Hub's
parquet layout (mnist/train/0000.parquet, mnist/test/0000.parquet, or
Fashion-MNIST's fashion_mnist/...). It is served at PREFIX/data/, so the
page fetches it from its own origin: a second server on another port would
be another origin, and the browser refuses its answers unless it sends
Access-Control-Allow-Origin (Python's http.server does not).

Every answer carries the headers that make the page cross-origin isolated
(Cross-Origin-Opener-Policy: same-origin, Cross-Origin-Embedder-Policy:
credentialless), which WebAssembly threads need. `--prefix /REPO/` serves the
page under a sub-path, as GitHub Pages does (https://OWNER.github.io/REPO/).
"""
import argparse
import http.server
import posixpath
import sys
import urllib.parse
from pathlib import Path

DIST = Path(__file__).resolve().parent / "dist"
IDX = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
       "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
# The Hub's parquet layout of each data set the page knows (its ?dataset=).
PARQUET = {"mnist": ["mnist/train/0000.parquet", "mnist/test/0000.parquet"],
           "fashion-mnist": ["fashion_mnist/train/0000.parquet", "fashion_mnist/test/0000.parquet"]}
DATASETS = list(PARQUET)
TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
         ".html": "text/html; charset=utf-8", ".css": "text/css", ".json": "application/json"}


def idx_file(folder, name):
    """The file `folder` holds for the IDX file `name` (the page asks for it
    as NAME.gz, then NAME): under either name MNIST mirrors use (`-idx` or
    `.idx`), gzipped or not, preferring what was asked for; None if none."""
    gz = name.endswith(".gz")
    base = name[:-3] if gz else name
    if base not in IDX:
        return None
    dotted = base.replace("-idx", ".idx", 1)
    # The asked-for compression first: a .gz request gets a gzipped file.
    names = [f"{base}.gz", f"{dotted}.gz"] if gz else [base, dotted]
    return next((folder / n for n in names if (folder / n).is_file()), None)


def data_layout(folder):
    """('parquet', data set) or ('idx', None), whichever `folder` holds; None
    if neither."""
    for dataset, files in PARQUET.items():
        if all((folder / p).is_file() for p in files):
            return "parquet", dataset
    if all(idx_file(folder, n) or idx_file(folder, f"{n}.gz") for n in IDX):
        return "idx", None
    return None


class Handler(http.server.SimpleHTTPRequestHandler):
    """Files of the page under `prefix`, and of the data under `prefix`data/."""

    prefix = "/"
    data = None
    site = DIST
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **TYPES}

    def translate_path(self, path):
        path = urllib.parse.unquote(path.split("?", 1)[0].split("#", 1)[0])
        if not path.startswith(self.prefix):
            return ""
        rest = posixpath.normpath("/" + path[len(self.prefix):]).lstrip("/")
        if self.data is not None and (rest == "data" or rest.startswith("data/")):
            root, rest = self.data, rest[len("data"):].lstrip("/")
            # An IDX file under the name the page asks for, whatever its name here.
            found = idx_file(root, rest)
            if found is not None:
                return str(found)
        else:
            root = self.site
        return str(root.joinpath(*[p for p in rest.split("/") if p not in ("", ".", "..")]))

    def do_GET(self):
        if self.prefix != "/" and self.path.split("?", 1)[0] in ("/", self.prefix.rstrip("/")):
            # The page lives under the prefix, as on GitHub Pages.
            self.send_response(302)
            self.send_header("Location", self.prefix)
            self.end_headers()
            return
        super().do_GET()

    def end_headers(self):
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "credentialless")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        # The page's own files change with each build; MNIST does not.
        data = self.data is not None and f"{self.prefix}data/" in self.path
        self.send_header("Cache-Control", "max-age=3600" if data else "no-cache")
        super().end_headers()

    def log_message(self, fmt, *args):
        if self.server.verbose:
            super().log_message(fmt, *args)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog="Build the page first with web/build.sh.")
    p.add_argument("--data", metavar="DIR", type=Path,
                   help="a folder of MNIST (the four IDX files, or the Hub's parquet layout), "
                        "served at PREFIX/data/")
    p.add_argument("--dataset", choices=DATASETS,
                   help="which data set --data holds, for IDX files (parquet files say it themselves); "
                        "default mnist")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free one)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 for a classroom)")
    p.add_argument("--prefix", default="/", help="serve the page under this path (default /)")
    p.add_argument("--site", metavar="DIR", type=Path, default=DIST,
                   help="the built page to serve (default web/dist, which web/build.sh writes)")
    p.add_argument("--verbose", action="store_true", help="print every request")
    args = p.parse_args(argv)

    site = args.site.resolve()
    if not (site / "index.html").is_file():
        p.exit(2, f"{site} holds no built page: build it first with web/build.sh\n")
    prefix = "/" + args.prefix.strip("/") + "/" if args.prefix.strip("/") else "/"
    query = ""
    data = None
    if args.data is not None:
        data = args.data.resolve()
        if not data.is_dir():
            p.exit(2, f"--data {args.data}: no such folder. Point it at the folder that holds "
                      "the four MNIST IDX files (train-images-idx3-ubyte.gz, ...) or the Hub's "
                      "parquet layout (mnist/train/0000.parquet, mnist/test/0000.parquet)\n")
        found = data_layout(data)
        if found is None:
            layouts = " or ".join(", ".join(files) for files in PARQUET.values())
            p.exit(2, f"--data {args.data}: this folder holds neither the four MNIST IDX files "
                      f"({', '.join(n + '[.gz]' for n in IDX)}, or with .idx for -idx) nor the Hub's "
                      f"parquet layout ({layouts})\n")
        layout, dataset = found
        if dataset and args.dataset and dataset != args.dataset:
            p.exit(2, f"--data {args.data} holds {dataset}'s parquet files, not {args.dataset}'s: "
                      "leave --dataset out, or point --data at the other data set\n")
        dataset = dataset or args.dataset or "mnist"
        query = f"?data=data/&format={layout}" + (f"&dataset={dataset}" if dataset != "mnist" else "")

    handler = type("PageHandler", (Handler,), {"prefix": prefix, "data": data, "site": site})
    try:
        server = http.server.ThreadingHTTPServer((args.host, args.port), handler)
    except OSError as e:
        p.exit(2, f"cannot listen on {args.host}:{args.port} ({e.strerror}): another program "
                  "may be using the port; pick another with --port N (0 for any free one)\n")
    server.verbose = args.verbose
    host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
    print(f"page: http://{host}:{server.server_address[1]}{prefix}{query}", flush=True)
    if args.host in ("0.0.0.0", ""):
        print("(other machines: this machine's address instead of 127.0.0.1)", flush=True)
    if data is not None:
        print(f"data: {data} ({layout}), at {prefix}data/", flush=True)
    print("Ctrl-C stops it.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
