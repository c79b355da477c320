//! The one thing this crate reads of parquet's thrift metadata itself: the
//! sizes in a page header, before the page is decompressed (see
//! [`super::parquet`], which checks them against its limits).
//!
//! A page header is a thrift struct in the *compact protocol*: each field a
//! byte holding its type (low four bits) and the step from the previous
//! field's id (high four bits; 0 means the id follows as a zigzag varint),
//! then its value; integers are zigzag varints, a struct ends with a 0 byte.
//! [`PageSizes::read`] keeps fields 2 and 3 and skips every other value,
//! whatever its type, without allocating by what the bytes announce.

use std::io::Read;

/// The sizes a parquet page header announces: the fields 2
/// (`uncompressed_page_size`) and 3 (`compressed_page_size`) of the thrift
/// struct `PageHeader`, and the header's own length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSizes {
    /// The page's size once decompressed (`uncompressed_page_size`).
    pub uncompressed: u64,
    /// The page's size in the file, after the header (`compressed_page_size`).
    pub compressed: u64,
    /// The header's own length in bytes.
    pub header_len: u64,
}

impl PageSizes {
    /// Reads one page header from `r`: an error where the bytes end early,
    /// a size is missing or negative, or structs nest deeper than 32.
    pub fn read(r: impl Read) -> std::io::Result<Self> {
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
