//! The Hub loader, against an hf-hub cache that the test builds itself, in the
//! Hub's schema: no network is used.
#![cfg(feature = "hub")]

mod common;

use common::parquet::{png_of_digit, write_parquet, HUB_SCHEMA};
use filters_are_weights::data::hub::{self, HubOptions};
use filters_are_weights::data::{Dataset, Mnist};
use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An hf-hub cache holding MNIST in the Hub's layout, `n` rows per split.
fn build_cache(root: &Path, n: usize) -> PathBuf {
    build_cache_of(Dataset::Mnist, root, n)
}

/// An hf-hub cache holding `dataset` in the Hub's layout, `n` rows per
/// split: `datasets--<owner>--<name>/refs/...` and `.../snapshots/<sha>/<file>`.
fn build_cache_of(dataset: Dataset, root: &Path, n: usize) -> PathBuf {
    let layout = dataset.hub();
    let repo = root.join(format!("datasets--{}", layout.repo.replace('/', "--")));
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let refs = repo.join("refs/refs/convert");
    std::fs::create_dir_all(&refs).unwrap();
    std::fs::write(refs.join("parquet"), sha).unwrap();
    let labels: Vec<i64> = (0..n as i64).map(|i| i % 10).collect();
    let pngs: Vec<Vec<u8>> = labels.iter().map(|&l| png_of_digit(l as u8)).collect();
    for file in [layout.train_file, layout.test_file] {
        write_parquet(
            &repo.join("snapshots").join(sha).join(file),
            HUB_SCHEMA,
            &pngs,
            &labels,
        );
    }
    root.to_path_buf()
}

fn offline(cache: &Path) -> HubOptions {
    HubOptions {
        cache_dir: Some(cache.to_path_buf()),
        offline: true,
        ..Default::default()
    }
}

#[test]
fn fashion_mnist_is_read_from_its_own_hub_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let cache = build_cache_of(Dataset::FashionMnist, dir.path(), 12);
    let fashion = HubOptions {
        dataset: Dataset::FashionMnist,
        ..offline(&cache)
    };
    let m = Mnist::from_hub(&fashion).unwrap();
    assert_eq!(m.dataset, Dataset::FashionMnist);
    assert_eq!(m.train_images.dims(), &[12, 1, 28, 28]);
    assert_eq!(m.test_labels.to_vec1::<u8>().unwrap()[9], 9);
    assert!(m.source.contains("zalando-datasets/fashion_mnist"), "{m}");
    assert!(m.to_string().starts_with("Fashion-MNIST from"), "{m}");
    // The cache holds Fashion-MNIST only: MNIST is not taken from it.
    let msg = Mnist::from_hub(&offline(&cache)).unwrap_err().to_string();
    assert!(
        msg.starts_with("MNIST is not in the Hugging Face cache"),
        "{msg}"
    );
    // And the other way round, the message names this data set's ways.
    let mnist_only = tempfile::tempdir().unwrap();
    build_cache(mnist_only.path(), 3);
    let fashion = HubOptions {
        dataset: Dataset::FashionMnist,
        ..offline(mnist_only.path())
    };
    let msg = Mnist::from_hub(&fashion).unwrap_err().to_string();
    assert!(
        msg.contains("Fashion-MNIST is not in the Hugging Face cache"),
        "{msg}"
    );
    assert!(
        msg.contains("FASHION_MNIST_DIR") && msg.contains("apt install dataset-fashion-mnist"),
        "{msg}"
    );
}

#[test]
fn a_filled_cache_is_read_offline() {
    let dir = tempfile::tempdir().unwrap();
    let cache = build_cache(dir.path(), 23);
    let m = Mnist::from_hub(&offline(&cache)).unwrap();
    assert_eq!(m.train_images.dims(), &[23, 1, 28, 28]);
    assert_eq!(
        m.test_labels.to_vec1::<u8>().unwrap()[..12],
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    );
    // Pixel (x=3, y=2) of the digit labelled 1: 3*9 + 2 + 20 = 49.
    let px = m
        .train_images
        .get(1)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<u8>()
        .unwrap();
    assert_eq!(px[2 * 28 + 3], 49);
    assert!(m.source.contains("ylecun/mnist"));
}

#[test]
fn a_filled_cache_needs_no_network_even_when_online() {
    let dir = tempfile::tempdir().unwrap();
    let cache = build_cache(dir.path(), 5);
    let options = HubOptions {
        cache_dir: Some(cache),
        endpoint: Some("http://127.0.0.1:9".into()),
        ..Default::default()
    };
    assert_eq!(Mnist::from_hub(&options).unwrap().train_len(), 5);
}

#[test]
fn a_missing_cache_offline_says_how_to_get_mnist() {
    let dir = tempfile::tempdir().unwrap();
    let msg = Mnist::from_hub(&offline(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("not in the Hugging Face cache"), "{msg}");
    assert!(
        msg.contains("MNIST_DIR") && msg.contains("train-images-idx3-ubyte.gz"),
        "{msg}"
    );
}

#[test]
fn a_missing_cache_without_network_says_how_to_get_mnist() {
    // Port 9 on loopback: the download is really tried, and refused at once.
    let dir = tempfile::tempdir().unwrap();
    let options = HubOptions {
        cache_dir: Some(dir.path().to_path_buf()),
        endpoint: Some("http://127.0.0.1:9".into()),
        ..Default::default()
    };
    let msg = Mnist::from_hub(&options).unwrap_err().to_string();
    assert!(msg.contains("could not be downloaded"), "{msg}");
    assert!(msg.contains("MNIST_DIR"), "{msg}");
    assert!(!msg.contains('\n'), "one clear message, not a stack: {msg}");
}

#[test]
fn bad_parquet_content_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("other.parquet");
    let other = "message schema { optional binary text (STRING); optional int64 label; }";
    {
        std::fs::create_dir_all(dir.path()).unwrap();
        let file = std::fs::File::create(&p).unwrap();
        let schema = Arc::new(parse_message_type(other).unwrap());
        let mut w = SerializedFileWriter::new(file, schema, Default::default()).unwrap();
        let mut rg = w.next_row_group().unwrap();
        let mut c = rg.next_column().unwrap().unwrap();
        c.typed::<ByteArrayType>()
            .write_batch(&[ByteArray::from("x")], Some(&[1]), None)
            .unwrap();
        c.close().unwrap();
        let mut c = rg.next_column().unwrap().unwrap();
        c.typed::<Int64Type>()
            .write_batch(&[1], Some(&[1]), None)
            .unwrap();
        c.close().unwrap();
        rg.close().unwrap();
        w.close().unwrap();
    }
    let msg = hub::read_parquet(&p).unwrap_err().to_string();
    assert!(
        msg.contains("other.parquet") && msg.contains("image.bytes"),
        "{msg}"
    );

    let p = dir.path().join("bad-png.parquet");
    write_parquet(
        &p,
        HUB_SCHEMA,
        &[png_of_digit(1), b"not a png".to_vec()],
        &[1, 2],
    );
    let msg = hub::read_parquet(&p).unwrap_err().to_string();
    assert!(
        msg.contains("bad-png.parquet") && msg.contains("row 1") && msg.contains("decodable"),
        "{msg}"
    );

    let p = dir.path().join("bad-label.parquet");
    write_parquet(&p, HUB_SCHEMA, &[png_of_digit(1)], &[12]);
    let msg = hub::read_parquet(&p).unwrap_err().to_string();
    assert!(msg.contains("label 12"), "{msg}");

    let p = dir.path().join("not.parquet");
    std::fs::write(&p, b"PAR1 but no").unwrap();
    let msg = hub::read_parquet(&p).unwrap_err().to_string();
    assert!(
        msg.contains("not.parquet") && msg.contains("not a readable parquet"),
        "{msg}"
    );
}

/// The fuzzer's seed, a small valid file in the Hub's schema (so that
/// fuzzing starts from inputs the loader accepts), is what this writer makes
/// and the loader reads it. `FAW_WRITE_FUZZ_SEED=1` writes it anew into
/// `fuzz/seeds/parquet/` (after a change to the schema).
#[test]
fn the_parquet_fuzz_seed_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub-schema.parquet");
    let pngs = [png_of_digit(3), png_of_digit(7)];
    write_parquet(&path, HUB_SCHEMA, &pngs, &[3, 7]);
    assert_eq!(hub::read_parquet(&path).unwrap().1, [3, 7]);
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/parquet/hub-schema.parquet");
    assert_eq!(
        hub::read_parquet(&seed).unwrap().1,
        [3, 7],
        "the committed seed"
    );
    if std::env::var_os("FAW_WRITE_FUZZ_SEED").is_some() {
        std::fs::copy(&path, &seed).unwrap();
    }
}

#[test]
fn the_page_fetches_the_files_hf_hub_fetches() {
    for dataset in Dataset::ALL {
        let layout = dataset.hub();
        let revision = layout.revision.replace('/', "%2F");
        assert_eq!(
            layout.resolve_url,
            format!(
                "https://huggingface.co/datasets/{}/resolve/{revision}",
                layout.repo
            )
        );
    }
}
