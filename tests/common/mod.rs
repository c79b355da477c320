//! Helpers shared by the integration tests: small synthetic MNIST-format
//! data sets, and the real MNIST when `MNIST_DIR` points at it.
#![allow(dead_code)]

#[cfg(feature = "hub")]
pub mod parquet;

use filters_are_weights::data::idx::{self, IdxImages};
use filters_are_weights::data::Mnist;
use std::path::{Path, PathBuf};

/// `n` 28x28 images with a deterministic pattern, and labels `i % 10`.
pub fn synthetic(n: usize) -> (IdxImages, Vec<u8>) {
    let pixels = (0..n * 28 * 28)
        .map(|i| ((i * 37 + i / 784 * 11) % 256) as u8)
        .collect();
    let images = IdxImages {
        count: n,
        rows: 28,
        cols: 28,
        pixels,
    };
    (images, (0..n).map(|i| (i % 10) as u8).collect())
}

/// Writes a synthetic MNIST directory (gzipped or not) and returns its path.
pub fn write_mnist_dir(dir: &Path, train: usize, test: usize, gz: bool) -> PathBuf {
    let ext = if gz { ".gz" } else { "" };
    let (ti, tl) = synthetic(train);
    let (vi, vl) = synthetic(test);
    idx::write_images(dir.join(format!("train-images-idx3-ubyte{ext}")), &ti).unwrap();
    idx::write_labels(dir.join(format!("train-labels-idx1-ubyte{ext}")), &tl).unwrap();
    idx::write_images(dir.join(format!("t10k-images-idx3-ubyte{ext}")), &vi).unwrap();
    idx::write_labels(dir.join(format!("t10k-labels-idx1-ubyte{ext}")), &vl).unwrap();
    dir.to_path_buf()
}

/// The real MNIST, from `$MNIST_DIR` (the README says how to set it).
pub fn real_mnist() -> Mnist {
    let dir = std::env::var_os("MNIST_DIR").expect(
        "these tests train on the real MNIST: set MNIST_DIR to a directory holding the four \
         IDX files (see README.md)",
    );
    Mnist::from_dir(dir).expect("MNIST_DIR must hold the four MNIST IDX files")
}
