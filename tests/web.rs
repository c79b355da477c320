//! The page (`web/`), built and served on 127.0.0.1 by `web/serve.py` under
//! a sub-path (as GitHub Pages serves it), in headless Chromium: it loads
//! without errors, its kernels give the native crate's pixels, training in
//! it follows the native trainer, a drawn digit gets a prediction, a filter
//! set by hand and frozen stays as it was set while the others train, the
//! hand-chosen model beside the learned one follows the native
//! `hand-vs-learned` arm, Fashion-MNIST is named as such, and data
//! that cannot be had (missing, truncated, not MNIST, on another origin
//! without CORS, on a port where nothing answers) is explained on the page.
//! Then Firefox and WebKit train as Chromium does, bit for bit; the page
//! fits every screen; and it works from the keyboard alone.
//!
//! Ignored unless asked for (`cargo test --release -- --include-ignored`,
//! the README's test command). Needs Node.js and Chromium (Debian's
//! `chromium`, or `CHROMIUM=/path/to/chrome`), Firefox ESR, WebKitWebDriver
//! and Xvfb (`firefox-esr`, `webkit2gtk-driver`, `xvfb`); builds the page
//! with `web/build.sh` and installs its npm packages if one is missing.
mod common;

use candle_core::Device;
use filters_are_weights::data::{idx, to_unit, Dataset, Mnist};
use filters_are_weights::experiment::Arm;
use filters_are_weights::kernels::{scaled_to, Kernel};
use filters_are_weights::model::MnistCnn;
use filters_are_weights::picture::demo_picture;
use filters_are_weights::second_layer;
use filters_are_weights::train::{Progress, Snapshot, TrainConfig, Trainer};
use filters_are_weights::viz;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Batches trained in the page and natively.
const BATCHES: usize = 30;

/// The sub-path the page is served under, as on GitHub Pages.
const PREFIX: &str = "/filters-are-weights/";

/// `web/serve.py --data DIR --no-search` on a free port, stopped when
/// dropped: `DIR` at `data/mnist/` (or at `data/fashion-mnist/` for
/// Fashion-MNIST's parquet files), and no other data set.
struct ServePy {
    child: Child,
    /// The address it prints: the page, with `?data=` for its data.
    page: String,
}

impl ServePy {
    fn start(data: &Path) -> ServePy {
        Self::start_site(data, &Path::new(ROOT).join("web/dist"))
    }

    /// The page built in `site` (a copy of web/dist) with `data`.
    fn start_site(data: &Path, site: &Path) -> ServePy {
        Self::start_with(&[OsStr::new("--data"), data.as_os_str()], site)
    }

    /// The page built in `site` with the data sets `args` name.
    fn start_with(args: &[&OsStr], site: &Path) -> ServePy {
        let mut child = Command::new("python3")
            .arg(Path::new(ROOT).join("web/serve.py"))
            .args(["--port", "0", "--prefix", PREFIX, "--no-search"])
            .args(args)
            .arg("--site")
            .arg(site)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 could not be started: web/serve.py needs Python 3");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let page = line
            .strip_prefix("page: ")
            .unwrap_or_else(|| panic!("web/serve.py printed {line:?}, not its address"))
            .trim()
            .to_string();
        ServePy { child, page }
    }

    /// The page's address without its query.
    fn base(&self) -> &str {
        self.page.split('?').next().unwrap()
    }
}

impl Drop for ServePy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain server on another origin, as a static host is: `/` (and
/// `PREFIX`) from `site` and `/data/` from `data` on 127.0.0.1, with no
/// Access-Control-Allow-Origin and no cross-origin isolation headers, in a
/// thread per connection, for as long as the test runs; returns the address.
fn serve(site: PathBuf, data: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (site, data) = (site.clone(), data.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    return;
                }
                // The rest of the request's head.
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let head_only = request.starts_with("HEAD ");
                let path = request.split_whitespace().nth(1).unwrap_or("/");
                let path = path.split('?').next().unwrap_or("/");
                // The page at / and, as GitHub Pages serves it, under PREFIX.
                let page = path
                    .strip_prefix(PREFIX.trim_end_matches('/'))
                    .unwrap_or(path);
                let file = match path.strip_prefix("/data/") {
                    Some(rest) => data.join(rest),
                    None if page == "/" || page.is_empty() => site.join("index.html"),
                    None => site.join(page.trim_start_matches('/')),
                };
                let safe = !path.contains("..");
                let mut out = &stream;
                match std::fs::read(&file) {
                    Ok(body) if safe => {
                        let kind = match file.extension().and_then(|e| e.to_str()) {
                            Some("html") => "text/html; charset=utf-8",
                            Some("js") => "text/javascript",
                            Some("css") => "text/css",
                            Some("wasm") => "application/wasm",
                            _ => "application/octet-stream",
                        };
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
                             Connection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = out.write_all(head.as_bytes());
                        if !head_only {
                            let _ = out.write_all(&body);
                        }
                    }
                    _ => {
                        let _ = out.write_all(
                            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        );
                    }
                }
            });
        }
    });
    addr
}

/// Builds the page once for all the tests here (they run side by side,
/// and build.sh starts by emptying web/dist).
fn build_page(web: &Path) {
    static BUILT: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !*built {
        run(&mut Command::new(web.join("build.sh")), "web/build.sh");
        *built = true;
    }
}

fn run(cmd: &mut Command, what: &str) {
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("{what}: cannot start ({e})"));
    assert!(status.success(), "{what} failed");
}

/// The test data: the first `BATCHES` batches of real MNIST and 500 test
/// digits, as the four IDX files and as the Hub's parquet layout.
fn write_data(dir: &Path) -> Mnist {
    let data = common::real_mnist().subset(BATCHES * 128, 500).unwrap();
    data.save_idx(dir.join("idx")).unwrap();
    // Fashion-MNIST's own first images, beside MNIST's (what the files hold
    // is checked: MNIST's would be refused under Fashion-MNIST's name).
    let fashion = Mnist::load_dataset(filters_are_weights::data::Dataset::FashionMnist)
        .expect("Fashion-MNIST (apt install dataset-fashion-mnist, or FASHION_MNIST_DIR)");
    let fashion = fashion.subset(BATCHES * 128, 500).unwrap();
    fashion.save_idx(dir.join("idx/fashion")).unwrap();
    let data = Mnist::from_dir(dir.join("idx")).unwrap();
    for (split, images, labels) in [
        (
            "train",
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
        ),
        (
            "test",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
        ),
    ] {
        let images = idx::read_images(dir.join("idx").join(images)).unwrap();
        let labels = idx::read_labels(dir.join("idx").join(labels)).unwrap();
        let pngs: Vec<Vec<u8>> = images
            .pixels
            .chunks(28 * 28)
            .map(|p| {
                let img = image::GrayImage::from_raw(28, 28, p.to_vec()).unwrap();
                let mut png = Vec::new();
                img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
                    .unwrap();
                png
            })
            .collect();
        let labels: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
        let path = dir.join(format!("parquet/mnist/{split}/0000.parquet"));
        common::parquet::write_parquet(&path, common::parquet::HUB_SCHEMA, &pngs, &labels);
        // The same file cut in half.
        let bytes = std::fs::read(&path).unwrap();
        let cut = dir.join(format!("parquet/truncated/mnist/{split}/0000.parquet"));
        std::fs::create_dir_all(cut.parent().unwrap()).unwrap();
        std::fs::write(cut, &bytes[..bytes.len() / 2]).unwrap();
    }
    // IDX files whose training images announce 1e9 images and hold 3840.
    let huge = dir.join("idx/huge");
    std::fs::create_dir_all(&huge).unwrap();
    for name in filters_are_weights::data::IDX_FILES {
        let name = format!("{name}.gz");
        std::fs::copy(dir.join("idx").join(&name), huge.join(&name)).unwrap();
    }
    let images = huge.join("train-images-idx3-ubyte.gz");
    let mut raw = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&images).unwrap()),
        &mut raw,
    )
    .unwrap();
    raw[4..8].copy_from_slice(&1_000_000_000u32.to_be_bytes());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).unwrap();
    std::fs::write(&images, gz.finish().unwrap()).unwrap();
    data
}

/// The page's training settings: seed 42, batch 128.
fn page_config() -> TrainConfig {
    TrainConfig {
        seed: 42,
        epochs: 15,
        snapshot_epochs: Vec::new(),
        progress: Progress::Silent,
        ..TrainConfig::default()
    }
}

/// The native trainer on the page's data and settings: seed 42, batch 128,
/// `BATCHES` batches (one epoch of the test data). Losses and filters.
fn native_training(data: &Mnist) -> (Vec<f32>, MnistCnn) {
    let model = MnistCnn::new(42, &Device::Cpu).unwrap();
    native_epoch(data, Trainer::new(model, page_config()).unwrap())
}

/// One epoch of `trainer` on the page's data (its test subset of 1000).
fn native_epoch(data: &Mnist, mut trainer: Trainer) -> (Vec<f32>, MnistCnn) {
    let data = data.subset(60_000, 1000).unwrap();
    let mut epoch = trainer.begin_epoch(&data).unwrap();
    let mut losses = Vec::new();
    while let Some(b) = trainer.train_batch(&mut epoch).unwrap() {
        losses.push(b.loss);
    }
    trainer.end_epoch(&data, epoch, 0.0).unwrap();
    (losses, trainer.model)
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// The frame of a replay's label: "epoch 3 (4 of 5)" is frame 4.
fn frame(label: &str) -> usize {
    label
        .split('(')
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a replay's label: {label}"))
}

/// Checks that Chromium is there and installs the page's npm packages
/// (npm ci in web/) if one is missing; returns web/ and the Chromium binary.
fn browser_tools() -> (PathBuf, String) {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).is_file(),
        "the page tests need Chromium: install Debian's `chromium` (apt install chromium) or \
         set CHROMIUM to a Chromium or Chrome binary"
    );
    let web = Path::new(ROOT).join("web");
    static NPM: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = NPM.lock().unwrap_or_else(|e| e.into_inner());
    let installed = ["playwright-core", "puppeteer-core", "axe-core"]
        .iter()
        .all(|p| web.join("node_modules").join(p).is_dir());
    if !installed {
        run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&web),
            "npm ci in web/",
        );
    }
    (web, chromium)
}

#[test]
#[ignore = "needs Node.js, Chromium, Firefox ESR, WebKitWebDriver and Xvfb: run with -- --include-ignored"]
fn a_replay_plays_in_chromium_and_shows_its_gif_without_scripts() {
    let (web, chromium) = browser_tools();
    // Five frames: a model's random filters, moved a little more each time.
    let start = MnistCnn::new(7, &Device::Cpu)
        .unwrap()
        .conv1_filter_values()
        .unwrap();
    let snapshots: Vec<Snapshot> = (0..5)
        .map(|e| Snapshot {
            epoch: e,
            step: 10 * e,
            filters: start
                .iter()
                .enumerate()
                .map(|(i, v)| v + 0.02 * e as f32 * ((i % 5) as f32 - 2.0))
                .collect(),
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("replay.html");
    viz::filter_replay(&snapshots, 10)
        .unwrap()
        .save_html(&file)
        .unwrap();
    let out = Command::new("node")
        .arg(web.join("tests/replay.mjs"))
        .arg("--file")
        .arg(&file)
        .arg("--screenshot")
        .arg(dir.path().join("replay.png"))
        .arg("--no-scripts")
        .arg(dir.path().join("still.png"))
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node could not be started");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    for quiet in ["console", "pageErrors", "requests"] {
        assert_eq!(seen[quiet], serde_json::json!([]), "{quiet}: {seen}");
    }
    let (first, last) = (&seen["start"], &seen["last"]);
    assert_eq!(
        (first["canvas"].as_u64(), first["images"].as_u64()),
        (Some(1), Some(0)),
        "the GIF gives way to the canvas"
    );
    assert_eq!(first["label"], "epoch 0 (1 of 5)");
    assert_eq!(first["max"], "4");
    assert_eq!(last["label"], "epoch 4 (5 of 5)");
    assert_ne!(
        first["pixels"], last["pixels"],
        "another frame, other colours"
    );
    // Play at the last frame starts again from the first, and moves on.
    assert_eq!(seen["playing"]["label"], "epoch 0 (1 of 5)");
    assert_eq!(seen["playing"]["button"], "❚❚ pause");
    let played = seen["played"]["label"].as_str().unwrap();
    assert!(
        ["epoch 2 (3 of 5)", "epoch 3 (4 of 5)"].contains(&played),
        "{played}"
    );
    assert_eq!(seen["paused"]["button"], "▶ play");
    // A frame may come between reading the label and the click on pause;
    // after it, the replay stays where it is.
    let paused = seen["paused"]["label"].as_str().unwrap();
    assert!(
        paused == played || frame(paused) == frame(played) + 1,
        "paused at {paused}, playing at {played}"
    );
    assert_eq!(seen["stillPaused"]["label"], seen["paused"]["label"]);
    // Without scripts, the GIF.
    assert_eq!(seen["noScripts"]["canvas"], 0);
    assert!(seen["noScripts"]["image"].as_u64() > Some(100), "{seen}");
    if let Ok(keep) = std::env::var("FAW_KEEP_SCREENSHOTS") {
        for name in ["replay.png", "still.png"] {
            std::fs::copy(dir.path().join(name), Path::new(&keep).join(name)).unwrap();
        }
    }
}

#[test]
#[ignore = "needs Node.js, Chromium, Firefox ESR, WebKitWebDriver and Xvfb: run with -- --include-ignored"]
fn the_page_teaches_the_lesson_in_chromium() {
    let (web, chromium) = browser_tools();
    build_page(&web);
    let dir = tempfile::tempdir().unwrap();
    let data = write_data(dir.path());
    // MNIST and Fashion-MNIST from one server, each at data/ID/.
    let (idx, fashion) = (dir.path().join("idx"), dir.path().join("idx/fashion"));
    let idx_server = ServePy::start_with(
        &[
            OsStr::new("--data"),
            idx.as_os_str(),
            OsStr::new("--fashion-mnist"),
            fashion.as_os_str(),
        ],
        &web.join("dist"),
    );
    let parquet_server = ServePy::start(&dir.path().join("parquet"));
    assert!(
        idx_server
            .page
            .ends_with(&format!("{PREFIX}?data=data/%7Bdataset%7D/&format=idx")),
        "{}",
        idx_server.page
    );
    assert!(parquet_server
        .page
        .ends_with("?data=data/%7Bdataset%7D/&format=parquet"));
    let plain = serve(web.join("dist"), dir.path().to_path_buf());
    // A port where nothing answers: taken, then given back.
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // The native trainer on the same data, its model saved for the page to
    // open, and its logits for ten test digits.
    let (native_losses, native) = native_training(&data);
    let native_filters = native.conv1_filter_values().unwrap();
    let native_file = dir.path().join("native.safetensors");
    native.save(&native_file).unwrap();
    let digits = to_unit(&data.test_images.narrow(0, 0, 10).unwrap()).unwrap();
    let native_logits: Vec<Vec<f32>> = native.forward_t(&digits, false).unwrap().to_vec2().unwrap();
    let digits: Vec<Vec<f32>> = digits.flatten_from(1).unwrap().to_vec2().unwrap();
    let digits_file = dir.path().join("digits.json");
    std::fs::write(&digits_file, serde_json::to_string(&digits).unwrap()).unwrap();
    let downloaded = dir.path().join("downloaded.safetensors");
    let screenshot = Path::new(ROOT).join("docs/figures/web-page.png");
    let out = Command::new("node")
        .arg(web.join("tests/page.mjs"))
        .args(["--page", idx_server.base()])
        .args(["--idx", "data/{dataset}/"])
        .args(["--parquet-page", parquet_server.base()])
        .args(["--parquet", "data/mnist/"])
        .args(["--missing", "data/mnist/nothing-here"])
        .args(["--truncated", "data/mnist/truncated"])
        .args(["--huge", "data/mnist/huge"])
        .args(["--cross-origin", &format!("{plain}/data/idx")])
        .args(["--plain-page", &format!("{plain}/")])
        .args(["--unreachable", &format!("http://{dead}/mnist")])
        .args(["--batches", &BATCHES.to_string()])
        .arg("--download")
        .arg(&downloaded)
        .arg("--native-model")
        .arg(&native_file)
        .arg("--digits")
        .arg(&digits_file)
        .args(["--soak", "3"])
        .args(["--threads-batches", "20"])
        .args(["--hand-batches", &BATCHES.to_string()])
        .args(["--fashion-page", idx_server.base()])
        .args(["--fashion", "data/{dataset}/"])
        .args(["--fashion-wrong", "data/mnist/"])
        .args(["--pages-like", &format!("{plain}{PREFIX}")])
        .arg("--screenshot")
        .arg(&screenshot)
        .arg("--second-layer-screenshot")
        .arg(Path::new(ROOT).join("docs/figures/web-second-layer.png"))
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node could not be started: the page tests need Node.js");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser script failed:\n{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let r: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("no result from the browser script ({e}):\n{stdout}\n{stderr}"));

    // It loads with no console error and no unhandled rejection.
    assert_eq!(r["console"], serde_json::json!([]), "console errors");
    assert_eq!(r["pageErrors"], serde_json::json!([]), "page errors");

    // The kernels: the native crate's pixels, every one.
    let demo = demo_picture();
    let kernels = r["kernels"].as_object().unwrap();
    assert_eq!(kernels.len(), 9);
    for (name, pixels) in kernels {
        let native = Kernel::by_name(name).unwrap().apply(&demo).unwrap();
        let page: Vec<u8> = floats(pixels).iter().map(|&v| v as u8).collect();
        assert!(
            page == native.into_raw(),
            "kernel {name}: the page's pixels differ"
        );
    }
    assert_eq!(r["ownKernelIsIdentity"], true);
    let products = r["products"].as_str().unwrap();
    assert!(
        products.contains("sum") && products.contains('×'),
        "{products}"
    );

    // Training: BATCHES batches, the loss falls, the filters move, and they
    // follow the native trainer's.
    assert_eq!(r["step"], BATCHES);
    let losses = floats(&r["losses"]);
    assert_eq!(losses.len(), BATCHES);
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    assert!(
        mean(&losses[BATCHES - 5..]) < 0.7 * mean(&losses[..5]),
        "the loss did not fall: {losses:?}"
    );
    let (initial, filters) = (floats(&r["initialFilters"]), floats(&r["filters"]));
    let mean_abs = |a: &[f32], b: &[f32]| {
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32
    };
    let moved = mean_abs(&filters, &initial);
    let apart = mean_abs(&filters, &native_filters);
    let loss_gap = losses
        .iter()
        .zip(&native_losses)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    println!("losses, page: {losses:?}\nlosses, native: {native_losses:?}");
    println!(
        "page vs native after {BATCHES} batches: filters moved {moved:.2e} on average, \
         {apart:.2e} apart; largest loss difference {loss_gap:.2e}"
    );
    assert!(moved > 1e-3, "the filters did not move");
    // The same computation: the first batches agree to float32 rounding.
    // wasm's SIMD128 adds the products in another order than AVX-512 does,
    // and training amplifies those last bits as it goes (as it does between
    // two CPUs), so later on the two drift apart, by little.
    for (i, (a, b)) in losses.iter().zip(&native_losses).take(10).enumerate() {
        assert!(
            (a - b).abs() < 1e-5,
            "batch {}: loss {a} in the page, {b} natively",
            i + 1
        );
    }
    assert!(loss_gap < 0.05, "the losses differ by {loss_gap}");
    assert!(
        apart < 0.05 * moved,
        "the page's filters are {apart} from the native ones (moved {moved})"
    );
    assert_eq!(r["labels"].as_array().unwrap().len(), 32);

    // A drawn digit: ten probabilities and 32 maps of 26x26.
    let p = floats(&r["prediction"]);
    assert_eq!(p.len(), 10);
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-3, "{p:?}");
    assert_eq!(r["maps"], 32 * 26 * 26);

    // Both layouts of the data; and data that is not there, explained.
    let status = r["dataStatus"].as_str().unwrap();
    assert!(
        status.contains("3840 training and 500 test images"),
        "{status}"
    );
    let status = r["parquetStatus"].as_str().unwrap();
    assert!(status.contains("3840 training and 500 test images") && status.contains("parquet"));
    // The last click's step, as the notebooks show it: the same step.
    let step = &r["stepShown"];
    assert_eq!(step["loss"].as_f64().unwrap() as f32, losses[BATCHES - 1]);
    let (before, after) = (floats(&step["before"]), floats(&step["after"]));
    assert_eq!(
        after, filters,
        "the step's filters after it are not the page's filters"
    );
    let update = floats(&step["update"]);
    for i in 0..update.len() {
        assert_eq!(update[i], after[i] - before[i], "update {i}");
    }
    assert!(floats(&step["gradient"]).iter().any(|&g| g != 0.0));
    assert_eq!(step["drawn"], 4 * 32, "four panels of 32 filters");

    // The model downloaded from the page: the page's weights, and the CLI's
    // `analyze` reads it.
    assert_eq!(r["downloadName"], "model.safetensors");
    let model = MnistCnn::load(&downloaded, &Device::Cpu).unwrap();
    assert_eq!(
        model.conv1_filter_values().unwrap(),
        floats(&r["downloadedFilters"])
    );
    let analysis = dir.path().join("analysis");
    let out = Command::new(env!("CARGO_BIN_EXE_filters-are-weights"))
        .arg("analyze")
        .arg(&downloaded)
        .arg(&analysis)
        .env("MNIST_DIR", dir.path().join("idx"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "analyze on the downloaded model: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(analysis.join("nearest-kernels.tsv").is_file());

    // A file that is not a model, a digit of the wrong size: told, and the
    // page goes on (it trains, it reads a drawn digit).
    let bad = &r["badModel"];
    let status = bad["status"].as_str().unwrap();
    assert!(
        status.contains("Could not open not-a-model.safetensors") && status.contains("What to do"),
        "{status}"
    );
    assert_eq!(bad["playDisabled"], false);
    assert_eq!(bad["trainsAfter"], true);
    assert_eq!(r["badDigit"], "error");
    assert_eq!(r["predictsAfterBadDigit"], true);

    // A native model opened in the page: its filters, and its logits for
    // ten test digits.
    assert_eq!(floats(&r["openedFilters"]), native_filters);
    let logits = r["openedLogits"].as_array().unwrap();
    assert_eq!(logits.len(), 10);
    for (page, native) in logits.iter().zip(&native_logits) {
        let page = floats(page);
        let gap = page
            .iter()
            .zip(native)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(
            gap < 1e-5,
            "logits {page:?} in the page, {native:?} natively"
        );
    }

    // The soak: 3 epochs, history thinned to its limits, memory flat.
    let soak = r["soak"].as_array().unwrap();
    assert_eq!(soak.len(), 3);
    for s in soak {
        println!("soak: {s}");
    }
    let mib = |s: &serde_json::Value, k: &str| s[k].as_f64().unwrap() / (1 << 20) as f64;
    for s in soak {
        assert!(mib(s, "workerMemory") < 128.0, "the worker's memory: {s}");
        assert!(mib(s, "jsHeap") < 64.0, "the page's heap: {s}");
    }
    assert!(
        mib(&soak[2], "workerMemory") <= mib(&soak[0], "workerMemory") * 1.1,
        "the worker's memory grows: {soak:?}"
    );
    // What the second layer sees, drawn after epoch 1: 64 channels, the
    // sixth chosen, its 9 top patches and 32 filters shown; its answers
    // those of the native model after the same epoch, on the same 500 test
    // digits, as near as two trainings a last bit apart at each step come
    // after 30 batches (0.3% measured).
    let second = &r["secondLayer"];
    println!("the second layer in the page: {second}");
    assert_eq!(second["channels"], 64, "{second}");
    assert_eq!(second["buttons"], 64, "{second}");
    assert_eq!(second["grid"], 64, "{second}");
    assert_eq!(second["top"], 9, "{second}");
    assert_eq!(second["weights"], 32, "{second}");
    assert_eq!(second["pressed"], 1, "{second}");
    assert_eq!(second["images"], 500, "{second}");
    assert_eq!(second["title"], "Channel #5", "{second}");
    let theirs = floats(&second["activations"]);
    let ours = &second_layer::top_patches(&native, &data.test_images, 9).unwrap()[5];
    let natively: Vec<f32> = ours.top.iter().map(|p| p.activation).collect();
    for (page, native) in theirs.iter().zip(&natively) {
        assert!(
            (page - native).abs() <= 0.01 * native.abs().max(0.1),
            "channel 5's answers: {theirs:?} in the page, {natively:?} natively"
        );
    }
    let sources: Vec<usize> = floats(&second["sources"])
        .iter()
        .map(|&s| s as usize)
        .collect();
    let shared = ours
        .top
        .iter()
        .filter(|p| sources.contains(&p.image))
        .count();
    assert!(
        shared >= 6,
        "channel 5's top images: {sources:?} in the page, {:?} natively",
        ours.top.iter().map(|p| p.image).collect::<Vec<_>>()
    );
    // "Pause after epochs 1, 7 and 15": playing stopped at the end of epoch 1.
    let stop = &r["postStop"];
    println!("paused at the post's epochs: {stop}");
    assert_eq!(stop["epochsDone"], 1, "{stop}");
    assert_eq!(stop["step"], stop["stepsPerEpoch"], "{stop}");
    assert_eq!(stop["play"], "▶ train", "{stop}");
    assert!(
        stop["announced"].as_str().unwrap().contains("paused"),
        "{stop}"
    );
    let st = &r["soakState"];
    println!("soak, at the end: {st}");
    assert!(st["step"].as_u64().unwrap() >= 3 * BATCHES as u64);
    assert!(st["snapshots"].as_u64().unwrap() <= 16, "{st}");
    assert!(st["losses"].as_u64().unwrap() <= 32, "{st}");
    assert!(st["lossEvery"].as_u64().unwrap() >= 2, "{st}");
    assert!(st["accuracies"].as_u64().unwrap() <= 4, "{st}");
    assert_eq!(st["postEpochs"], serde_json::json!([1]));
    // Crisp at devicePixelRatio 2: two canvas pixels a CSS pixel.
    assert_eq!(
        st["curvesPixels"][0].as_u64().unwrap(),
        2 * st["curvesCss"][0].as_u64().unwrap(),
        "{st}"
    );

    // Served by web/serve.py, the page is cross-origin isolated, and trains
    // on the machine's cores (every core: at least 2 here).
    assert_eq!(r["isolated"], true);
    let threads = &r["threads"];
    println!(
        "threads: {} in the page; 1 and 2 threads give {} equal losses and {} equal filter weights",
        threads["main"],
        threads["one"]["losses"].as_array().map_or(0, |l| l.len()),
        threads["one"]["filters"].as_array().map_or(0, |f| f.len()),
    );
    assert!(threads["main"].as_u64().unwrap() >= 2, "{threads}");
    assert!(threads["status"].as_str().unwrap().contains("threads."));
    // The same weights, bit for bit, on 1 and 2 threads (the crate sums in a
    // fixed order): the filters and every batch's loss after 20 batches.
    assert_eq!(threads["one"]["threads"], 1);
    assert_eq!(threads["two"]["threads"], 2);
    assert_eq!(threads["one"]["losses"].as_array().unwrap().len(), 20);
    assert_eq!(threads["one"]["losses"], threads["two"]["losses"]);
    assert_eq!(threads["one"]["filters"], threads["two"]["filters"]);
    // A host that sends no isolation headers (GitHub Pages), the page under
    // a sub-path: coi.js's service worker isolates it, and it has threads.
    let pages = &r["pagesLike"];
    assert_eq!(pages["isolated"], true, "{pages}");
    assert!(pages["threads"].as_u64().unwrap() >= 2, "{pages}");
    // Without isolation (?isolate=no on that host): one thread, and why.
    let plain = &r["notIsolated"];
    assert_eq!(plain["isolated"], false, "{plain}");
    assert_eq!(plain["threads"], 1, "{plain}");
    let status = plain["status"].as_str().unwrap();
    assert!(
        status.contains("one thread") && status.contains("not cross-origin isolated"),
        "{status}"
    );

    // A browser that cannot run the page is told what it lacks.
    let cannot = &r["cannotStart"];
    for (name, words) in [
        ("noWebAssembly", ["cannot run WebAssembly", "What to do"]),
        ("noSimd", ["SIMD128", "update it"]),
        ("noPkg", ["could not be loaded", "web/build.sh"]),
    ] {
        let status = cannot[name]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {cannot}"));
        println!("{name}: {status}");
        for w in words {
            assert!(status.contains(w), "{name}: {w:?} is not in {status:?}");
        }
    }

    // Data it cannot have: each failure told apart, in words that say what
    // to do, shown as an error; the kernels go on working.
    let failures = r["failures"].as_object().unwrap();
    let expect = [
        (
            "missing",
            vec!["Could not fetch MNIST", "HTTP 404", "?data=", "--mnist DIR"],
        ),
        ("truncated", vec!["Could not read MNIST", "parquet"]),
        ("huge", vec!["Could not read MNIST", "1000000000"]),
        (
            "crossOrigin",
            vec![
                "refused to share",
                "Access-Control-Allow-Origin",
                "web/serve.py --mnist DIR --fashion-mnist DIR",
            ],
        ),
        (
            "unreachable",
            vec!["nothing answered at", "check the address"],
        ),
        (
            "hubUnreachable",
            vec![
                "nothing answered at https://huggingface.co",
                "internet connection",
            ],
        ),
        ("hubRefused", vec!["HTTP 503", "try again later"]),
    ];
    for (name, words) in expect {
        let f = &failures[name];
        let status = f["status"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {f}"));
        println!("{name}: {status}");
        for w in words {
            assert!(status.contains(w), "{name}: {w:?} is not in {status:?}");
        }
        assert_eq!(f["shownAsError"], true, "{name}");
        assert_eq!(f["ready"], false, "{name}");
        assert_eq!(f["kernelsStillWork"], true, "{name}");
    }
    // The cross-origin refusal is not taken for a missing server, nor the
    // other way round.
    assert!(!failures["crossOrigin"]["status"]
        .as_str()
        .unwrap()
        .contains("nothing answered"));
    assert!(!failures["unreachable"]["status"]
        .as_str()
        .unwrap()
        .contains("refused"));
    assert!(screenshot.is_file());

    // Filters set by hand: filter 0 set to top sobel (scaled to its length,
    // as the hand-chosen bank is) and frozen; BATCHES batches later it is
    // still exactly that, while the others moved.
    let hand = &r["hand"];
    assert_eq!(hand["editorShown"], true);
    let (start, set) = (floats(&hand["start"]), floats(&hand["set"]));
    let length = |f: &[f32]| f.iter().map(|v| v * v).sum::<f32>().sqrt();
    let sobel = Kernel::by_name("top sobel").unwrap();
    let expected = scaled_to(&[sobel], length(&start[..9]))[0].weights.concat();
    assert_eq!(set[..9], expected[..], "filter 0 is not top sobel, scaled");
    assert_eq!(set[9..], start[9..], "setting filter 0 moved others");
    let look = &hand["frozenLook"];
    assert_eq!(look["marked"], true);
    assert_eq!(look["label"], "#0 top sobel 1.00 · frozen");
    let trained = floats(&hand["trained"]);
    assert_eq!(trained[..9], set[..9], "the frozen filter moved");
    assert_eq!(hand["label"], "#0 top sobel 1.00 · frozen");
    let moved = mean_abs(&trained[9..], &set[9..]);
    assert!(moved > 1e-3, "the other filters did not move ({moved})");
    // Filter 1: nine numbers typed in, then a random glorot draw.
    let typed = floats(&hand["afterTyped"]);
    let tenths: Vec<f32> = (1..=9).map(|k| k as f32 / 10.0).collect();
    assert_eq!(typed[9..18], tenths[..]);
    let random = floats(&hand["afterRandom"]);
    let limit = (6.0f32 / (9.0 + 9.0 * 32.0)).sqrt();
    assert!(random[9..18].iter().all(|v| v.abs() <= limit) && random[9..18] != typed[9..18]);
    assert_eq!(
        random[18..],
        typed[18..],
        "randomising filter 1 moved others"
    );
    assert_eq!(hand["editorHidden"], true);
    assert_eq!(hand["frozenAfter"], serde_json::json!([0]));
    // The hand-chosen model beside the learned one: two sets of curves; the
    // learned one is the page's usual run, the other the hand-vs-learned
    // experiment's frozen hand-chosen arm, natively, on the same batches.
    let beside = &r["beside"];
    assert_eq!(beside["step"], BATCHES);
    let (learned, hand_losses) = (floats(&beside["losses"]), floats(&beside["handLosses"]));
    assert_eq!((learned.len(), hand_losses.len()), (BATCHES, BATCHES));
    assert_eq!(beside["accuracy"].as_array().unwrap().len(), 1, "{beside}");
    assert_eq!(
        beside["handAccuracy"].as_array().unwrap().len(),
        1,
        "{beside}"
    );
    assert_eq!(beside["frozen"], serde_json::json!([]));
    let arm = Arm::HandFrozen
        .trainer(42, &page_config(), &Device::Cpu)
        .unwrap();
    let (native_hand, _) = native_epoch(&data, arm);
    for (i, (a, b)) in hand_losses.iter().zip(&native_hand).take(10).enumerate() {
        assert!(
            (a - b).abs() < 1e-5,
            "hand-chosen batch {}: loss {a} in the page, {b} natively",
            i + 1
        );
    }
    for (i, (a, b)) in learned.iter().zip(&native_losses).take(10).enumerate() {
        assert!((a - b).abs() < 1e-5, "learned batch {}: {a} vs {b}", i + 1);
    }
    assert_ne!(learned, hand_losses);
    // A model opened with it on: both count from 0 again, side by side.
    assert_eq!(
        r["besideOpened"],
        serde_json::json!({"step": 1, "losses": 1, "handLosses": 1, "checked": true})
    );

    // Fashion-MNIST: the picker, the words, the class names.
    let fashion = &r["fashion"];
    assert_eq!(fashion["dataset"], "fashion-mnist", "{fashion}");
    assert_eq!(fashion["picker"], "fashion-mnist");
    assert_eq!(
        fashion["options"],
        serde_json::json!(["mnist", "fashion-mnist"])
    );
    let status = fashion["status"].as_str().unwrap();
    assert!(
        status.starts_with("Fashion-MNIST: 3840 training"),
        "{status}"
    );
    assert_eq!(fashion["heading"], "3. Draw a picture");
    assert_eq!(
        fashion["linkNote"], "",
        "?dataset= alone is no link: {fashion}"
    );
    let names = filters_are_weights::data::Dataset::FashionMnist.class_names();
    assert!(
        names.contains(&fashion["reads"].as_str().unwrap()),
        "{fashion}"
    );
    let unknown = r["unknownDataset"].as_str().unwrap();
    assert!(
        unknown.contains("kmnist") && unknown.contains("mnist, fashion-mnist"),
        "{unknown}"
    );
    // MNIST's files served as Fashion-MNIST: refused, naming both.
    let wrong = &r["wrongDataset"];
    let status = wrong["status"].as_str().unwrap();
    assert!(
        status.contains("these files hold MNIST, not Fashion-MNIST"),
        "{wrong}"
    );
    assert_eq!(wrong["shownAsError"], true, "{wrong}");
    assert_eq!(wrong["kernelsStillWork"], true, "{wrong}");
}

/// GET `path` from `addr` (`http://127.0.0.1:PORT`): the status and the body.
fn get(addr: &str, path: &str) -> (u16, Vec<u8>) {
    let host = addr.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    std::io::Read::read_to_end(&mut stream, &mut answer).unwrap();
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&answer[..end]);
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, answer[end + 4..].to_vec())
}

/// `web/serve.py` serves every layout the crate reads, each data set at
/// `data/ID/`: IDX files named with `.idx` and not gzipped answer to the
/// names the page asks for; Fashion-MNIST's parquet layout is told by its
/// folder, its address naming the data set; both data sets from one server
/// (`--mnist DIR --fashion-mnist DIR`); a data set not served is a 404 that
/// says how to serve it; parquet files given as the other set are refused.
#[test]
#[ignore = "needs Node.js, Chromium, Firefox ESR, WebKitWebDriver and Xvfb: run with -- --include-ignored"]
fn serve_py_serves_every_layout_the_crate_reads() {
    build_page(&Path::new(ROOT).join("web"));
    let dir = tempfile::tempdir().unwrap();
    let dotted = dir.path().join("dotted");
    common::write_mnist_dir(&dotted, 20, 10, false);
    for name in filters_are_weights::data::IDX_FILES {
        std::fs::rename(
            dotted.join(name),
            dotted.join(name.replacen("-idx", ".idx", 1)),
        )
        .unwrap();
    }
    let server = ServePy::start(&dotted);
    assert!(
        server
            .page
            .ends_with("?data=data/%7Bdataset%7D/&format=idx"),
        "{}",
        server.page
    );
    let addr = addr_of(&server);
    let name = "train-images-idx3-ubyte";
    assert_eq!(get(&addr, &format!("{PREFIX}data/mnist/{name}.gz")).0, 404);
    let (status, body) = get(&addr, &format!("{PREFIX}data/mnist/{name}"));
    assert_eq!(status, 200);
    assert_eq!(
        body,
        std::fs::read(dotted.join("train-images.idx3-ubyte")).unwrap()
    );
    drop(server);

    let fashion = dir.path().join("fashion");
    for split in ["train", "test"] {
        let path = fashion.join(format!("fashion_mnist/{split}/0000.parquet"));
        let png = common::parquet::png_of_digit(3);
        common::parquet::write_parquet(&path, common::parquet::HUB_SCHEMA, &[png], &[3]);
    }
    let server = ServePy::start(&fashion);
    assert!(
        server
            .page
            .ends_with("?data=data/%7Bdataset%7D/&format=parquet&dataset=fashion-mnist"),
        "{}",
        server.page
    );
    drop(server);

    // Both data sets from one server, in two layouts: each at data/ID/, and
    // the page left to tell the layouts apart (no &format=).
    let both = ServePy::start_with(
        &[
            OsStr::new("--mnist"),
            dotted.as_os_str(),
            OsStr::new("--fashion-mnist"),
            fashion.as_os_str(),
        ],
        &Path::new(ROOT).join("web/dist"),
    );
    assert!(
        both.page
            .ends_with(&format!("{PREFIX}?data=data/%7Bdataset%7D/")),
        "{}",
        both.page
    );
    let parquet = "fashion_mnist/train/0000.parquet";
    let (status, body) = get(
        &addr_of(&both),
        &format!("{PREFIX}data/fashion-mnist/{parquet}"),
    );
    assert_eq!(status, 200);
    assert_eq!(body, std::fs::read(fashion.join(parquet)).unwrap());
    let (status, _) = get(&addr_of(&both), &format!("{PREFIX}data/mnist/{name}"));
    assert_eq!(status, 200);
    drop(both);
    // One data set served: the other's address says how to serve it.
    let one = ServePy::start(&dotted);
    let (status, body) = get(
        &addr_of(&one),
        &format!("{PREFIX}data/fashion-mnist/t10k-labels-idx1-ubyte.gz"),
    );
    assert_eq!(status, 404);
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("--fashion-mnist DIR"), "{body}");
    drop(one);
    // Fashion-MNIST's parquet files given as MNIST: refused, saying how.
    let out = Command::new("python3")
        .arg(Path::new(ROOT).join("web/serve.py"))
        .args(["--port", "0", "--no-search", "--mnist"])
        .arg(&fashion)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("holds Fashion-MNIST's parquet files, not MNIST's")
            && said.contains("--fashion-mnist"),
        "{said}"
    );
}

/// `http://127.0.0.1:PORT` of a server's page.
fn addr_of(server: &ServePy) -> String {
    server
        .base()
        .split('/')
        .take(3)
        .collect::<Vec<_>>()
        .join("/")
}

/// The page's pure parts under node's own test runner, no browser: its
/// state and history (`web/js/state.js`) and what it tells a visitor
/// (`web/messages.js`).
#[test]
#[ignore = "needs Node.js, Chromium, Firefox ESR, WebKitWebDriver and Xvfb: run with -- --include-ignored"]
fn the_pages_pure_parts_pass_their_unit_tests() {
    let web = Path::new(ROOT).join("web");
    let out = Command::new("node")
        .args(["--test", "tests/unit/"])
        .current_dir(&web)
        .output()
        .expect("node could not be started: the page tests need Node.js");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "node --test web/tests/unit/:\n{stdout}"
    );
    assert!(stdout.contains("# fail 0"), "{stdout}");
}

/// Batches trained in each engine.
const ENGINE_BATCHES: usize = 20;

/// Runs `web/tests/<script>` with node (under `xvfb-run` when `display`)
/// and returns the JSON object it prints last.
fn node_script(
    web: &Path,
    chromium: &str,
    display: bool,
    script: &str,
    args: &[&str],
) -> serde_json::Value {
    try_node_script(web, chromium, display, script, args).unwrap_or_else(|e| panic!("{e}"))
}

/// [`node_script`], its failure returned: what the script printed.
fn try_node_script(
    web: &Path,
    chromium: &str,
    display: bool,
    script: &str,
    args: &[&str],
) -> Result<serde_json::Value, String> {
    let mut cmd = if display {
        let mut c = Command::new("xvfb-run");
        c.args(["-a", "-s", "-screen 0 1920x1200x24", "node"]);
        c
    } else {
        Command::new("node")
    };
    let out = cmd
        .arg(web.join("tests").join(script))
        .args(args)
        .env("CHROMIUM", chromium)
        .output()
        .unwrap_or_else(|e| panic!("{script}: node could not be started ({e})"));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    if !out.status.success() {
        return Err(format!("{script} failed:\n{stdout}\n{stderr}"));
    }
    serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .map_err(|e| format!("no result from {script} ({e}):\n{stdout}\n{stderr}"))
}

/// A run of engines.mjs that met a fault of the engine, not of the page,
/// seen now and then on a loaded machine: WebKit's web process crashing,
/// or Firefox never running one of the page's threads (the page then
/// trains on one thread after 20 s, and says so: a test of its own holds
/// that). What the run met, or None.
fn engine_fault(run: &Result<serde_json::Value, String>) -> Option<String> {
    match run {
        Err(e) if e.contains("WebProcess CRASHED") => Some(e.clone()),
        Ok(r)
            if r["status"]
                .as_str()
                .is_some_and(|s| s.contains(" threads had not started after 20 s")) =>
        {
            Some(r["status"].to_string())
        }
        _ => None,
    }
}

/// Firefox ESR, WebKitWebDriver and Xvfb (Debian's `firefox-esr`,
/// `webkit2gtk-driver`, `xvfb`), or a panic that says what to install.
fn other_engines() {
    for (binary, package) in [
        ("/usr/bin/firefox-esr", "firefox-esr"),
        ("/usr/bin/WebKitWebDriver", "webkit2gtk-driver"),
        ("/usr/bin/xvfb-run", "xvfb"),
    ] {
        assert!(
            Path::new(binary).is_file(),
            "the page's tests in other engines need {binary}: apt install {package}"
        );
    }
}

/// The same wasm gives the same numbers in Chromium, Firefox and WebKit:
/// `ENGINE_BATCHES` batches, every loss and every filter weight bit for bit,
/// and the first batches as the native trainer's. WebKit (Safari's engine)
/// trains by default, on threads or, where it cannot start them, on one
/// thread with the reason on the page. At 360, 768, 1280 and 1920 CSS
/// pixels the page is no wider than the window, with a screenshot each,
/// and axe-core finds no violation (in Chromium; Firefox checks the widths
/// too, WebKit those from 768, its window's smallest being 447). An engine
/// that meets a fault of its own (`engine_fault`) is run once more.
#[test]
#[ignore = "needs Node.js, Chromium, Firefox ESR, WebKitWebDriver and Xvfb: run with -- --include-ignored"]
fn the_page_trains_alike_in_three_engines_and_fits_every_screen() {
    let (web, chromium) = browser_tools();
    other_engines();
    build_page(&web);
    let dir = tempfile::tempdir().unwrap();
    let data = write_data(dir.path());
    let server = ServePy::start(&dir.path().join("idx"));
    let (native_losses, _) = native_training(&data);
    let shots = std::env::var("FAW_KEEP_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| dir.path().to_path_buf());
    let shots = shots.to_str().unwrap();
    let batches = ENGINE_BATCHES.to_string();
    let common = [
        "--page",
        server.base(),
        "--idx",
        "data/{dataset}/",
        "--batches",
        &batches,
    ];
    let widths = "360,768,1280,1920";
    let seen: Vec<serde_json::Value> = [
        (
            "chromium",
            vec!["--widths", widths, "--shots", shots, "--axe", "1"],
        ),
        ("firefox", vec!["--widths", widths]),
        // MiniBrowser's window is at least 447 CSS pixels wide.
        (
            "webkit",
            vec![
                "--reloads",
                "2",
                "--widths",
                "768,1280,1920",
                "--shots",
                shots,
            ],
        ),
    ]
    .into_iter()
    .map(|(engine, more)| {
        let mut args = vec!["--engine", engine];
        args.extend(common);
        args.extend(more);
        let run = || try_node_script(&web, &chromium, engine == "webkit", "engines.mjs", &args);
        // Once more after a fault of the engine (printed): a page that
        // always meets one fails all the same.
        let mut r = run();
        if let Some(fault) = engine_fault(&r) {
            println!("{engine}, run again after a fault of the engine: {fault}");
            r = run();
        }
        let r = r.unwrap_or_else(|e| panic!("{e}"));
        println!(
            "{engine}: {} thread(s), {:?} s for {ENGINE_BATCHES} batches; {}",
            r["threads"], r["trainSeconds"], r["userAgent"]
        );
        println!("{engine}: {}", r["status"]);
        assert_eq!(r["ready"], true, "{engine}: {}", r["status"]);
        assert_eq!(r["step"], ENGINE_BATCHES, "{engine}");
        assert_eq!(r["isolated"], true, "{engine}: served by web/serve.py");
        r
    })
    .collect();
    let (chromium, firefox, webkit) = (&seen[0], &seen[1], &seen[2]);
    let losses = floats(&chromium["losses"]);
    assert_eq!(losses.len(), ENGINE_BATCHES);
    for (i, (a, b)) in losses.iter().zip(&native_losses).take(10).enumerate() {
        assert!(
            (a - b).abs() < 1e-5,
            "batch {}: loss {a} in Chromium, {b} natively",
            i + 1
        );
    }
    for other in [firefox, webkit] {
        let engine = &other["engine"];
        assert_eq!(other["losses"], chromium["losses"], "{engine}'s losses");
        assert_eq!(other["filters"], chromium["filters"], "{engine}'s filters");
    }
    assert!(chromium["threads"].as_u64() >= Some(2), "{chromium}");
    assert!(firefox["threads"].as_u64() >= Some(2), "{firefox}");
    // WebKit trains on threads, or says in one line why it does not.
    let status = webkit["status"].as_str().unwrap();
    if webkit["threads"] == 1 {
        assert!(
            status.contains("would not start WebAssembly threads"),
            "{status}"
        );
    }
    // Loaded again, twice (its worker's script "not modified" the first
    // time, which WebKit cannot start a worker from): ready each time.
    assert_eq!(
        webkit["reloads"],
        serde_json::json!([true, true]),
        "{webkit}"
    );
    // Every width: no wider than the window; no axe violation.
    for (r, n) in [(chromium, 4), (firefox, 4), (webkit, 3)] {
        let engine = &r["engine"];
        let widths = r["widths"].as_array().unwrap();
        assert_eq!(widths.len(), n, "{engine}");
        for w in widths {
            println!("{engine}: {w}");
            assert!(
                w["document"].as_u64() <= w["window"].as_u64(),
                "{engine}: the page is wider than the window: {w}"
            );
        }
    }
    for w in chromium["widths"].as_array().unwrap() {
        assert_eq!(w["axe"], serde_json::json!([]), "axe-core: {w}");
        let shot = Path::new(shots).join(format!("page-chromium-{}.png", w["width"]));
        assert!(shot.is_file(), "{}", shot.display());
    }
}

/// The page from the keyboard alone (Tab, Enter, Space, arrows), in
/// Chromium: a picture opened, the products read, a filter set by hand and
/// frozen, a batch trained, a test digit read and announced; focus drawn;
/// a cleared pad stays clear; numbers typed while training stay; "start
/// again" while training takes nothing of the old run; after a panic in
/// the crate, and after its memory ran out, "start again" starts a fresh
/// worker that trains; a stroke
/// drawn while another's prediction is on its way is read. And on a
/// phone's touch screen: the products, a filter's editor, the pad.
#[test]
#[ignore = "needs Node.js, Chromium, Firefox ESR, WebKitWebDriver and Xvfb: run with -- --include-ignored"]
fn the_page_works_from_the_keyboard_alone() {
    let (web, chromium) = browser_tools();
    build_page(&web);
    let dir = tempfile::tempdir().unwrap();
    write_data(dir.path());
    // The data as some mirrors name it, `.idx` and not gzipped: serve.py
    // answers the names the page asks for.
    let dotted = dir.path().join("dotted");
    std::fs::create_dir_all(&dotted).unwrap();
    for name in filters_are_weights::data::IDX_FILES {
        let gz = std::fs::File::open(dir.path().join(format!("idx/{name}.gz"))).unwrap();
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut raw).unwrap();
        std::fs::write(dotted.join(name.replacen("-idx", ".idx", 1)), raw).unwrap();
    }
    let server = ServePy::start(&dotted);
    let picture = dir.path().join("picture.png");
    image::GrayImage::from_fn(40, 30, |x, y| image::Luma([((x * 6 + y * 3) % 256) as u8]))
        .save(&picture)
        .unwrap();
    let r = node_script(
        &web,
        &chromium,
        false,
        "keyboard.mjs",
        &[
            "--page",
            server.base(),
            "--idx",
            "data/{dataset}/",
            "--picture",
            picture.to_str().unwrap(),
        ],
    );
    println!("reached by Tab: {}", r["reached"]);
    assert_eq!(r["console"], serde_json::json!([]));
    assert_eq!(r["pageErrors"], serde_json::json!([]));
    assert!(r["picture"].as_str().unwrap().contains("40×30"), "{r}");
    assert_eq!(r["pickerOutlined"], true, "focus on a file picker is drawn");
    assert!(
        r["products"].as_str().unwrap().contains("pixel (3, 2)"),
        "{r}"
    );
    assert!(r["productsSaid"].as_str().unwrap().contains("sum to"));
    assert_eq!(r["filterRole"], "button");
    let name = r["filterName"].as_str().unwrap();
    assert!(
        name.starts_with("filter 0: nearest kernel ") && name.contains("similarity"),
        "{name}"
    );
    assert_eq!(r["filterOutlined"], true);
    assert_eq!(r["buttonOutlined"], true);
    assert_eq!(r["editorShown"], true);
    assert!(
        r["frozenName"].as_str().unwrap().contains(", frozen"),
        "{r}"
    );
    assert!(r["step"].as_u64() >= Some(1));
    assert_eq!(r["frozenKept"], true);
    let reads = r["reads"].as_str().unwrap();
    assert!(r["said"].as_str().unwrap().starts_with("it reads"), "{r}");
    assert!(r["predictionName"].as_str().unwrap().contains(reads));
    assert!(r["padName"].as_str().unwrap().contains("labelled"), "{r}");
    assert_eq!(
        r["afterClear"],
        serde_json::json!({"prediction": false, "maps": false}),
        "a prediction asked for before the pad was cleared was shown after it"
    );
    assert_eq!(
        r["typedKept"],
        serde_json::json!(["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"]),
        "numbers typed while training were overwritten"
    );
    assert_eq!(
        r["afterRestart"],
        serde_json::json!({"step": 0, "losses": 0, "snapshots": 1}),
        "an update of the run before \"start again\" was taken into the new one"
    );
    let panic = &r["panic"];
    let status = panic["status"].as_str().unwrap();
    println!("after a panic: {status}");
    assert!(
        status.contains("a panic asked for by the page's tests") && status.contains("start again"),
        "{status}"
    );
    assert_eq!(panic["playDisabled"], true);
    assert_eq!(panic["restartDisabled"], false);
    assert_eq!(r["afterPanic"], 1, "{r}");
    let memory = &r["memory"];
    let status = memory["status"].as_str().unwrap();
    println!("after the memory ran out: {status}");
    assert!(
        status.contains("ran out of memory: the browser would not give it 64 MiB more")
            && status.contains("start again")
            && !status.contains("bug"),
        "{status}"
    );
    assert_eq!(memory["playDisabled"], true);
    assert_eq!(memory["restartDisabled"], false);
    assert_eq!(r["afterMemory"], 1, "{r}");
    println!(
        "the answer for the whole pad checked {} ms after the batches",
        r["lastStroke"]["ms"]
    );
    assert_eq!(
        r["lastStroke"]["shown"], r["lastStroke"]["whole"],
        "the answer shown is not the one for the whole pad after {} ms: a stroke was never read",
        r["lastStroke"]["ms"]
    );
    let touch = &r["touch"];
    assert!(
        touch["products"].as_str().unwrap().starts_with("pixel ("),
        "{touch}"
    );
    assert_eq!(touch["editor"], true, "{touch}");
    assert_eq!(touch["probabilities"], 10, "{touch}");
    assert_eq!(touch["wide"], false, "{touch}");
}

/// A run's link (src/link.rs) opened in Chromium and Firefox, each on one
/// thread: seed 7, 3000 images an epoch (batch 25 begins the second),
/// filter 3 set by hand and frozen before the first batch, filter 10 set
/// after 12, "train to batch 30 and stop". Both stop at batch 30 with the
/// same losses and filters, bit for bit, those of the native trainer
/// replaying the same link (losses within 1e-5, filters within 1e-4: native
/// sums in another order), filter 3 exactly as set; the link each makes of
/// the run reads back as the one opened. The same link with the tracking
/// keys sharing adds (utm_*, fbclid) replays the same run, bit for bit. A
/// malformed link, one from a newer page and one with a mistyped key (named
/// with the key it may mean) are explained, and the page starts plain.
#[test]
#[ignore = "needs Node.js, Chromium, Firefox ESR, WebKitWebDriver and Xvfb: run with -- --include-ignored"]
fn a_link_replays_a_run_bit_for_bit_in_two_engines() {
    use filters_are_weights::link::RunLink;
    let (web, chromium) = browser_tools();
    other_engines();
    build_page(&web);
    let dir = tempfile::tempdir().unwrap();
    let data = write_data(dir.path());
    let server = ServePy::start(&dir.path().join("idx"));
    let query = "link=1&seed=7&images=3000&filter=3:1,0,-1,2,0,-2,1,0,-1&freeze=3\
                 &filter=10@12:0.1,-0.2,0.3,-0.4,0.5,-0.6,0.7,-0.8,0.9&until=30";
    let link = RunLink::parse(query).unwrap().unwrap();
    let native = link.replay(&data, 0).unwrap();
    let native_filters = native.model.conv1_filter_values().unwrap();
    let open = |engine: &str, link: &str| {
        let args = [
            "--engine",
            engine,
            "--page",
            server.base(),
            "--idx",
            "data/{dataset}/",
            "--link",
            link,
            // One thread: the numbers are the same on any number (the
            // three-engine test holds 1 and 2 threads alike), and threads
            // that do not start have a test of their own.
            "--query",
            "threads=1",
        ];
        node_script(&web, &chromium, false, "engines.mjs", &args)
    };
    let seen = [open("chromium", query), open("firefox", query)];
    for r in &seen {
        let engine = &r["engine"];
        assert_eq!(
            r["linkError"],
            serde_json::Value::Null,
            "{engine}: {}",
            r["note"]
        );
        assert_eq!(
            (&r["step"], &r["stayed"]),
            (&30.into(), &30.into()),
            "{engine}: stopped at 30"
        );
        assert!(
            r["play"].as_str().unwrap().contains("train"),
            "{engine}: {}",
            r["play"]
        );
        assert!(
            r["announced"]
                .as_str()
                .unwrap()
                .contains("stopped where the link asks"),
            "{r}"
        );
        assert!(
            r["note"]
                .as_str()
                .unwrap()
                .contains("seed 7, 3000 images an epoch"),
            "{r}"
        );
        assert_eq!(r["frozen"], serde_json::json!([3]), "{engine}");
        let (losses, filters) = (floats(&r["losses"]), floats(&r["filters"]));
        assert_eq!(losses.len(), 30, "{engine}");
        for (i, (a, b)) in losses.iter().zip(&native.losses).enumerate() {
            assert!(
                (a - b).abs() < 1e-5,
                "{engine}, batch {}: loss {a}, natively {b}",
                i + 1
            );
        }
        // The filters carry 30 batches of those differences, which Adadelta's
        // normalised steps do not shrink: within 1e-4 (7e-5 measured).
        let apart = filters
            .iter()
            .zip(&native_filters)
            .map(|(a, b)| (a - b).abs());
        let most = apart.fold(0f32, f32::max);
        println!("{engine}: filters at most {most:e} from the native replay's");
        assert!(
            most < 1e-4,
            "{engine}: a filter weight {most} from the native replay's"
        );
        assert_eq!(
            &filters[27..36],
            &[1.0, 0.0, -1.0, 2.0, 0.0, -2.0, 1.0, 0.0, -1.0]
        );
        // The links it makes of the run: the same run, without and with "to batch 30".
        let read = |v: &serde_json::Value| {
            let address = v.as_str().unwrap();
            assert!(address.starts_with(server.base()), "{address}");
            RunLink::parse(address.split_once('?').unwrap().1)
                .unwrap()
                .unwrap()
        };
        assert_eq!(read(&r["madeHere"]), link, "{engine}");
        assert_eq!(
            read(&r["made"]),
            RunLink {
                until: None,
                ..link.clone()
            },
            "{engine}"
        );
    }
    let (a, b) = (&seen[0], &seen[1]);
    assert_eq!(a["losses"], b["losses"], "Chromium's and Firefox's losses");
    assert_eq!(
        a["filters"], b["filters"],
        "Chromium's and Firefox's filters"
    );
    // The link as sharing leaves it, with tracking keys before and after:
    // the same run, bit for bit.
    let shared = format!("utm_source=newsletter&{query}&fbclid=IwAR0x9&utm_medium=email");
    let r = open("chromium", &shared);
    assert_eq!(r["linkError"], serde_json::Value::Null, "{}", r["note"]);
    assert_eq!(r["step"], 30, "{r}");
    assert_eq!(
        (&r["losses"], &r["filters"]),
        (&a["losses"], &a["filters"]),
        "the link with tracking keys"
    );

    for (engine, bad, says) in [
        (
            "chromium",
            "link=1&filter=3:1,2",
            "a 3x3 filter has 9 numbers, not 2",
        ),
        (
            "firefox",
            "link=2&seed=7&filter=3:1",
            "made by a newer version of the page",
        ),
        ("chromium", "link=1&sead=7", "did you mean seed?"),
    ] {
        let r = open(engine, bad);
        let error = r["linkError"]
            .as_str()
            .unwrap_or_else(|| panic!("{engine}, {bad}: {r}"));
        assert!(error.contains(says), "{engine}: {error}");
        assert!(
            error.contains("The page starts as it always does"),
            "{error}"
        );
        assert_eq!(r["note"].as_str(), Some(error));
        assert_eq!(
            (&r["step"], &r["seed"]),
            (&0.into(), &"42".into()),
            "{engine}: plain"
        );
    }
}

/// The page's files and version as web/stamp.py wrote them into `site`'s
/// coi.js: (file, SHA-256; coi.js's own, which it cannot list, added) and
/// the version.
fn stamped(site: &Path) -> (Vec<(String, String)>, String) {
    let coi = std::fs::read_to_string(site.join("coi.js")).unwrap();
    let line = |name: &str| {
        coi.lines()
            .find_map(|l| {
                l.strip_prefix(&format!("const {name} = "))?
                    .strip_suffix(';')
            })
            .unwrap_or_else(|| panic!("web/stamp.py writes `const {name} = ...;` into coi.js"))
            .to_string()
    };
    let files: Vec<(String, Option<String>)> = serde_json::from_str(&line("FILES")).unwrap();
    let files = files
        .into_iter()
        .map(|(f, sha)| {
            let sha = sha.unwrap_or_else(|| sha256_hex(coi.as_bytes()));
            (f, sha)
        })
        .collect();
    (files, line("VERSION").trim_matches('\'').to_string())
}

/// The caches a page reported (offline.mjs): name -> [(key, SHA-256, bytes)].
fn caches_of(v: &serde_json::Value) -> BTreeMap<String, Vec<(String, String, u64)>> {
    serde_json::from_value(v.clone()).unwrap()
}

/// One version of the page kept, whole and alone: the cache named by
/// `version` holds each of `files` but the other WebAssembly build's (the
/// page runs `build`), each with its hash, and the mark of completion; no
/// other version's cache is left.
fn assert_one_version_kept(
    caches: &BTreeMap<String, Vec<(String, String, u64)>>,
    files: &[(String, String)],
    version: &str,
    build: &str,
) {
    let pages: Vec<&String> = caches
        .keys()
        .filter(|n| n.starts_with("faw-page"))
        .collect();
    assert_eq!(pages, [&format!("faw-page-{version}")], "{caches:?}");
    let kept = &caches[pages[0]];
    let other = if build == "pkg/" {
        "pkg-threads/"
    } else {
        "pkg/"
    };
    let mut wanted: Vec<&str> = files
        .iter()
        .map(|(f, _)| f.as_str())
        .filter(|f| !f.starts_with(other))
        .chain(["offline-page/complete"])
        .collect();
    wanted.sort();
    let keys: Vec<&str> = kept.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(keys, wanted, "the files of version {version}, with {build}");
    for (key, sha, _) in kept {
        match files.iter().find(|(f, _)| f == key) {
            Some((_, want)) => assert_eq!(sha, want, "{key} of version {version}"),
            None => assert_eq!(key, "offline-page/complete"),
        }
    }
}

/// The SHA-256 of `bytes` in hex, by `sha256sum` (coreutils; the tests add
/// no hashing crate).
fn sha256_hex(bytes: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum (coreutils)");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    said.split_whitespace().next().unwrap().to_string()
}

/// The page offline after one visit (web/tests/offline.mjs, Chromium): a
/// copy of the built page served by web/serve.py with MNIST and
/// Fashion-MNIST. Online, the page keeps one version of itself, whole (each
/// file checked against the hash web/stamp.py wrote, only the WebAssembly
/// build it runs), and MNIST; the data-set switch trains Fashion-MNIST from
/// the same server (its test images labelled with its class names) and
/// keeps it in a cache of its own. Offline, after a chapter of the guide
/// was opened online, the page's address opens the page (not the guide)
/// and trains each data set; the guide's chapter says it is not kept. A new
/// version served on the same address replaces the kept one on the next
/// online visit (every kept file the new version's, nothing of the old
/// left) and is the one that opens offline after.
#[test]
#[ignore = "needs Node.js, Chromium, Firefox ESR, WebKitWebDriver and Xvfb: run with -- --include-ignored"]
fn the_page_works_offline_after_one_visit() {
    let (web, chromium) = browser_tools();
    build_page(&web);
    let dir = tempfile::tempdir().unwrap();
    write_data(dir.path());
    let site = dir.path().join("site");
    copy_dir(&web.join("dist"), &site);
    let (files, version) = stamped(&site);
    let (mnist, fashion) = (dir.path().join("idx"), dir.path().join("idx/fashion"));
    let args = [
        "--site",
        site.to_str().unwrap(),
        "--mnist",
        mnist.to_str().unwrap(),
        "--fashion",
        fashion.to_str().unwrap(),
    ];
    let r = node_script(&web, &chromium, false, "offline.mjs", &args);
    println!("online: {}", r["online"]["offline"]);
    println!("after the switch: {}", r["fashionOnline"]["offline"]);
    println!("updated: {}", r["updated"]["offline"]);
    assert_eq!(r["console"], serde_json::json!([]), "{r}");
    let online = &r["online"];
    assert_eq!(online["kept"]["page"], true, "{online}");
    assert_eq!(online["kept"]["version"], version.as_str(), "{online}");
    let said = online["offline"].as_str().unwrap();
    assert!(
        said.contains(&format!("keeps this page (version {}: ", &version[..8]))
            && said.contains(") and MNIST"),
        "{said}"
    );
    assert!(said.contains("Fashion-MNIST: not kept"), "{said}");
    let build = if online["threads"].as_u64().unwrap() > 1 {
        "pkg-threads/"
    } else {
        "pkg/"
    };
    let caches = caches_of(&r["cachesOnline"]);
    assert_one_version_kept(&caches, &files, &version, build);
    let data: Vec<&String> = caches
        .keys()
        .filter(|n| n.starts_with("faw-data"))
        .collect();
    assert!(
        data.len() == 1 && data[0].starts_with("faw-data-mnist-"),
        "{data:?}"
    );
    // The data-set switch, on the same server: Fashion-MNIST, kept apart.
    let switched = &r["fashionOnline"];
    assert_eq!(switched["dataset"], "fashion-mnist", "{switched}");
    assert_eq!(switched["step"], 3, "{switched}");
    let address = switched["address"].as_str().unwrap();
    assert!(
        address.contains("data=data%2F%7Bdataset%7D%2F")
            && address.contains("dataset=fashion-mnist"),
        "{address}"
    );
    assert!(
        switched["data"]
            .as_str()
            .unwrap()
            .contains("/data/fashion-mnist"),
        "{switched}"
    );
    for (seen, set) in [
        (&r["online"], Dataset::Mnist),
        (&r["fashionOnline"], Dataset::FashionMnist),
        (&r["fashionOffline"], Dataset::FashionMnist),
    ] {
        let image = &seen["image"];
        let names = set.class_names();
        for said in [&image["label"], &image["reads"]] {
            assert!(names.contains(&said.as_str().unwrap()), "{set:?}: {image}");
        }
    }
    // Offline, after the guide was opened online: the page, on each data set.
    if !site.join("guide/index.html").is_file() {
        panic!(
            "web/build.sh built no guide (mdbook not installed?): the offline test opens a chapter"
        );
    }
    assert!(
        r["guideOnline"].as_str().unwrap().contains("the guide"),
        "{}",
        r["guideOnline"]
    );
    for (seen, set) in [
        (&r["offline"], "mnist"),
        (&r["fashionOffline"], "fashion-mnist"),
    ] {
        assert_eq!(seen["ready"], true, "offline {set}: {}", seen["status"]);
        assert_eq!(seen["controlled"], true);
        assert_eq!(seen["dataset"], set);
        assert!(!seen["title"].as_str().unwrap().contains("guide"), "{seen}");
        assert_eq!(seen["step"], 10, "{seen}");
        let losses = floats(&seen["losses"]);
        assert_eq!(losses.len(), 10);
        assert!(
            losses.iter().all(|l| l.is_finite() && *l > 0.0),
            "{losses:?}"
        );
    }
    let guide = &r["guideOffline"];
    assert_eq!(guide["title"], "Not kept for offline use", "{guide}");
    // The new version: kept whole, the old one gone; it opens offline.
    let (new_files, new_version) = stamped(&site);
    assert_eq!(r["newVersion"], new_version.as_str());
    assert_ne!(new_version, version);
    let caches = caches_of(&r["cachesUpdated"]);
    assert_one_version_kept(&caches, &new_files, &new_version, build);
    let mut data: Vec<&String> = caches
        .keys()
        .filter(|n| n.starts_with("faw-data"))
        .collect();
    data.sort();
    assert!(
        data.len() == 2
            && data[0].starts_with("faw-data-fashion-mnist-")
            && data[1].starts_with("faw-data-mnist-"),
        "one cache for each data set: {data:?}"
    );
    for (when, seen) in [("online", &r["updated"]), ("offline", &r["updatedOffline"])] {
        let title = seen["title"].as_str().unwrap();
        assert!(
            title.ends_with("(new version)"),
            "{when}, the new version: {title}"
        );
        assert_eq!(seen["ready"], true, "{when}: {}", seen["status"]);
        assert_eq!(seen["kept"]["version"], new_version.as_str(), "{when}");
    }
}

/// Threads that never start: a copy of the page whose pool threads each
/// load the module and then never run rayon's loop (as Firefox, loaded, now
/// and then leaves one), so that building the pool never ends. In Firefox
/// the page trains all the same, on one thread, once the threads have had
/// their time (20 s), and says why; its losses are the native trainer's.
#[test]
#[ignore = "needs Node.js, Chromium, Firefox ESR, WebKitWebDriver and Xvfb: run with -- --include-ignored"]
fn the_page_trains_on_one_thread_when_its_threads_never_start() {
    let (web, chromium) = browser_tools();
    other_engines();
    build_page(&web);
    let dir = tempfile::tempdir().unwrap();
    let data = write_data(dir.path());
    let site = dir.path().join("site");
    copy_dir(&web.join("dist"), &site);
    let snippets = site.join("pkg-threads/snippets");
    let helpers = std::fs::read_dir(&snippets)
        .unwrap()
        .map(|d| d.unwrap().path().join("src/workerHelpers.no-bundler.js"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "no wasm-bindgen-rayon worker script in {}",
                snippets.display()
            )
        });
    let script = std::fs::read_to_string(&helpers).unwrap();
    let run_thread = "pkg.wbg_rayon_start_worker(data.receiver);";
    assert!(
        script.contains(run_thread),
        "{}: {script}",
        helpers.display()
    );
    std::fs::write(&helpers, script.replace(run_thread, "// never runs")).unwrap();
    let server = ServePy::start_site(&dir.path().join("idx"), &site);
    let (native_losses, _) = native_training(&data);
    let args = [
        "--engine",
        "firefox",
        "--page",
        server.base(),
        "--idx",
        "data/{dataset}/",
        "--batches",
        "3",
    ];
    let r = node_script(&web, &chromium, false, "engines.mjs", &args);
    let status = r["status"].as_str().unwrap();
    println!("firefox: {status}");
    assert_eq!(r["ready"], true, "{status}");
    assert_eq!(r["isolated"], true, "served by web/serve.py");
    assert_eq!(r["threads"], 1, "{r}");
    assert!(
        status.contains("would not start WebAssembly threads (its ")
            && status.contains(" threads had not started after 20 s)"),
        "{status}"
    );
    let losses = floats(&r["losses"]);
    assert_eq!(losses.len(), 3);
    for (i, (a, b)) in losses.iter().zip(&native_losses).enumerate() {
        assert!(
            (a - b).abs() < 1e-5,
            "batch {}: loss {a}, {b} natively",
            i + 1
        );
    }
}

/// Copies the folder `from` to `to`, recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

/// Pictures for slides (web/tests/figures.mjs, Chromium): after one batch
/// shown and the rest of epoch 1, each file the page saves (the filters
/// with their nearest kernels, the post's figure, the curves, the step,
/// the animation) decodes, is 900 to 1,920 px wide (a slide's), and is,
/// byte for byte, the figure the native crate draws from what the page says
/// it drew it from; the animation has a frame for each
/// snapshot of the slider. Before an epoch has ended, the post's figure
/// cannot be drawn, and the page says why.
#[test]
#[ignore = "needs Node.js, Chromium, Firefox ESR, WebKitWebDriver and Xvfb: run with -- --include-ignored"]
fn the_page_saves_the_crates_figures_for_slides() {
    use filters_are_weights::candle::Tensor;
    use filters_are_weights::train::{FilterStep, History, Snapshot};
    let (web, chromium) = browser_tools();
    build_page(&web);
    let dir = tempfile::tempdir().unwrap();
    write_data(dir.path());
    let server = ServePy::start(&dir.path().join("idx"));
    let out = dir.path().join("saved");
    std::fs::create_dir_all(&out).unwrap();
    let args = [
        "--page",
        server.base(),
        "--idx",
        "data/{dataset}/",
        "--out",
        out.to_str().unwrap(),
    ];
    let r = node_script(&web, &chromium, false, "figures.mjs", &args);
    assert_eq!(r["pageErrors"], serde_json::json!([]), "{r}");
    let too_soon = r["tooSoon"].as_str().unwrap();
    assert!(too_soon.contains("no epoch has ended yet"), "{too_soon}");
    let tensor =
        |v: &serde_json::Value| Tensor::from_vec(floats(v), (32, 1, 3, 3), &Device::Cpu).unwrap();
    for kind in ["filters", "post", "curves", "step", "evolution"] {
        let f = &r["files"][kind];
        let saved = std::fs::read(f["path"].as_str().unwrap()).unwrap();
        let inputs = &f["inputs"];
        let history = || serde_json::from_value::<History>(inputs.clone()).unwrap();
        let native = match kind {
            "filters" => viz::nearest_kernels(&tensor(&inputs["filters"]))
                .unwrap()
                .png_bytes()
                .to_vec(),
            "post" => {
                let h = history();
                let epochs = h.epoch_snapshots();
                assert_eq!(epochs.iter().map(|s| s.epoch).collect::<Vec<_>>(), [0, 1]);
                viz::filter_evolution(&epochs, h.steps_per_epoch)
                    .unwrap()
                    .png_bytes()
                    .to_vec()
            }
            "curves" => viz::curves(&history()).unwrap().png_bytes().to_vec(),
            "step" => {
                let step = FilterStep {
                    loss: inputs["loss"].as_f64().unwrap() as f32,
                    before: tensor(&inputs["before"]),
                    gradient: tensor(&inputs["gradient"]),
                    update: tensor(&inputs["update"]),
                    after: tensor(&inputs["after"]),
                };
                viz::filter_step(&step).unwrap().png_bytes().to_vec()
            }
            _ => {
                let snapshots: Vec<Snapshot> =
                    serde_json::from_value(inputs["snapshots"].clone()).unwrap();
                assert_eq!(snapshots.len() as u64, r["snapshots"].as_u64().unwrap());
                let spe = inputs["stepsPerEpoch"].as_u64().unwrap() as usize;
                let ms = inputs["frameMs"].as_u64().unwrap() as u32;
                let zoom = inputs["zoom"].as_u64().unwrap() as u32;
                let gif = viz::filter_animation_zoomed(&snapshots, spe, ms, zoom).unwrap();
                let frames = image::AnimationDecoder::into_frames(
                    image::codecs::gif::GifDecoder::new(std::io::Cursor::new(&saved)).unwrap(),
                )
                .count();
                println!("{kind}: {} frames, {} KB", frames, saved.len() / 1024);
                assert_eq!(frames, snapshots.len(), "a frame for each snapshot");
                gif.gif_bytes().to_vec()
            }
        };
        // The animation's first frame, for a GIF.
        let picture = image::load_from_memory(&saved).unwrap();
        let (width, height) = (picture.width(), picture.height());
        println!("{kind}: {width} x {height} px, {} KB", saved.len() / 1024);
        assert!((900..=1920).contains(&width), "{kind}: {width} px wide");
        assert!(f["status"].as_str().unwrap().starts_with("saved "), "{f}");
        assert!(
            saved == native,
            "{kind}: the page's file is not the native crate's figure"
        );
    }
}

/// The bound on the page's WebAssembly memory with the whole of MNIST held.
const FULL_MNIST_MIB: f64 = 200.0;

/// The page holds all of MNIST (60,000 training and 10,000 test images, as
/// bytes) and trains within `FULL_MNIST_MIB` of WebAssembly memory, threads
/// on, in Chromium: two epochs of 3,000 images each (every image still
/// held), the worker's memory read once the data is decoded and at each
/// epoch's end, and not growing. `benches/web_memory.py` plays whole
/// epochs, in each engine.
#[test]
#[ignore = "needs Node.js, Chromium, Firefox ESR, WebKitWebDriver and Xvfb: run with -- --include-ignored"]
fn the_page_holds_all_of_mnist_within_its_memory_bound() {
    let (web, chromium) = browser_tools();
    build_page(&web);
    let dir = tempfile::tempdir().unwrap();
    let mnist = common::real_mnist();
    assert_eq!(mnist.train_len(), 60_000, "this test needs all of MNIST");
    mnist.save_idx(dir.path()).unwrap();
    let server = ServePy::start(dir.path());
    let args = [
        "--engine",
        "chromium",
        "--page",
        server.base(),
        "--idx",
        "data/{dataset}/",
        "--soak",
        "2",
        "--images-per-epoch",
        "3000",
        "--query",
        "threads=2",
    ];
    let r = node_script(&web, &chromium, false, "engines.mjs", &args);
    println!("all of MNIST in the page: {r}");
    let mib = |s: &serde_json::Value| s["workerMemory"].as_f64().unwrap() / (1 << 20) as f64;
    let soak = r["soak"].as_array().unwrap();
    assert_eq!(r["loaded"]["threads"], 2, "{r}");
    assert_eq!(soak.len(), 2, "{r}");
    for s in soak {
        assert_eq!(s["imagesPerEpoch"], 3000, "{r}");
        assert!(
            mib(s) < FULL_MNIST_MIB,
            "the worker's memory with all of MNIST: {:.0} MiB, over {FULL_MNIST_MIB} ({s})",
            mib(s)
        );
    }
    assert!(
        mib(&soak[1]) <= mib(&soak[0]) * 1.05,
        "the worker's memory grows from one epoch to the next: {r}"
    );
}
