#!/usr/bin/env bash
# Builds the page into web/dist/: the crate compiled to WebAssembly (with
# SIMD128), its JavaScript bindings (wasm-bindgen), and the page's files.
# Installs what it needs: the wasm32 target, and wasm-bindgen-cli at the
# exact version of the wasm-bindgen crate in web/Cargo.lock.
#
#     web/build.sh            then: web/serve.py [--data DIR]
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$HOME/.cargo/bin:$PATH"

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
RUSTFLAGS='--cfg getrandom_backend="wasm_js" -C target-feature=+simd128' \
    cargo build --release --locked --target wasm32-unknown-unknown --target-dir "$target"

rm -rf dist
mkdir -p dist/pkg
wasm-bindgen --target web --no-typescript --out-dir dist/pkg \
    "$target/wasm32-unknown-unknown/release/filters_are_weights_web.wasm"
cp index.html app.js worker.js messages.js style.css dist/
echo "built web/dist: $(du -sh dist | cut -f1) ($(gzip -c dist/pkg/*.wasm | wc -c) bytes of wasm, gzipped)"
