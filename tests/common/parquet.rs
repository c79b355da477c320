//! Parquet files in the Hub's MNIST schema, written by the tests themselves.

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use std::path::Path;
use std::sync::Arc;

/// The schema of `ylecun/mnist` at `refs/convert/parquet`.
pub const HUB_SCHEMA: &str = "message schema {
    optional group image {
        optional binary bytes;
        optional binary path (STRING);
    }
    optional int64 label;
}";

pub fn png_of_digit(label: u8) -> Vec<u8> {
    let img = image::GrayImage::from_fn(28, 28, |x, y| {
        image::Luma([(x * 9 + y + label as u32 * 20) as u8])
    });
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// Writes a parquet file with the Hub's MNIST schema (or `schema`), one row per label.
pub fn write_parquet(path: &Path, schema: &str, pngs: &[Vec<u8>], labels: &[i64]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let file = std::fs::File::create(path).unwrap();
    let schema = Arc::new(parse_message_type(schema).unwrap());
    let mut writer = SerializedFileWriter::new(file, schema, Arc::new(props)).unwrap();
    let mut rg = writer.next_row_group().unwrap();
    let n = labels.len();
    let mut column = 0;
    while let Some(mut col) = rg.next_column().unwrap() {
        match column {
            0 => {
                let values: Vec<ByteArray> =
                    pngs.iter().map(|p| ByteArray::from(p.clone())).collect();
                col.typed::<ByteArrayType>()
                    .write_batch(&values, Some(&vec![2; n]), None)
                    .unwrap();
            }
            1 => {
                // path: null inside a present image struct.
                col.typed::<ByteArrayType>()
                    .write_batch(&[], Some(&vec![1; n]), None)
                    .unwrap();
            }
            _ => {
                col.typed::<Int64Type>()
                    .write_batch(labels, Some(&vec![1; n]), None)
                    .unwrap();
            }
        }
        col.close().unwrap();
        column += 1;
    }
    rg.close().unwrap();
    writer.close().unwrap();
}
