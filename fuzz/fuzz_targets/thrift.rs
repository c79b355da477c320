//! The parquet page-header reader (`data::thrift`): any bytes give sizes or
//! an error, never a panic, a hang or a big allocation; and the header
//! length it reports never exceeds the bytes it was given.
#![no_main]

use filters_are_weights::data::thrift::PageSizes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(sizes) = PageSizes::read(bytes) {
        assert!(sizes.header_len <= bytes.len() as u64);
    }
});
