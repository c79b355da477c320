//! Every kind of bad input the crate reads, in one table: each must fail with
//! a message that names the file (where there is one), says what is wrong and,
//! where it can, what to do. `cargo test --test bad_inputs -- --nocapture`
//! prints every message.

mod common;

use candle_core::{Device, Tensor};
use filters_are_weights::data::idx::{self, IdxImages};
use filters_are_weights::data::Mnist;
use filters_are_weights::kernels::load_picture;
use filters_are_weights::model::MnistCnn;
use filters_are_weights::train::{Progress, TrainConfig, Trainer};
use std::path::{Path, PathBuf};
use std::process::Command;

/// One bad input: what it is, how to feed it to the crate (giving the error
/// text), and the pieces of text the message must contain.
struct Case {
    what: &'static str,
    run: Box<dyn Fn(&Path) -> String>,
    expected: Vec<String>,
}

fn case(what: &'static str, expected: &[&str], run: impl Fn(&Path) -> String + 'static) -> Case {
    Case {
        what,
        run: Box::new(run),
        expected: expected.iter().map(|s| s.to_string()).collect(),
    }
}

fn err<T>(r: filters_are_weights::Result<T>) -> String {
    match r {
        Ok(_) => "(no error)".into(),
        Err(e) => e.to_string(),
    }
}

/// The bytes of a valid IDX images file of 2 synthetic digits.
fn good_idx_images(dir: &Path) -> Vec<u8> {
    let p = dir.join("good-images");
    idx::write_images(&p, &common::synthetic(2).0).unwrap();
    std::fs::read(p).unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// A directory of the four MNIST files (10 + 10 synthetic digits) changed by `change`.
fn mnist_dir(dir: &Path, name: &str, change: impl Fn(&Path)) -> PathBuf {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    common::write_mnist_dir(&d, 10, 10, false);
    change(&d);
    d
}

/// The command-line program's error output for `args`.
fn cli(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_filters-are-weights"))
        .args(args)
        .env("MNIST_DIR", "/no/such/mnist/dir")
        .output()
        .unwrap();
    assert!(!out.status.success(), "{args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn config(epochs: usize) -> TrainConfig {
    TrainConfig {
        progress: Progress::Silent,
        ..TrainConfig::with_epochs(epochs)
    }
}

fn idx_cases() -> Vec<Case> {
    let read = |name: &'static str, bytes: fn(&[u8]) -> Vec<u8>| {
        move |d: &Path| {
            let good = good_idx_images(d);
            err(idx::read_images(write(d, name, &bytes(&good))))
        }
    };
    vec![
        case(
            "IDX: empty file",
            &["empty-idx", "the file is empty"],
            read("empty-idx", |_| vec![]),
        ),
        case(
            "IDX: truncated header",
            &["short-header-idx", "truncated"],
            read("short-header-idx", |g| g[..10].to_vec()),
        ),
        case(
            "IDX: truncated pixels (half a download)",
            &["truncated-idx", "truncated"],
            read("truncated-idx", |g| g[..g.len() / 2].to_vec()),
        ),
        case(
            "IDX: bytes after the data",
            &["long-idx", "count mismatch"],
            read("long-idx", |g| [g, &[0u8; 3][..]].concat()),
        ),
        case(
            "IDX: wrong magic (a labels file read as images)",
            &["magic-idx", "wrong magic number 0x00000801"],
            read("magic-idx", |g| [&[0, 0, 8, 1][..], &g[4..]].concat()),
        ),
        case(
            "IDX: not IDX at all (text)",
            &["text-idx", "wrong magic number"],
            read("text-idx", |_| b"hello, this is not IDX".to_vec()),
        ),
        case(
            "IDX: corrupt gzip",
            &["corrupt-idx.gz", "gzip data is corrupt"],
            read("corrupt-idx.gz", |_| vec![0x1f, 0x8b, 8, 0, 1, 2, 3]),
        ),
        case(
            "IDX: images read as labels",
            &["good-images", "wrong magic number 0x00000803"],
            |d: &Path| {
                good_idx_images(d);
                err(idx::read_labels(d.join("good-images")))
            },
        ),
        case(
            "MNIST dir: images of the wrong dimensions",
            &["t10k-images-idx3-ubyte", "8x8"],
            |d: &Path| {
                let dir = mnist_dir(d, "small", |d| {
                    let small = IdxImages {
                        count: 10,
                        rows: 8,
                        cols: 8,
                        pixels: vec![0; 640],
                    };
                    idx::write_images(d.join("t10k-images-idx3-ubyte"), &small).unwrap();
                });
                err(Mnist::from_dir(dir))
            },
        ),
        case(
            "MNIST dir: images and labels counts differ",
            &["train-labels-idx1-ubyte", "3 labels", "10 images"],
            |d: &Path| {
                let dir = mnist_dir(d, "counts", |d| {
                    idx::write_labels(d.join("train-labels-idx1-ubyte"), &[1, 2, 3]).unwrap()
                });
                err(Mnist::from_dir(dir))
            },
        ),
        case(
            "MNIST dir: label out of range",
            &[
                "train-labels-idx1-ubyte",
                "label 10 at index 9 is out of range",
            ],
            |d: &Path| {
                let dir = mnist_dir(d, "label", |d| {
                    let labels = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10];
                    idx::write_labels(d.join("train-labels-idx1-ubyte"), &labels).unwrap()
                });
                err(Mnist::from_dir(dir))
            },
        ),
        case(
            "MNIST dir: a file missing",
            &["no t10k-labels-idx1-ubyte"],
            |d: &Path| {
                let dir = mnist_dir(d, "missing", |d| {
                    std::fs::remove_file(d.join("t10k-labels-idx1-ubyte")).unwrap()
                });
                err(Mnist::from_dir(dir))
            },
        ),
        case(
            "MNIST dir: the directory does not exist",
            &["/no/such/mnist", "does not exist"],
            |_: &Path| err(Mnist::from_dir("/no/such/mnist")),
        ),
    ]
}

#[cfg(feature = "hub")]
fn hub_cases() -> Vec<Case> {
    use common::parquet::{png_of_digit, write_parquet, HUB_SCHEMA};
    use filters_are_weights::data::hub::{read_parquet, HubOptions};
    vec![
        case(
            "parquet: other columns",
            &["other.parquet", "image.bytes"],
            |d: &Path| {
                let p = d.join("other.parquet");
                let other =
                    "message schema { optional group image { optional binary text (STRING); \
                             optional binary path (STRING); } optional int64 label; }";
                write_parquet(&p, other, &[b"x".to_vec()], &[1]);
                err(read_parquet(&p))
            },
        ),
        case(
            "parquet: an undecodable PNG",
            &["bad-png.parquet", "row 1", "decodable"],
            |d: &Path| {
                let p = d.join("bad-png.parquet");
                let pngs = [png_of_digit(1), b"not a png".to_vec()];
                write_parquet(&p, HUB_SCHEMA, &pngs, &[1, 2]);
                err(read_parquet(&p))
            },
        ),
        case(
            "parquet: label out of range",
            &["bad-label.parquet", "label 12"],
            |d: &Path| {
                let p = d.join("bad-label.parquet");
                write_parquet(&p, HUB_SCHEMA, &[png_of_digit(1)], &[12]);
                err(read_parquet(&p))
            },
        ),
        case(
            "parquet: not a parquet file (half a download)",
            &["not.parquet", "not a readable parquet"],
            |d: &Path| {
                let p = write(d, "not.parquet", b"PAR1 but no more");
                err(read_parquet(&p))
            },
        ),
        case(
            "Hub: offline and not in the cache",
            &[
                "not in the Hugging Face cache",
                "MNIST_DIR",
                "train-images-idx3-ubyte.gz",
            ],
            |d: &Path| {
                let options = HubOptions {
                    cache_dir: Some(d.join("empty-cache")),
                    offline: true,
                    ..Default::default()
                };
                err(Mnist::from_hub(&options))
            },
        ),
        case(
            "Hub: no network and not in the cache",
            &["could not be downloaded", "MNIST_DIR"],
            |d: &Path| {
                let options = HubOptions {
                    cache_dir: Some(d.join("empty-cache")),
                    endpoint: Some("http://127.0.0.1:9".into()),
                    ..Default::default()
                };
                let msg = err(Mnist::from_hub(&options));
                assert!(!msg.contains('\n'), "one message, not a stack: {msg}");
                msg
            },
        ),
    ]
}

#[cfg(not(feature = "hub"))]
fn hub_cases() -> Vec<Case> {
    Vec::new()
}

fn picture_cases() -> Vec<Case> {
    vec![
        case(
            "picture: wrong path",
            &["/no/such/picture.png", "no such file", "data/demo.png"],
            |_: &Path| err(load_picture("/no/such/picture.png")),
        ),
        case(
            "picture: not a picture",
            &["notes.png", "cannot decode it"],
            |d: &Path| err(load_picture(write(d, "notes.png", b"just some text"))),
        ),
        case(
            "picture: too small for a 3x3 kernel",
            &["tiny.png", "2x2, too small"],
            |d: &Path| {
                let p = d.join("tiny.png");
                image::GrayImage::new(2, 2).save(&p).unwrap();
                err(load_picture(&p))
            },
        ),
    ]
}

fn checkpoint_cases() -> Vec<Case> {
    vec![
        case(
            "model file: a model of another shape",
            &[
                "other-shape.safetensors",
                "conv1.kernel has shape [3, 3, 1, 16]",
            ],
            |d: &Path| {
                let p = d.join("other-shape.safetensors");
                let mut tensors = MnistCnn::new(1, &Device::Cpu).unwrap().named_tensors();
                let small = Tensor::zeros((3, 3, 1, 16), candle_core::DType::F32, &Device::Cpu);
                tensors.insert("conv1.kernel".into(), small.unwrap());
                candle_core::safetensors::save(&tensors, &p).unwrap();
                err(MnistCnn::load(&p, &Device::Cpu))
            },
        ),
        case(
            "model file: not safetensors (truncated)",
            &["cut.safetensors", "not a readable safetensors file"],
            |d: &Path| {
                let p = d.join("cut.safetensors");
                MnistCnn::new(1, &Device::Cpu).unwrap().save(&p).unwrap();
                let bytes = std::fs::read(&p).unwrap();
                std::fs::write(&p, &bytes[..bytes.len() / 3]).unwrap();
                err(MnistCnn::load(&p, &Device::Cpu))
            },
        ),
        case(
            "model file: missing",
            &["gone.safetensors", "no such file"],
            |d: &Path| err(MnistCnn::load(d.join("gone.safetensors"), &Device::Cpu)),
        ),
        case(
            "training checkpoint: a model-only file",
            &["model-only.safetensors", "no training state"],
            |d: &Path| {
                let p = d.join("model-only.safetensors");
                MnistCnn::new(1, &Device::Cpu).unwrap().save(&p).unwrap();
                err(Trainer::from_checkpoint(&p, &Device::Cpu))
            },
        ),
    ]
}

fn training_cases() -> Vec<Case> {
    let new = |c: TrainConfig| err(Trainer::new(MnistCnn::new(1, &Device::Cpu).unwrap(), c));
    vec![
        case(
            "config: epochs 0",
            &["epochs must be at least 1"],
            move |_: &Path| new(config(0)),
        ),
        case(
            "config: snapshot epochs beyond the run",
            &["snapshot epoch 5 is beyond the run's 3 epochs"],
            move |_: &Path| {
                new(TrainConfig {
                    snapshot_epochs: vec![1, 5],
                    ..config(3)
                })
            },
        ),
        case(
            "config: batch size 0",
            &["batch size must be at least 1"],
            move |_: &Path| {
                new(TrainConfig {
                    batch_size: 0,
                    ..config(1)
                })
            },
        ),
        case(
            "training: the loss becomes NaN",
            &["loss became NaN in epoch 1, batch 2", "learning rate"],
            |d: &Path| {
                let dir = d.join("nan-data");
                std::fs::create_dir_all(&dir).unwrap();
                common::write_mnist_dir(&dir, 512, 10, false);
                let data = Mnist::from_dir(&dir).unwrap();
                let mut c = config(1);
                c.optimizer.lr = f64::NAN;
                let mut t = Trainer::new(MnistCnn::new(1, &Device::Cpu).unwrap(), c).unwrap();
                err(t.run(&data))
            },
        ),
    ]
}

fn cli_cases() -> Vec<Case> {
    vec![
        case(
            "CLI: epochs 0",
            &["error: ", "epochs must be at least 1"],
            |_: &Path| cli(&["reproduce", "--epochs", "0"]),
        ),
        case(
            "CLI: not a number",
            &["'x' is not a valid number"],
            |_: &Path| cli(&["reproduce", "--epochs", "x"]),
        ),
        case(
            "CLI: snapshot epochs beyond the run",
            &["snapshot epoch 5 is beyond"],
            |_: &Path| cli(&["reproduce", "--epochs", "3", "--snapshot-epochs", "0,5"]),
        ),
        case(
            "CLI: unknown option",
            &["unknown option '--frobnicate'"],
            |_: &Path| cli(&["reproduce", "--frobnicate"]),
        ),
        case(
            "CLI: a data directory that does not exist",
            &["/no/such/dir does not exist"],
            |d: &Path| {
                let out = d.join("cli-out");
                cli(&[
                    "reproduce",
                    "--data-dir",
                    "/no/such/dir",
                    "--out",
                    out.to_str().unwrap(),
                ])
            },
        ),
        case(
            "CLI: a picture that does not exist",
            &["/no/such.png", "no such file"],
            |d: &Path| {
                let out = d.join("cli-out");
                cli(&[
                    "reproduce",
                    "--picture",
                    "/no/such.png",
                    "--out",
                    out.to_str().unwrap(),
                ])
            },
        ),
        case(
            "CLI: resume from a half-written checkpoint",
            &["checkpoint.safetensors", "not a readable safetensors file"],
            |d: &Path| {
                let data = mnist_dir(d, "cli-data", |_| {});
                let out = d.join("cli-resume-out");
                std::fs::create_dir_all(&out).unwrap();
                write(
                    &out,
                    "checkpoint.safetensors",
                    b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\":",
                );
                let (data, out) = (data.to_str().unwrap(), out.to_str().unwrap());
                cli(&[
                    "reproduce",
                    "--resume",
                    "--data-dir",
                    data,
                    "--out",
                    out,
                    "--quiet",
                ])
            },
        ),
        case(
            "CLI: analyze a file that is no model",
            &["notes.txt", "not a readable safetensors file"],
            |d: &Path| {
                let p = write(d, "notes.txt", b"not a model");
                cli(&["analyze", p.to_str().unwrap()])
            },
        ),
    ]
}

#[test]
fn every_bad_input_is_refused_with_a_message_that_says_what_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<Case> = [
        idx_cases(),
        hub_cases(),
        picture_cases(),
        checkpoint_cases(),
        training_cases(),
        cli_cases(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut failures = Vec::new();
    for c in &cases {
        let msg = (c.run)(dir.path());
        println!("{}\n    {}", c.what, msg.trim_end());
        let missing: Vec<&String> = c
            .expected
            .iter()
            .filter(|e| !msg.contains(e.as_str()))
            .collect();
        if !missing.is_empty() {
            failures.push(format!("{}: missing {missing:?} in: {msg}", c.what));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases.len() >= 30, "only {} cases", cases.len());
}
