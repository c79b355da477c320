//! The IDX decoder on arbitrary bytes: it may refuse them, never panic.
#![no_main]

use filters_are_weights::data::idx;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz-input");
    if let Ok(images) = idx::decode_images(path, data.to_vec()) {
        assert_eq!(
            images.pixels.len(),
            images.count * images.rows * images.cols
        );
    }
    let _ = idx::decode_labels(path, data.to_vec());
});
