#!/usr/bin/env python3
"""Execute the notebooks under the evcxr Jupyter kernel and check every cell.

A notebook fails when a cell does not compile, panics, returns an error or
writes anything to stderr (evcxr reports panics and `?` errors there, and
Jupyter alone would not fail on them), or when a cell tagged "figure" shows
no picture (PNG or GIF, or HTML with one inline). Unlike
`jupyter nbconvert --execute`, output that evcxr sends after a cell has
finished is still filed under that cell. Usage:

    python3 notebooks/run.py [--quick] [--write] [NOTEBOOK.ipynb ...]

--quick sets FAW_QUICK=1 (less data, fewer epochs); --write saves the executed
notebooks, outputs included, in place (only those that passed). Needs the `rust` kernel
(`cargo install evcxr_jupyter && evcxr_jupyter --install`), Python's
jupyter_client and nbformat (`pip install jupyter_client nbformat`), and the
rust-src component (`rustup component add rust-src`).
"""

import argparse
import os
import queue
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTEBOOKS = [
    "01-image-kernels.ipynb",
    "02-mnist.ipynb",
    "03-training.ipynb",
    "04-what-filters-see.ipynb",
    "05-hand-vs-learned.ipynb",
    "06-second-layer.ipynb",
    "filters-are-weights.ipynb",
]


def problems_of(nb):
    """Every failure found in an executed notebook, as readable lines.

    """
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        head = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
        where = f"cell {i} ({head[:60]!r})"
        images, stderr = 0, ""
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "error":
                found.append(f"{where}: error {out.get('ename')}: {out.get('evalue')}")
            elif kind == "stream" and out.get("name") == "stderr":
                stderr += out.get("text", "")
            elif kind in ("display_data", "execute_result") and (
                any(k in out.get("data", {}) for k in ("image/png", "image/gif"))
                # HTML that carries its picture inline (the filter replay).
                or "data:image/" in out.get("data", {}).get("text/html", "")
            ):
                images += 1
        if stderr.strip():
            found.append(f"{where} wrote to stderr:\n    " + stderr.strip().replace("\n", "\n    "))
        if "figure" in cell.get("metadata", {}).get("tags", []) and images == 0:
            found.append(f"{where}: should show a figure but shows no PNG (or GIF)")
    return found


def execute(nb, timeout=3600):
    """Runs the notebook's code cells in order in a fresh `rust` kernel.

    Every message the kernel sends is filed under the cell whose request it
    answers (its parent header), whenever it arrives: evcxr can send a cell's
    stderr after reporting the cell finished. Stops at the first cell that
    fails to compile. Returns the seconds each executed cell took.
    """
    from jupyter_client.manager import start_new_kernel
    from nbformat.v4 import output_from_msg

    km, kc = start_new_kernel(kernel_name="rust", cwd=str(HERE), startup_timeout=300)
    cells = {}  # msg_id -> cell
    times = []

    def file(msg):
        cell = cells.get(msg["parent_header"].get("msg_id"))
        kind = msg["msg_type"]
        if cell is None:
            return
        if kind == "execute_input":
            cell.execution_count = msg["content"].get("execution_count")
        elif kind in ("stream", "display_data", "execute_result", "error"):
            cell.outputs.append(output_from_msg(msg))

    def drain(seconds):
        end = time.monotonic() + seconds
        while True:
            try:
                file(kc.get_iopub_msg(timeout=max(0.0, end - time.monotonic())))
            except queue.Empty:
                return

    try:
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            cell.outputs = []
            start = time.monotonic()
            msg_id = kc.execute(cell.source, store_history=True, allow_stdin=False)
            cells[msg_id] = cell
            while True:
                reply = kc.get_shell_msg(timeout=timeout)
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
            drain(0.5)
            times.append(time.monotonic() - start)
            if reply["content"].get("status") != "ok":
                content = reply["content"]
                if not any(o.get("output_type") == "error" for o in cell.outputs):
                    cell.outputs.append(output_from_msg({
                        "msg_type": "error",
                        "header": {"msg_type": "error"},
                        "content": {"ename": content.get("ename", "Error"),
                                    "evalue": content.get("evalue", ""),
                                    "traceback": content.get("traceback", [])},
                    }))
                break
        drain(2.0)  # whatever the last cells still send
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return times


def run(path, write):
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    start = time.monotonic()
    times = execute(nb)
    total = time.monotonic() - start
    problems = problems_of(nb)
    unexecuted = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.execution_count is None]
    if unexecuted:
        problems.append(f"cells {unexecuted} were not executed")
    if write and not problems:
        nbformat.write(nb, path)  # a failed run leaves the file as it was
    return total, (times[0] if times else float("nan")), problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="set FAW_QUICK=1")
    parser.add_argument("--write", action="store_true", help="save the executed notebooks that passed in place")
    parser.add_argument("notebooks", nargs="*", help="notebooks to run (default: all)")
    args = parser.parse_args()
    if args.quick:
        os.environ["FAW_QUICK"] = "1"
    else:
        os.environ.pop("FAW_QUICK", None)
    paths = [Path(p).resolve() for p in args.notebooks] or [HERE / n for n in NOTEBOOKS]
    failed = 0
    for path in paths:
        print(f"{path.name}: running{' (quick mode)' if args.quick else ''}", flush=True)
        total, first, problems = run(path, args.write)
        status = "ok" if not problems else "FAILED"
        print(f"{path.name}: {status} in {total:.1f} s (first cell {first:.1f} s)", flush=True)
        for p in problems:
            print(f"  {p}")
        if args.write and problems:
            print(f"  {path.name} not written: it keeps the outputs it had")
        failed += bool(problems)
    print(f"notebooks: {len(paths) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
