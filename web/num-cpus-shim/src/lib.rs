//! `num_cpus` as the page needs it, put in place of the real crate by
//! `[patch.crates-io]` in `web/Cargo.toml` (the page's build only).
//!
//! candle gives its CPU matrix products as many threads as
//! `num_cpus::get()` says there are CPUs (unless `RAYON_NUM_THREADS` says
//! otherwise). A WebAssembly module can read neither: the real crate
//! answers 1, so the dense layers' products, a quarter of a training step,
//! would run on one thread while everything else runs on rayon's pool of
//! web workers. Here the answer is the size of that pool: the threads the
//! page has (1 without threads). gemm splits a product over blocks of its
//! output, never over the sums inside, so the numbers do not change with it.

/// The threads of rayon's pool: what candle may use for a matrix product.
pub fn get() -> usize {
    rayon::current_num_threads()
}

/// The same: the page cannot tell physical cores from logical ones.
pub fn get_physical() -> usize {
    get()
}
