//! MNIST in the Hugging Face Hub's parquet layout, read in bounded memory.
//!
//! One parquet file per split, with two columns: `image`, a struct
//! `{bytes: PNG, path}`, and `label`, an `int64` (the layout of `ylecun/mnist`
//! and `zalando-datasets/fashion_mnist` at `refs/convert/parquet`;
//! [`super::hub`] fetches those files).
//!
//! A parquet file says how big its pages become once decompressed, and a
//! PNG how big its picture is; a small corrupt or hostile file can announce
//! gigabytes. Before anything is decompressed, every page header is read
//! and checked against these limits (MNIST's training file is about 20 MB):
//!
//! | what | limit |
//! |---|---|
//! | one page, decompressed | [`MAX_PAGE_BYTES`] (64 MiB) |
//! | all pages of the file, decompressed | [`MAX_FILE_BYTES`] (1 GiB) |
//! | one picture | [`MAX_DIGIT_SIDE`] pixels a side (MNIST's are 28) |
//! | all pictures' pixels | [`MAX_PIXEL_BYTES`] (512 MiB; MNIST's are 47 MB) |

use super::idx::IdxImages;
use super::thrift::PageSizes;
use crate::error::{Error, Result};
use ::parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use ::parquet::file::reader::{ChunkReader, FileReader, SerializedFileReader};
use ::parquet::record::Field;
use std::io::Read;
use std::path::Path;

/// The most bytes one page of a parquet file may decompress to.
pub const MAX_PAGE_BYTES: u64 = 64 << 20;
/// The most bytes all pages of a parquet file may decompress to.
pub const MAX_FILE_BYTES: u64 = 1 << 30;
/// The longest side, in pixels, of a picture inside the file.
pub const MAX_DIGIT_SIDE: u32 = 256;
/// The most pixels (bytes, in 8-bit grayscale) all pictures may hold together.
pub const MAX_PIXEL_BYTES: usize = 512 << 20;

/// Reads one split of MNIST from a parquet file in the Hub's layout: decodes
/// every PNG to 8-bit grayscale and checks every label, within the limits
/// above.
///
/// The parquet crate panics on some corrupt files (fuzzing found one whose
/// column chunk starts at a negative offset); such a panic is caught and
/// returned as an error that names the file.
pub fn read_parquet(path: impl AsRef<Path>) -> Result<(IdxImages, Vec<u8>)> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    read_parquet_from(path, file)
}

/// [`read_parquet`] on any source of parquet bytes (a file, or
/// `bytes::Bytes` in memory); `path` only names it in errors.
pub fn read_parquet_from<R: ChunkReader + 'static>(
    path: &Path,
    source: R,
) -> Result<(IdxImages, Vec<u8>)> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        read_unguarded(path, source)
    }))
    .unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no reason given".into());
        Err(Error::bad_data(
            path,
            format!(
                "the parquet reader broke down on it ({why}): the file is corrupt; \
                 delete it from the cache and download again"
            ),
        ))
    })
}

fn read_unguarded<R: ChunkReader + 'static>(
    path: &Path,
    source: R,
) -> Result<(IdxImages, Vec<u8>)> {
    let bad = |problem: String| Error::bad_data(path, problem);
    let unreadable = |e: ::parquet::errors::ParquetError| {
        bad(format!(
            "not a readable parquet file ({e}); delete it from the cache and download again"
        ))
    };
    let metadata = ParquetMetaDataReader::new()
        .parse_and_finish(&source)
        .map_err(unreadable)?;
    check_pages(path, &metadata, &source)?;
    let reader = SerializedFileReader::new(source).map_err(unreadable)?;
    let schema = reader.metadata().file_metadata().schema_descr();
    let columns: Vec<String> = schema.columns().iter().map(|c| c.path().string()).collect();
    if !columns.iter().any(|c| c == "image.bytes") || !columns.iter().any(|c| c == "label") {
        return Err(bad(format!(
            "expected the Hub's MNIST columns image.bytes and label, found {columns:?}"
        )));
    }
    let rows = reader
        .get_row_iter(None)
        .map_err(|e| bad(format!("cannot read rows: {e}")))?;
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    let (mut height, mut width) = (0, 0);
    for (i, row) in rows.enumerate() {
        let row = row.map_err(|e| bad(format!("row {i} is unreadable: {e}")))?;
        let (mut png, mut label) = (None, None);
        for (name, field) in row.get_column_iter() {
            match (name.as_str(), field) {
                ("image", Field::Group(image)) => {
                    for (inner, value) in image.get_column_iter() {
                        if let ("bytes", Field::Bytes(b)) = (inner.as_str(), value) {
                            png = Some(b.data());
                        }
                    }
                }
                ("label", Field::Long(l)) => label = Some(*l),
                ("label", Field::Int(l)) => label = Some(i64::from(*l)),
                _ => {}
            }
        }
        let png = png.ok_or_else(|| bad(format!("row {i} has no image bytes")))?;
        let label = label.ok_or_else(|| bad(format!("row {i} has no integer label")))?;
        if !(0..10).contains(&label) {
            return Err(bad(format!("row {i}: label {label} is not a digit 0..9")));
        }
        let img = decode_digit(png).map_err(|e| bad(format!("row {i}: {e}")))?;
        if i == 0 {
            (height, width) = (img.height() as usize, img.width() as usize);
        } else if (img.height() as usize, img.width() as usize) != (height, width) {
            return Err(bad(format!(
                "row {i}: image is {}x{}, earlier ones were {width}x{height}",
                img.width(),
                img.height()
            )));
        }
        if pixels.len() + img.as_raw().len() > MAX_PIXEL_BYTES {
            return Err(bad(format!(
                "row {i}: the pictures so far hold more than {MAX_PIXEL_BYTES} bytes of \
                 pixels, more than this reader accepts: this is not an MNIST-format file"
            )));
        }
        pixels.extend_from_slice(img.as_raw());
        labels.push(label as u8);
    }
    let images = IdxImages {
        count: labels.len(),
        rows: height,
        cols: width,
        pixels,
    };
    Ok((images, labels))
}

/// One picture from the file, as 8-bit grayscale, refused before decoding
/// when it announces more than [`MAX_DIGIT_SIDE`] pixels a side.
fn decode_digit(bytes: &[u8]) -> std::result::Result<image::GrayImage, String> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("the image is not a decodable picture ({e})"))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_DIGIT_SIDE);
    limits.max_image_height = Some(MAX_DIGIT_SIDE);
    limits.max_alloc = Some(4 << 20);
    reader.limits(limits);
    match reader.decode() {
        Ok(img) => Ok(img.to_luma8()),
        Err(image::ImageError::Limits(e)) => Err(format!(
            "the image is larger than {MAX_DIGIT_SIDE}x{MAX_DIGIT_SIDE} pixels ({e}): \
             not an MNIST-format digit"
        )),
        Err(e) => Err(format!("the image is not a decodable picture ({e})")),
    }
}

/// Reads every page header of every column chunk, before any page is
/// decompressed, and refuses the file if a page (or all of them together)
/// would decompress to more than [`MAX_PAGE_BYTES`] ([`MAX_FILE_BYTES`]).
fn check_pages<R: ChunkReader>(path: &Path, metadata: &ParquetMetaData, source: &R) -> Result<()> {
    let bad = |problem: String| Error::bad_data(path, problem);
    let file_len = source.len();
    let mut total = 0u64;
    for (g, group) in metadata.row_groups().iter().enumerate() {
        for column in group.columns() {
            let start = column
                .dictionary_page_offset()
                .unwrap_or(column.data_page_offset());
            let size = column.compressed_size();
            let (start, len) = match (u64::try_from(start), u64::try_from(size)) {
                (Ok(s), Ok(l)) if s.checked_add(l).is_some_and(|end| end <= file_len) => (s, l),
                _ => {
                    return Err(bad(format!(
                        "row group {g}: a column chunk lies outside the file (offset {start}, \
                         {} bytes): the file is corrupt; delete it and download again",
                        column.compressed_size()
                    )))
                }
            };
            let end = start + len;
            let mut offset = start;
            while offset < end {
                let read = source
                    .get_read(offset)
                    .map_err(|e| bad(format!("cannot read the page at byte {offset} ({e})")))?;
                let page = PageSizes::read(read.take(end - offset)).map_err(|e| {
                    bad(format!(
                        "the page header at byte {offset} is unreadable ({e}): the file is \
                         corrupt; delete it and download again"
                    ))
                })?;
                if page.uncompressed > MAX_PAGE_BYTES {
                    return Err(bad(format!(
                        "the page at byte {offset} announces {} bytes once decompressed, more \
                         than the {MAX_PAGE_BYTES} this reader accepts in one page: this is \
                         not an MNIST parquet file",
                        page.uncompressed
                    )));
                }
                total += page.uncompressed;
                if total > MAX_FILE_BYTES {
                    return Err(bad(format!(
                        "its pages announce more than {MAX_FILE_BYTES} bytes once \
                         decompressed, more than this reader accepts: this is not an MNIST \
                         parquet file"
                    )));
                }
                offset += page.header_len + page.compressed;
            }
        }
    }
    Ok(())
}
