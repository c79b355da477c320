//! The Hub parquet loader on arbitrary bytes: it may refuse them, never panic.
#![no_main]

use filters_are_weights::data::hub;
use libfuzzer_sys::fuzz_target;

/// libfuzzer-sys turns every panic into an abort. Panics inside the parquet
/// crate are caught by `read_parquet` and returned as errors (a known
/// upstream weakness), so they may unwind; any other panic still aborts.
fn let_parquet_panics_unwind() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_parquet = info
                .location()
                .is_some_and(|l| l.file().contains("/parquet-"));
            if !in_parquet {
                fuzzer_hook(info);
            }
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    let_parquet_panics_unwind();
    // The loader reads files: the input goes to one in memory-backed /dev/shm.
    let dir = std::path::Path::new("/dev/shm");
    let dir = if dir.is_dir() {
        dir.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let path = dir.join(format!("faw-fuzz-{}.parquet", std::process::id()));
    std::fs::write(&path, data).unwrap();
    if let Ok((images, labels)) = hub::read_parquet(&path) {
        assert_eq!(images.count, labels.len());
        assert_eq!(
            images.pixels.len(),
            images.count * images.rows * images.cols
        );
    }
});
