#!/usr/bin/env bash
# Builds the page into web/dist/: the crate compiled to WebAssembly (with
# SIMD128) twice, for one thread and for several, its JavaScript bindings
# (wasm-bindgen), and the page's files. Installs what it needs: the wasm32
# target, the rust-src component, and wasm-bindgen-cli at the exact version
# of the wasm-bindgen crate in web/Cargo.lock.
#
#     web/build.sh            then: web/serve.py [--data DIR]
set -euo pipefail
cd "$(dirname "$0")"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

rustup target add wasm32-unknown-unknown >/dev/null
if [ ! -f Cargo.lock ]; then cargo generate-lockfile; fi
version=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/"/, "", $3); print $3; exit}' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$version" ]; then
    echo "installing wasm-bindgen-cli $version (once)"
    # Not --locked: its lockfile names a webpki-roots release the registry no
    # longer serves. A light release profile: it builds in half the time and
    # still post-processes the page's wasm in a second.
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_LTO=false \
        CARGO_PROFILE_RELEASE_CODEGEN_UNITS=256 CARGO_PROFILE_RELEASE_DEBUG=false \
        cargo install wasm-bindgen-cli --version "$version"
fi

# One target directory with the crate's other builds.
target="${CARGO_TARGET_DIR:-$(cd .. && pwd)/target}"
# candle draws random numbers through getrandom, which needs to be told to
# ask JavaScript; SIMD128 lets the matrix products and the fused layers
# use 128-bit vectors.
flags='--cfg getrandom_backend="wasm_js" -C target-feature=+simd128'

# 1. One thread: every browser, and pages that are not cross-origin isolated.
RUSTFLAGS="$flags" \
    cargo build --release --locked --target wasm32-unknown-unknown --target-dir "$target"

# 2. Threads: rayon's pool on web workers that share the module's memory
# (wasm-bindgen-rayon). That memory is a SharedArrayBuffer, which browsers
# give only to cross-origin isolated pages (web/serve.py's headers, or
# coi.js's service worker). It needs WebAssembly's atomics and bulk-memory
# features, and Rust's std compiled with them: rustup's prebuilt std for
# wasm32 is not, so std is rebuilt from its sources (the rust-src
# component) with cargo's `-Z build-std`. That flag is unstable;
# RUSTC_BOOTSTRAP=1 lets this stable toolchain take it. The linker is told
# to share the memory, to take it from JavaScript (every worker gets the
# same), that it may grow to 2 GiB (a shared memory declares its largest
# size up front), and to export what wasm-bindgen needs to give each thread
# its own thread-local storage.
rustup component add rust-src >/dev/null
link=""
for arg in --shared-memory --import-memory --max-memory=2147483648 --export=__wasm_init_tls \
    --export=__tls_size --export=__tls_align --export=__tls_base; do
    link="$link -C link-arg=$arg"
done
RUSTC_BOOTSTRAP=1 RUSTFLAGS="$flags -C target-feature=+atomics,+bulk-memory,+mutable-globals$link" \
    cargo build --release --locked --target wasm32-unknown-unknown --features threads \
    -Z build-std=panic_abort,std --target-dir "$target/wasm-threads"

rm -rf dist
mkdir -p dist/pkg dist/pkg-threads
# With their TypeScript declarations, which the page's JSDoc types are
# checked against (npm run --prefix web typecheck).
wasm-bindgen --target web --out-dir dist/pkg \
    "$target/wasm32-unknown-unknown/release/filters_are_weights_web.wasm"
wasm-bindgen --target web --out-dir dist/pkg-threads \
    "$target/wasm-threads/wasm32-unknown-unknown/release/filters_are_weights_web.wasm"
cp -r index.html app.js worker.js pool.js messages.js coi.js style.css js dist/
# The figures' font (DejaVu Sans, from the dejavu crate the crate embeds
# natively), beside the page: the worker fetches it when it first draws a
# picture for slides.
font=$(cargo metadata --format-version 1 --locked --manifest-path Cargo.toml |
    python3 -c 'import glob, json, os, sys
p = [p for p in json.load(sys.stdin)["packages"] if p["name"] == "dejavu"][0]
print(glob.glob(os.path.join(os.path.dirname(p["manifest_path"]), "assets", "*", "ttf", "DejaVuSans.ttf"))[0])')
cp "$font" dist/DejaVuSans.ttf
# The page's files and its version, for coi.js (the service worker) to keep
# for offline use, each checked against its hash (stamp.py says which).
python3 stamp.py dist
# The guide (../book, mdBook) beside the page, where the page's "In the
# guide" links lead: built where mdbook is installed (cargo install mdbook).
if command -v mdbook >/dev/null; then
    mdbook build ../book --dest-dir "$PWD/dist/guide" >/dev/null 2>&1 ||
        mdbook build ../book --dest-dir "$PWD/dist/guide"
else
    echo "mdbook is not installed, so the guide is not built beside the page (cargo install mdbook)"
fi
gz() { gzip -c "$1" | wc -c; }
echo "built web/dist: $(du -sh dist | cut -f1) ($(gz dist/pkg/*.wasm) bytes of wasm, gzipped;" \
    "$(gz dist/pkg-threads/*.wasm) with threads)"
