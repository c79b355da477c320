"""What the page's benchmarks share (web_page.py, web_memory.py,
lesson_times.py): the built page served by a checkout's web/serve.py, and
web/tests/engines.mjs run in one browser engine (WebKit's MiniBrowser under
xvfb-run, which it needs), its last line read as JSON."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def serve(data, dataset=None, root=ROOT):
    """`root`'s web/serve.py with `data` on a free port: its process and the
    page's address (without its query)."""
    more = ["--dataset", dataset] if dataset else []
    proc = subprocess.Popen([sys.executable, str(root / "web" / "serve.py"), "--port", "0",
                             "--data", str(data), "--no-search"] + more,
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("page: "):
        sys.exit(f"{root}/web/serve.py printed {line!r}")
    return proc, line[len("page: "):].strip().split("?")[0]


def engine_run(engine, page, *args, check=True):
    """engines.mjs in `engine` on `page`'s IDX data with `args`: its result,
    or None (its errors printed) when it fails and `check` is off."""
    display = ["xvfb-run", "-a", "-s", "-screen 0 1920x1200x24"] if engine == "webkit" else []
    out = subprocess.run(display + ["node", str(ROOT / "web" / "tests" / "engines.mjs"), "--engine", engine,
                                    "--page", page, "--idx", "data/{dataset}/", *map(str, args)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        if check:
            sys.exit(f"engines.mjs failed in {engine}:\n{out.stderr}")
        print(f"{engine}, {page}: engines.mjs failed:\n{out.stderr}", file=sys.stderr, flush=True)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])
