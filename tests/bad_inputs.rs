//! Every kind of bad input the crate reads, in one table: each must fail with
//! a message that names the file (where there is one), says what is wrong and,
//! where it can, what to do. `cargo test --test bad_inputs -- --nocapture`
//! prints every message.
//!
//! Inputs that could take much memory (a 48-megapixel photo, a small gzip
//! that expands without end, a full disk) run in a child process whose peak
//! resident memory is read back and held under a stated bound.

mod common;

use candle_core::{Device, Tensor};
use filters_are_weights::data::idx::{self, IdxImages};
use filters_are_weights::data::Mnist;
use filters_are_weights::model::MnistCnn;
use filters_are_weights::picture::load_picture;
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
            "parquet: a 4 MB file whose page decompresses to 80 MB",
            &["page-bomb.parquet", "announces", "more than the 67108864"],
            |d: &Path| {
                let p = d.join("page-bomb.parquet");
                write_parquet(&p, HUB_SCHEMA, &[vec![0u8; 80 << 20]], &[1]);
                assert!(std::fs::metadata(&p).unwrap().len() < 8 << 20);
                err(read_parquet(&p))
            },
        ),
        case(
            "parquet: a PNG announcing 20000x20000 pixels",
            &["huge-png.parquet", "row 0", "larger than 256x256"],
            |d: &Path| {
                let p = d.join("huge-png.parquet");
                write_parquet(&p, HUB_SCHEMA, &[png_claiming(20_000, 20_000)], &[1]);
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

/// A 28x28 PNG whose header (IHDR, with a valid checksum) says it is `w × h`.
#[cfg(feature = "hub")]
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut png = common::parquet::png_of_digit(3);
    // 8-byte signature, then IHDR: length (4), type (4), width, height, ...
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    let mut crc = flate2::Crc::new();
    crc.update(&png[12..29]); // type and the 13 bytes of data
    png[29..33].copy_from_slice(&crc.sum().to_be_bytes());
    png
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
            "CLI: --flag=value with a bad value",
            &[
                "invalid value 'many' for '--epochs <N>'",
                "is not a valid number",
            ],
            |_: &Path| cli(&["reproduce", "--epochs=many"]),
        ),
        case(
            "CLI: a device that is not one",
            &[
                "invalid value 'tpu' for '--device",
                "possible values: cpu, cuda, metal",
            ],
            |_: &Path| cli(&["reproduce", "--device", "tpu"]),
        ),
        #[cfg(not(feature = "cuda"))]
        case(
            "CLI: --device cuda in a build without CUDA",
            &[
                "--device cuda",
                "CUDA is not available",
                "--features cuda",
                "--device cpu",
            ],
            |_: &Path| cli(&["reproduce", "--device", "cuda"]),
        ),
        case(
            "CLI: help on a command that does not exist",
            &["unrecognized subcommand 'train'", "reproduce [OPTIONS]"],
            |_: &Path| cli(&["help", "train"]),
        ),
        case(
            "CLI: unknown option",
            &["unexpected argument '--frobnicate'"],
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

/// A JPEG photo of `w × h` pixels in colour, drawn by the test: a gradient
/// with a checkerboard on it.
fn photo(dir: &Path, w: u32, h: u32) -> PathBuf {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let check = ((x / 97 + y / 89) % 2 * 120) as u8;
        image::Rgb([(x * 255 / w) as u8, check, (y * 255 / h) as u8])
    });
    let path = dir.join(format!("photo-{w}x{h}.jpg"));
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    image::codecs::jpeg::JpegEncoder::new_with_quality(file, 80)
        .encode(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    path
}

/// A gzipped IDX file of images whose header announces `count` images and
/// whose data are zeros without end (`mib` MiB of them, far more than
/// announced): concatenated gzip members, each 1 MiB of zeros in about 1 KB.
fn endless_zeros_gzip(path: &Path, count: u32, mib: usize) {
    use std::io::Write;
    let member = |bytes: &[u8]| {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    };
    let mut header = Vec::new();
    for v in [idx::IMAGES_MAGIC, count, 28, 28] {
        header.extend_from_slice(&v.to_be_bytes());
    }
    let zeros = member(&vec![0u8; 1 << 20]);
    let mut file = member(&header);
    for _ in 0..mib {
        file.extend_from_slice(&zeros);
    }
    std::fs::write(path, file).unwrap();
}

/// The CLI on `args` in a child process (MNIST from `data_dir`), measured.
#[cfg(target_os = "linux")]
fn cli_measured(args: &[&str], data_dir: &Path) -> common::Measured {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_filters-are-weights"));
    cmd.args(args).env("MNIST_DIR", data_dir);
    common::run_measured(cmd)
}

/// Checks a measured run against its memory bound and returns what it said.
#[cfg(target_os = "linux")]
fn within(what: &str, m: common::Measured, bound_mib: f64) -> String {
    println!(
        "{what}: peak {:.0} MiB (bound {bound_mib:.0}), {:.2} s; the test process held {:.0} MiB",
        m.peak_mib, m.seconds, m.parent_mib
    );
    assert!(
        m.parent_mib < bound_mib / 2.0,
        "{what}: the test process itself holds {:.0} MiB, too much to measure a child",
        m.parent_mib
    );
    assert!(
        m.peak_mib < bound_mib,
        "{what}: peak {:.0} MiB, over the bound of {bound_mib:.0} MiB\n{}{}",
        m.peak_mib,
        m.stdout,
        m.stderr
    );
    format!("{}{}", m.stdout, m.stderr)
}

/// Oversized and hostile inputs, each in a child process with its peak
/// memory checked.
#[cfg(target_os = "linux")]
fn bounded_memory_cases() -> Vec<Case> {
    vec![
        case(
            "picture: a 48-megapixel photo (8000x6000 JPEG) through reproduce",
            &["8000x6000", "brought to 384x288"],
            |d: &Path| {
                let photo = photo(d, 8000, 6000);
                let data = mnist_dir(d, "photo-data", |_| {});
                let out = d.join("photo-out");
                let m = cli_measured(
                    &[
                        "reproduce",
                        "--picture",
                        photo.to_str().unwrap(),
                        "--epochs",
                        "1",
                        "--out",
                        out.to_str().unwrap(),
                        "--quiet",
                    ],
                    &data,
                );
                assert!(m.success, "{}{}", m.stdout, m.stderr);
                within("48-megapixel photo", m, 512.0)
            },
        ),
        case(
            "IDX: a 3 MB gzip announcing 60,000 images, then 3 GB of zeros",
            &[
                "train-images-idx3-ubyte.gz",
                "count mismatch",
                "more follow",
            ],
            |d: &Path| {
                let data = mnist_dir(d, "endless", |d| {
                    std::fs::remove_file(d.join("train-images-idx3-ubyte")).unwrap();
                    endless_zeros_gzip(&d.join("train-images-idx3-ubyte.gz"), 60_000, 3072);
                });
                let out = d.join("endless-out");
                let m = cli_measured(
                    &["reproduce", "--out", out.to_str().unwrap(), "--quiet"],
                    &data,
                );
                assert!(!m.success);
                within("endless zeros gzip", m, 256.0)
            },
        ),
        case(
            "CLI: the output directory on a full disk",
            &[
                "could not write",
                "kernel-gallery.png",
                "No space left on device",
                "free some space",
                "--out",
            ],
            |d: &Path| {
                let disk = match common::SmallDisk::mount(&d.join("full-cli"), "16k") {
                    Ok(disk) => disk,
                    Err(why) => return skipped(&why),
                };
                let data = mnist_dir(d, "full-data", |_| {});
                let out = disk.path.join("out");
                let m = cli_measured(
                    &["reproduce", "--out", out.to_str().unwrap(), "--quiet"],
                    &data,
                );
                assert!(!m.success);
                let msg = within("full disk (CLI)", m, 256.0);
                let left: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
                assert!(left.is_empty(), "a half-written file was left: {left:?}");
                msg
            },
        ),
        case(
            "library: saving a model on a full disk",
            &[
                "could not write",
                "model.safetensors",
                "No space left on device",
                "free some space",
            ],
            |d: &Path| {
                let disk = match common::SmallDisk::mount(&d.join("full-lib"), "16k") {
                    Ok(disk) => disk,
                    Err(why) => return skipped(&why),
                };
                let model = MnistCnn::new(1, &Device::Cpu).unwrap();
                let msg = err(model.save(disk.path.join("model.safetensors")));
                let left: Vec<_> = std::fs::read_dir(&disk.path).unwrap().collect();
                assert!(left.is_empty(), "a half-written file was left: {left:?}");
                msg
            },
        ),
    ]
}

#[cfg(not(target_os = "linux"))]
fn bounded_memory_cases() -> Vec<Case> {
    println!("skipped: the memory-bounded cases read a child's peak memory with Linux's wait4");
    Vec::new()
}

/// What a case that cannot run here returns: every expected piece of text
/// is then reported missing, unless skipping is allowed.
#[cfg(target_os = "linux")]
fn skipped(why: &str) -> String {
    if std::env::var_os("FAW_REQUIRE_TMPFS").is_some() {
        panic!("FAW_REQUIRE_TMPFS is set but no tmpfs could be mounted: {why}");
    }
    println!("    skipped: cannot mount a small tmpfs here ({why})");
    SKIPPED.to_string()
}

/// Marks a case that was skipped.
const SKIPPED: &str = "(skipped)";

#[test]
fn every_bad_input_is_refused_with_a_message_that_says_what_and_where() {
    let dir = tempfile::tempdir().unwrap();
    // The cases measured in a child process first, while this process is small.
    let cases: Vec<Case> = [
        bounded_memory_cases(),
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
        if msg == SKIPPED {
            continue;
        }
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

/// The library's messages speak of its own settings, never of the command
/// line's options (the program adds those where it reports an error): no
/// string in `src/` but the program's own `main.rs` names an option.
#[test]
fn library_messages_name_no_command_line_option() {
    fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut found = Vec::new();
    for file in files.iter().filter(|f| !f.ends_with("main.rs")) {
        let text = std::fs::read_to_string(file).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            // An option inside a string: `--` and a letter after a quote.
            let quoted = code.split('"').skip(1).step_by(2);
            let option = |s: &str| {
                s.match_indices("--")
                    .any(|(at, _)| s[at + 2..].starts_with(|c: char| c.is_ascii_lowercase()))
            };
            if quoted.clone().any(option)
                || (code.contains('"') && option(code.split("//").next().unwrap_or("")))
            {
                found.push(format!("{}:{}: {}", file.display(), i + 1, code));
            }
        }
    }
    assert!(
        found.is_empty(),
        "options named by the library:\n{}",
        found.join("\n")
    );
}

#[test]
fn a_link_error_is_one_of_the_crates_errors() {
    let link = filters_are_weights::link::RunLink::parse("link=99").unwrap_err();
    let e: filters_are_weights::Error = link.into();
    assert!(matches!(e, filters_are_weights::Error::Link(_)));
    assert!(e.to_string().contains("newer version of the page"), "{e}");
}
