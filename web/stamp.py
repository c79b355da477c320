#!/usr/bin/env python3
"""Stamps a built page (web/dist, or a copy of it) with its version: writes
into its coi.js, the service worker that keeps the page for offline use,
the list of the page's files with the SHA-256 of each, and the page's
version, a hash of them all. The service worker keeps each version in a
cache of its own, checks every file it keeps against its hash, and switches
to a version only once it holds every file (web/coi.js says how).

    python3 web/stamp.py DIR        # web/build.sh runs it on web/dist

The page's files are everything in DIR but the TypeScript declarations
(*.d.ts) and the guide (guide/, which the page links to and does not keep).
The page itself is listed twice, as "./" and "index.html". coi.js is listed
without a hash (it holds the list): its version line stands for it.
"""
import hashlib
import json
import re
import sys
from pathlib import Path

SKIP_DIRS = {"guide"}
# The two WebAssembly builds (coi.js keeps only the one the page runs).
BUILDS = ["pkg/", "pkg-threads/"]
FILES_LINE = re.compile(r"^const FILES = .*;$", re.M)
VERSION_LINE = re.compile(r"^const VERSION = .*;$", re.M)


def page_files(site):
    """The page's files in `site`, relative to it, sorted."""
    return sorted(
        p.relative_to(site).as_posix()
        for p in site.rglob("*")
        if p.is_file() and not p.name.endswith(".d.ts")
        and p.relative_to(site).parts[0] not in SKIP_DIRS
    )


def stamp(site):
    """Writes the list and the version into `site`/coi.js; returns the version."""
    coi = site / "coi.js"
    text = coi.read_text()
    if not FILES_LINE.search(text) or not VERSION_LINE.search(text):
        raise SystemExit(f"stamp.py: {coi} has no `const FILES = ...;` and `const VERSION = ...;` lines "
                         "to write the page's files and version into")
    files = []
    for name in page_files(site):
        sha = None if name == "coi.js" else hashlib.sha256((site / name).read_bytes()).hexdigest()
        files.append([name, sha])
    index = next(sha for name, sha in files if name == "index.html")
    files.insert(0, ["./", index])
    # The version: the files' names and hashes, with coi.js as it is before
    # stamping (the service worker's own code).
    blank = VERSION_LINE.sub("const VERSION = '';", FILES_LINE.sub("const FILES = [];", text))
    whole = json.dumps(files) + hashlib.sha256(blank.encode()).hexdigest()
    version = hashlib.sha256(whole.encode()).hexdigest()[:16]
    text = FILES_LINE.sub(lambda _: f"const FILES = {json.dumps(files)};", text)
    text = VERSION_LINE.sub(lambda _: f"const VERSION = '{version}';", text)
    tmp = coi.with_suffix(".js.tmp")
    tmp.write_text(text)
    tmp.replace(coi)
    return version, files


def main(argv):
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    site = Path(argv[0])
    if not (site / "index.html").is_file() or not (site / "coi.js").is_file():
        print(f"stamp.py: {site} holds no built page (index.html and coi.js): build it with web/build.sh",
              file=sys.stderr)
        return 2
    version, files = stamp(site)
    size = sum((site / n).stat().st_size for n, _ in files[1:])
    print(f"page version {version}: {len(files) - 1} files, {size / 1e6:.1f} MB (both WebAssembly builds)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
