//! Inputs the fuzz targets (`fuzz/`) found noteworthy, replayed: each is
//! refused with an error or read, never a panic.

use std::path::Path;

#[test]
fn parquet_inputs_found_by_fuzzing_are_refused_cleanly() {
    // parquet-slow-unit.bin: 224 bytes that kept the parquet loader busy for
    // 13 s in the fuzzer's instrumented build.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz/parquet-slow-unit.bin");
    #[cfg(feature = "hub")]
    {
        let start = std::time::Instant::now();
        let result = filters_are_weights::data::hub::read_parquet(&path);
        println!(
            "{:?} in {:?}",
            result.as_ref().map(|(i, _)| i.count),
            start.elapsed()
        );
        if let Err(e) = result {
            assert!(e.to_string().contains("parquet-slow-unit.bin"), "{e}");
        }
    }
    // The IDX decoder refuses it too, naming the file.
    let raw = std::fs::read(&path).unwrap();
    let err = filters_are_weights::data::idx::decode_images(&path, raw).unwrap_err();
    assert!(err.to_string().contains("parquet-slow-unit.bin"), "{err}");
}

#[cfg(feature = "hub")]
#[test]
fn a_parquet_file_that_makes_the_parquet_crate_panic_is_refused_with_an_error() {
    // parquet-negative-column-start.bin: found by the `parquet` target from the
    // valid seed; parquet 60 panics on it ("column start and length should not
    // be negative") while building its row reader.
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fuzz/parquet-negative-column-start.bin");
    let err = filters_are_weights::data::hub::read_parquet(&path).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("parquet-negative-column-start.bin") && msg.contains("corrupt"),
        "{msg}"
    );
}
