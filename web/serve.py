#!/usr/bin/env python3
"""Serves the page (web/dist) and, on the same origin, MNIST and Fashion-MNIST.

    web/build.sh                          # once: builds web/dist
    web/serve.py [--data DIR] [--fashion-mnist DIR] [--port 8000]
                                          # then open the address it prints

Each data set is served at PREFIX/data/ID/ (data/mnist/, data/fashion-mnist/),
so that the page's data-set switch works from one server: the address it
prints says ?data=data/{dataset}/, which the page fills in with the data set
it shows. A folder holds the four IDX files (gzipped or not, with `-idx` or
`.idx` in their names, as the crate's `--data-dir` reads them) or the Hugging
Face Hub's parquet layout (mnist/train/0000.parquet, mnist/test/0000.parquet,
or Fashion-MNIST's fashion_mnist/...). `--data DIR` is MNIST's (or the set
`--dataset` names, or its parquet files say); `--mnist DIR` and
`--fashion-mnist DIR` name each. A set not named is looked for where the
crate looks: $MNIST_DIR ($FASHION_MNIST_DIR), then data/mnist/
(data/fashion-mnist/, then Debian's /usr/share/datasets/fashion-mnist, from
the package dataset-fashion-mnist). The page checks what the files hold and
refuses MNIST under Fashion-MNIST's name, and the reverse.

The data is served from the page's own origin: a second server on another
port would be another origin, and the browser refuses its answers unless it
sends Access-Control-Allow-Origin (Python's http.server does not).

Every answer carries the headers that make the page cross-origin isolated
(Cross-Origin-Opener-Policy: same-origin, Cross-Origin-Embedder-Policy:
credentialless), which WebAssembly threads need. `--prefix /REPO/` serves the
page under a sub-path, as GitHub Pages does (https://OWNER.github.io/REPO/).
"""
import argparse
import http.server
import os
import posixpath
import sys
import urllib.parse
from pathlib import Path

DIST = Path(__file__).resolve().parent / "dist"
ROOT = Path(__file__).resolve().parent.parent
IDX = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
       "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
# The Hub's parquet layout of each data set the page knows (its ?dataset=).
PARQUET = {"mnist": ["mnist/train/0000.parquet", "mnist/test/0000.parquet"],
           "fashion-mnist": ["fashion_mnist/train/0000.parquet", "fashion_mnist/test/0000.parquet"]}
DATASETS = list(PARQUET)
NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
# Where the crate looks for each data set's folder when none is named
# (src/data/dataset.rs): its variable, then these.
ENV = {"mnist": "MNIST_DIR", "fashion-mnist": "FASHION_MNIST_DIR"}
FOLDERS = {"mnist": [ROOT / "data" / "mnist"],
           "fashion-mnist": [ROOT / "data" / "fashion-mnist", Path("/usr/share/datasets/fashion-mnist")]}
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
    """Files of the page under `prefix`, and of each data set under `prefix`data/ID/."""

    prefix = "/"
    # Each data set served: its id -> its folder.
    data = {}
    site = DIST
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **TYPES}

    def data_path(self, path):
        """(data set id, the rest) of a request under PREFIX/data/, else None."""
        path = urllib.parse.unquote(path.split("?", 1)[0].split("#", 1)[0])
        if not path.startswith(self.prefix):
            return None
        rest = posixpath.normpath("/" + path[len(self.prefix):]).lstrip("/")
        if rest != "data" and not rest.startswith("data/"):
            return None
        dataset, _, rest = rest[len("data/"):].partition("/")
        return dataset, rest

    def translate_path(self, path):
        under = self.data_path(path)
        if under is not None and under[0] in self.data:
            root, rest = self.data[under[0]], under[1]
            # An IDX file under the name the page asks for, whatever its name here.
            found = idx_file(root, rest)
            if found is not None:
                return str(found)
        else:
            path = urllib.parse.unquote(path.split("?", 1)[0].split("#", 1)[0])
            if not path.startswith(self.prefix):
                return ""
            root = self.site
            rest = posixpath.normpath("/" + path[len(self.prefix):]).lstrip("/")
        return str(root.joinpath(*[p for p in rest.split("/") if p not in ("", ".", "..")]))

    def do_GET(self):
        if self.prefix != "/" and self.path.split("?", 1)[0] in ("/", self.prefix.rstrip("/")):
            # The page lives under the prefix, as on GitHub Pages.
            self.send_response(302)
            self.send_header("Location", self.prefix)
            self.end_headers()
            return
        under = self.data_path(self.path)
        if under is not None and under[0] not in self.data:
            name = NAMES.get(under[0])
            why = (f"this server has no {name}: start web/serve.py with --{under[0]} DIR" if name
                   else f"there is no data set {under[0]!r} (there are {', '.join(DATASETS)})")
            self.send_error(404, why)
            return
        super().do_GET()

    def end_headers(self):
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "credentialless")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        # The page's own files change with each build; the data sets do not.
        data = self.data_path(self.path) is not None
        self.send_header("Cache-Control", "max-age=3600" if data else "no-cache")
        super().end_headers()

    def log_message(self, fmt, *args):
        if self.server.verbose:
            super().log_message(fmt, *args)


def checked_folder(p, option, folder, dataset):
    """(layout, data set) of `folder`, given with `option` for `dataset` (None: told
    by its parquet files, else MNIST); exits with what to do if it holds none."""
    if not folder.is_dir():
        p.exit(2, f"{option} {folder}: no such folder. Point it at the folder that holds "
                  "the four IDX files (train-images-idx3-ubyte.gz, ...) or the Hub's "
                  "parquet layout (mnist/train/0000.parquet, mnist/test/0000.parquet)\n")
    found = data_layout(folder)
    if found is None:
        layouts = " or ".join(", ".join(files) for files in PARQUET.values())
        p.exit(2, f"{option} {folder}: this folder holds neither the four IDX files "
                  f"({', '.join(n + '[.gz]' for n in IDX)}, or with .idx for -idx) nor the Hub's "
                  f"parquet layout ({layouts})\n")
    layout, held = found
    if held and dataset and held != dataset:
        p.exit(2, f"{option} {folder} holds {NAMES[held]}'s parquet files, not {NAMES[dataset]}'s: "
                  f"give it with --{held} instead\n")
    return layout, held or dataset or "mnist"


def found_folder(dataset):
    """The folder the crate would use for `dataset` when none is named, if it
    holds one of the layouts; and where it was found."""
    env = os.environ.get(ENV[dataset])
    candidates = ([(Path(env), f"${ENV[dataset]}")] if env else []) + [(f, str(f)) for f in FOLDERS[dataset]]
    for folder, where in candidates:
        if folder.is_dir() and data_layout(folder) is not None:
            return folder.resolve(), where
    return None, None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog="Build the page first with web/build.sh.")
    p.add_argument("--data", metavar="DIR", type=Path,
                   help="a folder of MNIST (the four IDX files, or the Hub's parquet layout), "
                        "or of the data set --dataset names, served at PREFIX/data/ID/")
    p.add_argument("--dataset", choices=DATASETS,
                   help="which data set --data holds, for IDX files (parquet files say it themselves); "
                        "default mnist")
    p.add_argument("--mnist", metavar="DIR", type=Path, help="a folder of MNIST, served at PREFIX/data/mnist/")
    p.add_argument("--fashion-mnist", metavar="DIR", type=Path,
                   help="a folder of Fashion-MNIST, served at PREFIX/data/fashion-mnist/")
    p.add_argument("--no-search", action="store_true",
                   help="serve only the folders named, not those found where the crate looks "
                        "($MNIST_DIR, data/mnist/, ...)")
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
    # Each data set's folder and layout, as named, then as found.
    served = {}
    named = [("--data", args.data, args.dataset), ("--mnist", args.mnist, "mnist"),
             ("--fashion-mnist", args.fashion_mnist, "fashion-mnist")]
    for option, folder, dataset in named:
        if folder is None:
            continue
        layout, dataset = checked_folder(p, option, folder.resolve(), dataset)
        if dataset in served:
            p.exit(2, f"{option} {folder}: {NAMES[dataset]} is given twice "
                      f"(also {served[dataset][0]}); give each data set once\n")
        served[dataset] = (folder.resolve(), layout, option)
    named_any = bool(served)
    for dataset in DATASETS:
        if dataset not in served and not args.no_search:
            folder, where = found_folder(dataset)
            if folder is not None:
                served[dataset] = (folder, data_layout(folder)[0], f"found at {where}")
    skipped = []
    if not named_any and "mnist" not in served:
        # Only Fashion-MNIST found, none named: the page opens on MNIST from
        # the Hub, as without --data, rather than on Fashion-MNIST alone.
        skipped, served = list(served), {}
    query = ""
    if served:
        layouts = {layout for _, layout, _ in served.values()}
        query = "?data=data/%7Bdataset%7D/" + (f"&format={layouts.pop()}" if len(layouts) == 1 else "")
        first = next(d for d in DATASETS if d in served)
        query += f"&dataset={first}" if first != "mnist" else ""

    data = {dataset: folder for dataset, (folder, _, _) in served.items()}
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
    for dataset in DATASETS:
        if dataset in served:
            folder, layout, how = served[dataset]
            print(f"{NAMES[dataset]}: {folder} ({layout}, {how}), at {prefix}data/{dataset}/", flush=True)
        else:
            print(f"{NAMES[dataset]}: not served (--{dataset} DIR serves it); the page fetches it "
                  "from the Hugging Face Hub only without ?data=", flush=True)
    for dataset in skipped:
        print(f"({NAMES[dataset]} was found, but is not served without MNIST: "
              f"--{dataset} DIR serves it)", flush=True)
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
