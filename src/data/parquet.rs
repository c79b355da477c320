//! MNIST in the Hugging Face Hub's parquet layout, read in bounded memory.
//!
//! One parquet file per split, with two columns: `image`, a struct
//! `{bytes: PNG, path}`, and `label`, an `int64` (the layout of `ylecun/mnist`
//! at `refs/convert/parquet`; [`super::hub`] fetches those files).
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

/// The sizes a parquet page header announces: the fields 2
/// (`uncompressed_page_size`) and 3 (`compressed_page_size`) of the thrift
/// struct `PageHeader`, and the header's own length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PageSizes {
    uncompressed: u64,
    compressed: u64,
    header_len: u64,
}

impl PageSizes {
    fn read(r: impl Read) -> std::io::Result<Self> {
        let mut c = Compact { r, read: 0 };
        let (mut uncompressed, mut compressed) = (None, None);
        let mut id = 0i64;
        loop {
            let b = c.byte()?;
            if b == 0 {
                break;
            }
            let ty = b & 0x0f;
            id = match b >> 4 {
                0 => c.zigzag()?,
                delta => id + i64::from(delta),
            };
            match (id, ty) {
                (2, I32) => uncompressed = Some(c.zigzag()?),
                (3, I32) => compressed = Some(c.zigzag()?),
                _ => c.skip(ty, 0)?,
            }
        }
        let size = |v: Option<i64>, what: &str| {
            v.and_then(|v| u64::try_from(v).ok()).ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("no valid {what} page size"),
                )
            })
        };
        Ok(Self {
            uncompressed: size(uncompressed, "uncompressed")?,
            compressed: size(compressed, "compressed")?,
            header_len: c.read,
        })
    }
}

/// Thrift compact-protocol type codes.
const BOOL_TRUE: u8 = 1;
const BOOL_FALSE: u8 = 2;
const BYTE: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const DOUBLE: u8 = 7;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const SET: u8 = 10;
const MAP: u8 = 11;
const STRUCT: u8 = 12;
const UUID: u8 = 13;

/// A thrift compact-protocol reader that skips what it does not need. Every
/// value takes at least one byte, so a hostile header cannot loop for longer
/// than its bytes last; nesting deeper than 32 is refused.
struct Compact<R> {
    r: R,
    read: u64,
}

impl<R: Read> Compact<R> {
    fn byte(&mut self) -> std::io::Result<u8> {
        let mut b = [0u8];
        self.r.read_exact(&mut b)?;
        self.read += 1;
        Ok(b[0])
    }

    fn varint(&mut self) -> std::io::Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(invalid("a varint longer than 10 bytes"))
    }

    fn zigzag(&mut self) -> std::io::Result<i64> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn skip_bytes(&mut self, n: u64) -> std::io::Result<()> {
        let skipped = std::io::copy(&mut (&mut self.r).take(n), &mut std::io::sink())?;
        self.read += skipped;
        if skipped < n {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }

    /// Skips a value of type `ty` that is a struct field (booleans carry
    /// their value in the type).
    fn skip(&mut self, ty: u8, depth: usize) -> std::io::Result<()> {
        match ty {
            BOOL_TRUE | BOOL_FALSE => Ok(()),
            _ => self.skip_value(ty, depth),
        }
    }

    /// Skips a value of type `ty` inside a list, set or map.
    fn skip_value(&mut self, ty: u8, depth: usize) -> std::io::Result<()> {
        if depth > 32 {
            return Err(invalid("nested too deeply"));
        }
        match ty {
            BOOL_TRUE | BOOL_FALSE | BYTE => self.byte().map(drop),
            I16 | I32 | I64 => self.varint().map(drop),
            DOUBLE => self.skip_bytes(8),
            UUID => self.skip_bytes(16),
            BINARY => {
                let n = self.varint()?;
                self.skip_bytes(n)
            }
            LIST | SET => {
                let head = self.byte()?;
                let n = match head >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                (0..n).try_for_each(|_| self.skip_value(head & 0x0f, depth + 1))
            }
            MAP => {
                let n = self.varint()?;
                if n == 0 {
                    return Ok(());
                }
                let types = self.byte()?;
                (0..n).try_for_each(|_| {
                    self.skip_value(types >> 4, depth + 1)?;
                    self.skip_value(types & 0x0f, depth + 1)
                })
            }
            STRUCT => loop {
                let b = self.byte()?;
                if b == 0 {
                    return Ok(());
                }
                if b >> 4 == 0 {
                    self.zigzag()?;
                }
                self.skip(b & 0x0f, depth + 1)?;
            },
            other => Err(invalid(&format!("unknown thrift type {other}"))),
        }
    }
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page header as parquet writers put it: type DATA_PAGE (0), sizes
    /// 300 and 120, then a data_page_header struct {num_values 5, encoding 0,
    /// def 3, rep 3, statistics {max: binary "ab"}} and a crc; bytes worked
    /// out by hand from the thrift compact protocol.
    const HEADER: [u8; 20] = [
        0x15, 0x00, // field 1, i32: type 0
        0x15, 0xd8, 0x04, // field 2, i32: zigzag(300) = 600
        0x15, 0xf0, 0x01, // field 3, i32: zigzag(120) = 240
        0x2c, // field 5 (delta 2), struct
        0x15, 0x0a, // field 1, i32: 5
        0x15, 0x00, 0x15, 0x06, 0x15, 0x06, // fields 2, 3, 4
        0x1c, // field 5, struct (statistics)
        0x18, 0x02, // field 1, binary of 2 bytes ...
    ];

    #[test]
    fn page_sizes_come_from_fields_2_and_3_and_the_header_length_is_exact() {
        let mut bytes = HEADER.to_vec();
        bytes.extend_from_slice(b"ab"); // ... "ab"
        bytes.extend_from_slice(&[0x00, 0x00]); // end of statistics, of data_page_header
        bytes.extend_from_slice(&[0x05, 0x08, 0x0e]); // field 4 (crc, long form), i32: 7
        bytes.push(0x00); // end of the page header
        let header_len = bytes.len() as u64;
        bytes.extend_from_slice(&[0xff; 120]); // the page itself
        let sizes = PageSizes::read(&bytes[..]).unwrap();
        assert_eq!(
            sizes,
            PageSizes {
                uncompressed: 300,
                compressed: 120,
                header_len
            }
        );
    }

    #[test]
    fn truncated_negative_and_deeply_nested_headers_are_refused() {
        assert!(PageSizes::read(&HEADER[..7]).is_err());
        // compressed size -1 (zigzag 1)
        let negative = [0x15, 0x00, 0x15, 0x02, 0x15, 0x01, 0x00];
        assert!(PageSizes::read(&negative[..]).is_err());
        // 40 nested structs
        let mut deep = vec![0x1c; 40];
        deep.extend(vec![0x00; 41]);
        let err = PageSizes::read(&deep[..]).unwrap_err();
        assert!(err.to_string().contains("nested"), "{err}");
        // a list announcing 2^40 elements but holding 3 bytes
        let list = [
            0x19, 0xf5, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0x01, 0x02, 0x03,
        ];
        assert!(PageSizes::read(&list[..]).is_err());
    }
}
