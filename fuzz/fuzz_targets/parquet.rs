//! The Hub parquet loader on arbitrary bytes: it may refuse them, never panic.
#![no_main]

use filters_are_weights::data::hub;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The loader reads files: the input goes to one in memory-backed /dev/shm.
    let dir = std::path::Path::new("/dev/shm");
    let dir = if dir.is_dir() { dir.to_path_buf() } else { std::env::temp_dir() };
    let path = dir.join(format!("faw-fuzz-{}.parquet", std::process::id()));
    std::fs::write(&path, data).unwrap();
    if let Ok((images, labels)) = hub::read_parquet(&path) {
        assert_eq!(images.count, labels.len());
        assert_eq!(images.pixels.len(), images.count * images.rows * images.cols);
    }
});
