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
//! `1f 8b` is decompressed as it is read, and only as far as the header
//! allows: the payload it announces and one byte more (to tell extra data
//! apart), never more than [`MAX_IDX_BYTES`].
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

/// The largest payload an IDX file may announce, 1 GiB (MNIST's training
/// images are 47 MB). A header announcing more is refused before anything
/// else is read.
pub const MAX_IDX_BYTES: usize = 1 << 30;

/// Where the bytes come from: a plain file or a gzip stream (errors differ).
struct Source<R> {
    reader: R,
    gzipped: bool,
}

impl<R: std::io::Read> Source<R> {
    /// Reads until `buf` is full or the data ends; returns how much was read.
    fn fill(&mut self, path: &Path, buf: &mut [u8]) -> Result<usize> {
        let mut got = 0;
        while got < buf.len() {
            match self.reader.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.error(path, e)),
            }
        }
        Ok(got)
    }

    fn error(&self, path: &Path, e: std::io::Error) -> Error {
        if self.gzipped {
            Error::bad_data(
                path,
                format!("the gzip data is corrupt or truncated ({e}); download the file again"),
            )
        } else {
            Error::io(path, e)
        }
    }
}

/// Reads an IDX file from `reader` (gzipped or not) only as far as its header
/// allows: the header, then the payload it announces plus one byte, to tell
/// extra data apart. A small file that would expand without end is refused
/// after at most [`MAX_IDX_BYTES`]. Returns the sizes and the payload.
fn read_idx(
    path: &Path,
    mut reader: impl std::io::BufRead,
    magic: u32,
    what: &str,
) -> Result<(Vec<usize>, Vec<u8>)> {
    let gzipped = reader
        .fill_buf()
        .map_err(|e| Error::io(path, e))?
        .starts_with(&[0x1f, 0x8b]);
    let mut src: Source<Box<dyn std::io::Read + '_>> = Source {
        reader: if gzipped {
            Box::new(flate2::bufread::MultiGzDecoder::new(reader))
        } else {
            Box::new(reader)
        },
        gzipped,
    };
    let ndim = (magic & 0xff) as usize;
    let header = 4 + 4 * ndim;
    let mut head = vec![0u8; header];
    let got = src.fill(path, &mut head[..4])?;
    if got == 0 {
        return Err(Error::bad_data(
            path,
            format!("the file is empty, but should hold MNIST {what}; download it again"),
        ));
    }
    if got < 4 {
        return Err(Error::bad_data(
            path,
            format!("truncated: {got} bytes, too short for an IDX header"),
        ));
    }
    let found = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    if found != magic {
        return Err(Error::bad_data(
            path,
            format!(
                "wrong magic number 0x{found:08x} (expected 0x{magic:08x} for {what}): \
                 this is not an IDX file of {what}"
            ),
        ));
    }
    let got = 4 + src.fill(path, &mut head[4..])?;
    if got < header {
        return Err(Error::bad_data(
            path,
            format!("truncated: {got} bytes, the IDX header needs {header}"),
        ));
    }
    let dims: Vec<usize> = head[4..]
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    let n = match dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)) {
        Some(n) if n <= MAX_IDX_BYTES => n,
        Some(n) => {
            return Err(Error::bad_data(
                path,
                format!(
                    "the header announces {dims:?} ({n} bytes of {what}), more than the \
                     {MAX_IDX_BYTES} bytes this reader accepts: this is not an MNIST-format file"
                ),
            ))
        }
        None => {
            return Err(Error::bad_data(
                path,
                format!("the header announces impossible sizes {dims:?}"),
            ))
        }
    };
    // Untouched capacity costs no memory; the data fills it as it comes.
    let mut payload = Vec::with_capacity(n + 1);
    std::io::Read::take(&mut src.reader, n as u64 + 1)
        .read_to_end(&mut payload)
        .map_err(|e| src.error(path, e))?;
    if payload.len() < n {
        return Err(Error::bad_data(
            path,
            format!(
                "truncated: the header announces {dims:?} ({n} bytes of {what}) but only {} \
                 follow; download the file again",
                payload.len()
            ),
        ));
    }
    if payload.len() > n {
        return Err(Error::bad_data(
            path,
            format!(
                "count mismatch: the header announces {dims:?} ({n} bytes of {what}) but more \
                 follow; this is not a clean IDX file, download it again"
            ),
        ));
    }
    Ok((dims, payload))
}

/// Opens `path` for [`read_idx`].
fn open(path: &Path) -> Result<std::io::BufReader<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    Ok(std::io::BufReader::with_capacity(1 << 16, file))
}

fn images_from(dims: Vec<usize>, pixels: Vec<u8>) -> IdxImages {
    IdxImages {
        count: dims[0],
        rows: dims[1],
        cols: dims[2],
        pixels,
    }
}

/// Reads an IDX file of images (magic `0x00000803`), gzipped or not.
pub fn read_images(path: impl AsRef<Path>) -> Result<IdxImages> {
    let path = path.as_ref();
    let (dims, pixels) = read_idx(path, open(path)?, IMAGES_MAGIC, "images")?;
    Ok(images_from(dims, pixels))
}

/// Decodes the bytes of an IDX file of images, gzipped or not; `path` only
/// names the file in errors.
pub fn decode_images(path: &Path, raw: Vec<u8>) -> Result<IdxImages> {
    let (dims, pixels) = read_idx(path, &raw[..], IMAGES_MAGIC, "images")?;
    Ok(images_from(dims, pixels))
}

/// Reads an IDX file of labels (magic `0x00000801`), gzipped or not.
pub fn read_labels(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    let path = path.as_ref();
    Ok(read_idx(path, open(path)?, LABELS_MAGIC, "labels")?.1)
}

/// Decodes the bytes of an IDX file of labels, gzipped or not; `path` only
/// names the file in errors.
pub fn decode_labels(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>> {
    Ok(read_idx(path, &raw[..], LABELS_MAGIC, "labels")?.1)
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
        std::io::Write::write_all(&mut enc, &bytes).map_err(|e| Error::write(path, e))?;
        enc.finish().map_err(|e| Error::write(path, e))?
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

impl super::Mnist {
    /// Writes the four IDX files (gzipped) into `dir`, under the names of
    /// [`IDX_FILES`](super::IDX_FILES): MNIST fetched once from the Hub can then be shared
    /// with machines without a network (set `MNIST_DIR` to `dir` there).
    pub fn save_idx(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let splits = [
            (&self.train_images, &self.train_labels),
            (&self.test_images, &self.test_labels),
        ];
        for (k, (images, labels)) in splits.into_iter().enumerate() {
            let (n, _, rows, cols) = images.dims4()?;
            let pixels = super::to_bytes(images)?;
            let images = IdxImages {
                count: n,
                rows,
                cols,
                pixels,
            };
            write_images(dir.join(format!("{}.gz", super::IDX_FILES[2 * k])), &images)?;
            let labels = labels.to_dtype(candle_core::DType::U8)?.to_vec1::<u8>()?;
            write_labels(
                dir.join(format!("{}.gz", super::IDX_FILES[2 * k + 1])),
                &labels,
            )?;
        }
        Ok(())
    }
}
