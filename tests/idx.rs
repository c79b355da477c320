//! The IDX reader: round trips, and every kind of bad file named in its error.

mod common;

use filters_are_weights::data::idx::{self, IdxImages};
use filters_are_weights::data::Mnist;
use std::path::Path;

fn err_of<T: std::fmt::Debug>(r: filters_are_weights::Result<T>) -> String {
    r.expect_err("expected an error").to_string()
}

#[test]
fn images_and_labels_round_trip_plain_and_gzipped() {
    let dir = tempfile::tempdir().unwrap();
    let (images, labels) = common::synthetic(7);
    for name in ["imgs-idx3-ubyte", "imgs-idx3-ubyte.gz"] {
        let p = dir.path().join(name);
        idx::write_images(&p, &images).unwrap();
        assert_eq!(idx::read_images(&p).unwrap(), images);
    }
    let p = dir.path().join("labels.gz");
    idx::write_labels(&p, &labels).unwrap();
    assert!(std::fs::read(&p).unwrap().starts_with(&[0x1f, 0x8b]));
    assert_eq!(idx::read_labels(&p).unwrap(), labels);
}

#[test]
fn a_directory_of_idx_files_becomes_tensors() {
    for gz in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        common::write_mnist_dir(dir.path(), 30, 12, gz);
        let m = Mnist::from_dir(dir.path()).unwrap();
        assert_eq!(m.train_images.dims(), &[30, 1, 28, 28]);
        assert_eq!(m.test_labels.dims(), &[12]);
        assert_eq!(m.train_labels.dtype(), candle_core::DType::U8);
        assert_eq!(m.train_images.dtype(), candle_core::DType::U8);
        let px = m
            .train_images
            .flatten_all()
            .unwrap()
            .to_vec1::<u8>()
            .unwrap();
        assert_eq!(px[1], 37);
        assert_eq!(m.class_counts().unwrap(), [3; 10]);
        let sub = m.subset(10, 5).unwrap();
        assert_eq!((sub.train_len(), sub.test_len()), (10, 5));
    }
}

#[test]
fn the_dotted_names_of_some_mirrors_are_found_too() {
    let dir = tempfile::tempdir().unwrap();
    common::write_mnist_dir(dir.path(), 10, 10, false);
    for base in filters_are_weights::data::IDX_FILES {
        let dotted = base.replacen("-idx", ".idx", 1);
        std::fs::rename(dir.path().join(base), dir.path().join(dotted)).unwrap();
    }
    assert_eq!(Mnist::from_dir(dir.path()).unwrap().train_len(), 10);
}

fn write_raw(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn bad_files_are_named_with_their_problem() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (images, _) = common::synthetic(2);
    let good = {
        let p = d.join("good");
        idx::write_images(&p, &images).unwrap();
        std::fs::read(&p).unwrap()
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "the file is empty"),
        ("short-header", good[..10].to_vec(), "truncated"),
        ("truncated", good[..good.len() - 5].to_vec(), "truncated"),
        (
            "extra",
            [good.clone(), vec![0; 3]].concat(),
            "count mismatch",
        ),
        (
            "labels-magic",
            [&[0, 0, 8, 1][..], &good[4..]].concat(),
            "wrong magic number 0x00000801",
        ),
        (
            "text",
            b"hello, this is not IDX".to_vec(),
            "wrong magic number",
        ),
        (
            "bad-gzip",
            vec![0x1f, 0x8b, 8, 0, 1, 2, 3],
            "gzip data is corrupt",
        ),
    ];
    for (name, bytes, expected) in cases {
        let p = write_raw(d, name, &bytes);
        let msg = err_of(idx::read_images(&p));
        assert!(
            msg.contains(name),
            "{name}: message does not name the file: {msg}"
        );
        assert!(msg.contains(expected), "{name}: {msg}");
    }
    let msg = err_of(idx::read_labels(d.join("good")));
    assert!(msg.contains("wrong magic number 0x00000803"), "{msg}");
}

#[test]
fn mismatched_or_missing_files_in_a_directory_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    common::write_mnist_dir(dir.path(), 10, 10, false);
    // Labels of another length than the images.
    idx::write_labels(dir.path().join("train-labels-idx1-ubyte"), &[1, 2, 3]).unwrap();
    let msg = err_of(Mnist::from_dir(dir.path()));
    assert!(
        msg.contains("train-labels-idx1-ubyte")
            && msg.contains("3 labels")
            && msg.contains("10 images"),
        "{msg}"
    );
    // A label that is no digit.
    idx::write_labels(
        dir.path().join("train-labels-idx1-ubyte"),
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 10],
    )
    .unwrap();
    let msg = err_of(Mnist::from_dir(dir.path()));
    assert!(msg.contains("label 10 at index 9 is out of range"), "{msg}");
    // Images of the wrong size.
    let small = IdxImages {
        count: 10,
        rows: 8,
        cols: 8,
        pixels: vec![0; 640],
    };
    idx::write_images(dir.path().join("t10k-images-idx3-ubyte"), &small).unwrap();
    idx::write_labels(dir.path().join("train-labels-idx1-ubyte"), &[0; 10]).unwrap();
    let msg = err_of(Mnist::from_dir(dir.path()));
    assert!(
        msg.contains("t10k-images-idx3-ubyte") && msg.contains("8x8"),
        "{msg}"
    );
    // A missing file, and a missing directory.
    std::fs::remove_file(dir.path().join("t10k-labels-idx1-ubyte")).unwrap();
    let msg = err_of(Mnist::from_dir(dir.path()));
    assert!(msg.contains("no t10k-labels-idx1-ubyte"), "{msg}");
    let msg = err_of(Mnist::from_dir("/no/such/mnist"));
    assert!(
        msg.contains("/no/such/mnist") && msg.contains("does not exist"),
        "{msg}"
    );
}

#[test]
fn shuffled_batches_cover_the_set_once_and_follow_the_seed() {
    use filters_are_weights::rng::Rng;
    let dir = tempfile::tempdir().unwrap();
    common::write_mnist_dir(dir.path(), 25, 5, false);
    let m = Mnist::from_dir(dir.path()).unwrap();
    let labels_of = |seed| -> Vec<Vec<u8>> {
        let batches = m.train_batches(10, &mut Rng::new(seed)).unwrap();
        assert_eq!(batches.num_batches(), 3);
        batches
            .map(|b| b.unwrap().1.to_vec1::<u8>().unwrap())
            .collect()
    };
    let a = labels_of(1);
    assert_eq!(a.iter().map(Vec::len).collect::<Vec<_>>(), vec![10, 10, 5]);
    assert_eq!(a, labels_of(1));
    assert_ne!(a, labels_of(2));
    let mut all: Vec<u8> = a.concat();
    all.sort();
    let mut expected: Vec<u8> = (0..25).map(|i| (i % 10) as u8).collect();
    expected.sort();
    assert_eq!(all, expected);
}

#[test]
fn a_loaded_mnist_saves_back_to_the_same_idx_files() {
    let dir = tempfile::tempdir().unwrap();
    let src = common::write_mnist_dir(&dir.path().join("src"), 30, 12, false);
    let mnist = Mnist::from_dir(&src).unwrap();
    let copy = dir.path().join("copy");
    mnist.save_idx(&copy).unwrap();
    for (base, (images, labels)) in [
        ("train", common::synthetic(30)),
        ("t10k", common::synthetic(12)),
    ] {
        let read = idx::read_images(copy.join(format!("{base}-images-idx3-ubyte.gz"))).unwrap();
        assert_eq!(read, images, "{base} images");
        let read = idx::read_labels(copy.join(format!("{base}-labels-idx1-ubyte.gz"))).unwrap();
        assert_eq!(read, labels, "{base} labels");
    }
}

#[test]
fn fashion_mnist_is_found_where_debian_installs_it() {
    use filters_are_weights::data::{Dataset, DEBIAN_FASHION_MNIST_DIR};
    let m = Mnist::load_dataset(Dataset::FashionMnist).unwrap_or_else(|e| {
        panic!(
            "this test needs Fashion-MNIST (apt install dataset-fashion-mnist puts it in \
             {DEBIAN_FASHION_MNIST_DIR}; or set FASHION_MNIST_DIR): {e}"
        )
    });
    assert_eq!(m.dataset, Dataset::FashionMnist);
    assert_eq!((m.train_len(), m.test_len()), (60000, 10000));
    assert_eq!(m.class_counts().unwrap(), [6000; 10]);
    // Fashion-MNIST's first training image is an ankle boot (label 9);
    // MNIST's is a 5: the other data set's files were not read instead.
    assert_eq!(m.train_labels.get(0).unwrap().to_scalar::<u8>().unwrap(), 9);
    assert!(
        m.to_string().starts_with("Fashion-MNIST from IDX files in"),
        "{m}"
    );
    // A directory named explicitly is taken to be the data set asked for.
    let dir = tempfile::tempdir().unwrap();
    common::write_mnist_dir(dir.path(), 10, 10, true);
    let named = Mnist::from_dir_of(Dataset::FashionMnist, dir.path()).unwrap();
    assert_eq!(
        (named.dataset, named.train_len()),
        (Dataset::FashionMnist, 10)
    );
    let missing = err_of(Mnist::from_dir_of(
        Dataset::FashionMnist,
        dir.path().join("no"),
    ));
    assert!(
        missing.contains("Fashion-MNIST directory") && missing.contains("FASHION_MNIST_DIR"),
        "{missing}"
    );
}

/// The data sets keep their images as bytes and scale each batch as it is
/// drawn: the model must see the same numbers, bit for bit, as from the
/// whole set scaled to f32 up front (as the crate kept it before), in the
/// same order for the same seed.
#[test]
fn batches_from_the_bytes_equal_batches_of_the_set_scaled_up_front() {
    use candle_core::{DType, Tensor};
    use filters_are_weights::data::Batches;
    use filters_are_weights::rng::Rng;
    let m = common::real_mnist().subset(3000, 1500).unwrap();
    assert_eq!(m.train_images.dtype(), DType::U8);
    let scaled = |t: &Tensor| (t.to_dtype(DType::F32).unwrap() / 255.0).unwrap();
    let bits = |t: &Tensor| -> Vec<u32> {
        let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        v.into_iter().map(f32::to_bits).collect()
    };
    let pairs = [
        (
            m.train_batches(128, &mut Rng::new(42)).unwrap(),
            Batches::new(
                &scaled(&m.train_images),
                &m.train_labels,
                128,
                Some(&mut Rng::new(42)),
            )
            .unwrap(),
        ),
        (
            m.test_batches(1000).unwrap(),
            Batches::new(&scaled(&m.test_images), &m.test_labels, 1000, None).unwrap(),
        ),
    ];
    let mut counted = Vec::new();
    for (from_bytes, up_front) in pairs {
        let mut n = 0;
        for (a, b) in from_bytes.zip(up_front) {
            let ((ax, ay), (bx, by)) = (a.unwrap(), b.unwrap());
            assert_eq!((ax.dtype(), ax.dims()), (DType::F32, bx.dims()));
            assert!(bits(&ax) == bits(&bx), "batch {n}: the pixels differ");
            assert_eq!(ay.to_vec1::<u8>().unwrap(), by.to_vec1::<u8>().unwrap());
            n += 1;
        }
        counted.push(n);
    }
    // 3,000 images in 24 batches of 128 (the last of 56); 1,500 in 2.
    assert_eq!(counted, [24, 2]);
}

/// MNIST's files asked for as Fashion-MNIST, and the reverse, are refused
/// with an error naming both (their first labels tell them apart); their
/// first images alone (a subset) are told apart too; data of one's own is
/// taken on its word.
#[test]
fn a_folder_holding_the_other_data_set_is_refused_naming_both() {
    use filters_are_weights::data::Dataset;
    use filters_are_weights::Error;
    let mnist = common::real_mnist();
    let fashion = Mnist::load_dataset(Dataset::FashionMnist)
        .expect("Fashion-MNIST (apt install dataset-fashion-mnist, or FASHION_MNIST_DIR)");
    for (data, asked, says) in [
        (
            &mnist,
            Dataset::FashionMnist,
            "these files hold MNIST, not Fashion-MNIST",
        ),
        (
            &fashion,
            Dataset::Mnist,
            "these files hold Fashion-MNIST, not MNIST",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        data.subset(100, 20).unwrap().save_idx(dir.path()).unwrap();
        let err = Mnist::from_dir_of(asked, dir.path()).unwrap_err();
        assert!(matches!(err, Error::WrongDataset { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains(says) && msg.contains(&dir.path().display().to_string()),
            "{msg}"
        );
        // Asked for as what it is, it reads.
        let right = if asked == Dataset::Mnist {
            Dataset::FashionMnist
        } else {
            Dataset::Mnist
        };
        assert_eq!(
            Mnist::from_dir_of(right, dir.path()).unwrap().train_len(),
            100
        );
    }
    let labels = |d: &Mnist| d.test_labels.to_vec1::<u8>().unwrap();
    assert_eq!(
        Dataset::recognise(&[], &labels(&mnist)),
        Some(Dataset::Mnist)
    );
    assert_eq!(
        Dataset::recognise(&[], &labels(&fashion)),
        Some(Dataset::FashionMnist)
    );
    // Shuffled, or one's own: neither.
    let mut shuffled = labels(&mnist)[..100].to_vec();
    shuffled.reverse();
    assert_eq!(Dataset::recognise(&shuffled, &shuffled), None);
    assert_eq!(Dataset::recognise(&[7, 2, 1], &[]), None, "too few to tell");
}
