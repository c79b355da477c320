//! The IDX file format of MNIST (LeCun et al.), gzipped or not.
//!
//! An IDX file is a big-endian header followed by raw bytes:
//!
//! | offset | content |
//! |---|---|
//! | 0 | `0x00 0x00 0x08 ndim`: magic (`0x08` = unsigned bytes) |
//! | 4 | `ndim` sizes, each a big-endian `u32` |
//! | 4 + 4·ndim | the values, row-major, one byte each |
//!
//! Images are `ndim = 3` (`count, rows, cols`, magic `0x00000803`), labels
//! `ndim = 1` (magic `0x00000801`). A file starting with the gzip magic
//! `1f 8b` is decompressed first.
//!
//! ```
//! use filters_are_weights::data::idx;
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("labels-idx1-ubyte");
//! idx::write_labels(&path, &[3, 1, 4]).unwrap();
//! assert_eq!(idx::read_labels(&path).unwrap(), vec![3, 1, 4]);
//! ```

use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// Magic number of an IDX file of unsigned bytes with three dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with one dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Images read from an IDX file: `count` pictures of `rows × cols` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Height of each image.
    pub rows: usize,
    /// Width of each image.
    pub cols: usize,
    /// `count · rows · cols` pixel values, image after image, row-major.
    pub pixels: Vec<u8>,
}

/// `raw`, decompressed when it is gzipped; `path` names it in errors.
fn maybe_gunzip(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>> {
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| {
                Error::bad_data(
                    path,
                    format!(
                        "the gzip data is corrupt or truncated ({e}); \
                         download the file again"
                    ),
                )
            })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parses an IDX header, checking the magic and that the payload has exactly
/// the size the header announces. Returns the sizes and the payload.
fn parse<'a>(
    path: &Path,
    bytes: &'a [u8],
    magic: u32,
    what: &str,
) -> Result<(Vec<usize>, &'a [u8])> {
    let ndim = (magic & 0xff) as usize;
    let header = 4 + 4 * ndim;
    if bytes.is_empty() {
        return Err(Error::bad_data(
            path,
            format!("the file is empty, but should hold MNIST {what}; download it again"),
        ));
    }
    if bytes.len() < 4 {
        return Err(Error::bad_data(
            path,
            format!(
                "truncated: {} bytes, too short for an IDX header",
                bytes.len()
            ),
        ));
    }
    let found = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if found != magic {
        return Err(Error::bad_data(
            path,
            format!(
                "wrong magic number 0x{found:08x} (expected 0x{magic:08x} for {what}): \
                 this is not an IDX file of {what}"
            ),
        ));
    }
    if bytes.len() < header {
        return Err(Error::bad_data(
            path,
            format!(
                "truncated: {} bytes, the IDX header needs {header}",
                bytes.len()
            ),
        ));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|i| {
            let o = 4 + 4 * i;
            u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
        })
        .collect();
    let expected = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let payload = &bytes[header..];
    match expected {
        Some(n) if n == payload.len() => Ok((dims, payload)),
        Some(n) if n > payload.len() => Err(Error::bad_data(
            path,
            format!(
                "truncated: the header announces {dims:?} ({n} bytes of {what}) but only {} \
                 follow; download the file again",
                payload.len()
            ),
        )),
        Some(n) => Err(Error::bad_data(
            path,
            format!(
                "count mismatch: the header announces {dims:?} ({n} bytes of {what}) but {} \
                 follow",
                payload.len()
            ),
        )),
        None => Err(Error::bad_data(
            path,
            format!("the header announces impossible sizes {dims:?}"),
        )),
    }
}

/// Reads an IDX file of images (magic `0x00000803`), gzipped or not.
pub fn read_images(path: impl AsRef<Path>) -> Result<IdxImages> {
    let path = path.as_ref();
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_images(path, raw)
}

/// Decodes the bytes of an IDX file of images, gzipped or not; `path` only
/// names the file in errors.
pub fn decode_images(path: &Path, raw: Vec<u8>) -> Result<IdxImages> {
    let bytes = maybe_gunzip(path, raw)?;
    let (dims, payload) = parse(path, &bytes, IMAGES_MAGIC, "images")?;
    Ok(IdxImages {
        count: dims[0],
        rows: dims[1],
        cols: dims[2],
        pixels: payload.to_vec(),
    })
}

/// Reads an IDX file of labels (magic `0x00000801`), gzipped or not.
pub fn read_labels(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    let path = path.as_ref();
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_labels(path, raw)
}

/// Decodes the bytes of an IDX file of labels, gzipped or not; `path` only
/// names the file in errors.
pub fn decode_labels(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>> {
    let bytes = maybe_gunzip(path, raw)?;
    let (_, payload) = parse(path, &bytes, LABELS_MAGIC, "labels")?;
    Ok(payload.to_vec())
}

fn encode(magic: u32, dims: &[usize], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 4 * dims.len() + payload.len());
    out.extend_from_slice(&magic.to_be_bytes());
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

fn write(path: &Path, bytes: Vec<u8>) -> Result<()> {
    let bytes = if path.extension().is_some_and(|e| e == "gz") {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, &bytes).map_err(|e| Error::io(path, e))?;
        enc.finish().map_err(|e| Error::io(path, e))?
    } else {
        bytes
    };
    crate::io::write_atomic(path, &bytes)
}

/// Writes images as an IDX file (gzipped when `path` ends in `.gz`).
pub fn write_images(path: impl AsRef<Path>, images: &IdxImages) -> Result<()> {
    let dims = [images.count, images.rows, images.cols];
    write(path.as_ref(), encode(IMAGES_MAGIC, &dims, &images.pixels))
}

/// Writes labels as an IDX file (gzipped when `path` ends in `.gz`).
pub fn write_labels(path: impl AsRef<Path>, labels: &[u8]) -> Result<()> {
    write(path.as_ref(), encode(LABELS_MAGIC, &[labels.len()], labels))
}
