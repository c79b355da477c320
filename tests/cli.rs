//! The `reproduce`, `hand-vs-learned`, `compare-datasets`, `plot` and `analyze` commands, end to
//! end on a tiny synthetic MNIST: every promised file is written.

mod common;

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_filters-are-weights");

#[test]
fn reproduce_writes_every_figure_then_plot_and_analyze_redo_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = common::write_mnist_dir(&dir.path().join("mnist"), 300, 100, true);
    let out = dir.path().join("out");
    let run = Command::new(BIN)
        .args(["reproduce", "--epochs=2", "--quiet", "--data-dir"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    common::assert_files(
        &out,
        &[
            "kernel-gallery.png",
            "filters-epoch-00.png",
            "filters-epoch-01.png",
            "filters-epoch-02.png",
            "filters-evolution.png",
            "filters-first-steps.png",
            "filters-steps.png",
            "filters-change.png",
            "filters-animation.gif",
            "curves.png",
            "curves.svg",
            "model.safetensors",
            "history.json",
            "nearest-kernels.png",
            "nearest-kernels.tsv",
            "feature-maps-digit.png",
            "classic-maps-digit.png",
            "feature-maps-picture.png",
            "confusion.png",
            "second-layer-top-patches.png",
            "second-layer-classes.png",
            "second-layer-channels.png",
            "model-epoch-01.safetensors",
            "model-epoch-02.safetensors",
            "second-layer-epochs.png",
        ],
        0,
    );
    // The model kept after the last epoch is the final one.
    assert_eq!(
        std::fs::read(out.join("model-epoch-02.safetensors")).unwrap(),
        std::fs::read(out.join("model.safetensors")).unwrap()
    );
    let tsv = std::fs::read_to_string(out.join("nearest-kernels.tsv")).unwrap();
    assert_eq!(tsv.lines().count(), 33, "{tsv}");
    let gif = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(
        std::fs::File::open(out.join("filters-animation.gif")).unwrap(),
    ))
    .unwrap();
    let frames = image::AnimationDecoder::into_frames(gif).count();
    // 3 batches per epoch: epochs 0, 1, 2 (steps 0, 3, 6) and the default
    // early steps that fall in the run (1, 2, 5).
    assert_eq!(frames, 6);

    let again = dir.path().join("again");
    let plot = Command::new(BIN)
        .arg("plot")
        .arg(out.join("history.json"))
        .arg(&again)
        .output()
        .unwrap();
    assert!(
        plot.status.success(),
        "{}",
        String::from_utf8_lossy(&plot.stderr)
    );
    assert_eq!(
        std::fs::read(out.join("filters-evolution.png")).unwrap(),
        std::fs::read(again.join("filters-evolution.png")).unwrap()
    );
    let analyze = Command::new(BIN)
        .arg("analyze")
        .arg(out.join("model.safetensors"))
        .arg(&again)
        .env("MNIST_DIR", &data)
        .output()
        .unwrap();
    assert!(
        analyze.status.success(),
        "{}",
        String::from_utf8_lossy(&analyze.stderr)
    );
    assert_eq!(
        std::fs::read(out.join("nearest-kernels.tsv")).unwrap(),
        std::fs::read(again.join("nearest-kernels.tsv")).unwrap()
    );
    // The second layer's figures, from the model alone, as reproduce drew them.
    for figure in [
        "second-layer-top-patches.png",
        "second-layer-classes.png",
        "second-layer-channels.png",
    ] {
        assert_eq!(
            std::fs::read(out.join(figure)).unwrap(),
            std::fs::read(again.join(figure)).unwrap(),
            "{figure}"
        );
    }
}

#[test]
fn an_interrupted_reproduce_resumes_to_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let data = common::write_mnist_dir(&dir.path().join("mnist"), 300, 50, false);
    let run = |out: &std::path::Path, epochs: &str, resume: bool| {
        let mut cmd = Command::new(BIN);
        cmd.args([
            "reproduce",
            "--quiet",
            "--seed",
            "3",
            "--epochs",
            epochs,
            "--data-dir",
        ])
        .arg(&data)
        .arg("--out")
        .arg(out);
        if resume {
            cmd.arg("--resume");
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let straight = dir.path().join("straight");
    run(&straight, "2", false);
    // Stopped after one epoch, then resumed to two.
    let resumed = dir.path().join("resumed");
    run(&resumed, "1", false);
    let log = run(&resumed, "2", true);
    assert!(
        log.contains("resuming from") && log.contains("after epoch 1"),
        "{log}"
    );
    let history = |dir: &std::path::Path| -> serde_json::Value {
        let text = std::fs::read_to_string(dir.join("history.json")).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        // Wall times differ from run to run; everything else must not.
        for e in v["epochs"].as_array_mut().unwrap() {
            e["train_seconds"] = serde_json::Value::Null;
        }
        v
    };
    assert_eq!(history(&straight), history(&resumed));
    assert_eq!(
        std::fs::read(straight.join("nearest-kernels.tsv")).unwrap(),
        std::fs::read(resumed.join("nearest-kernels.tsv")).unwrap()
    );
    // Resuming with other settings is refused, with the reason.
    let o = Command::new(BIN)
        .args([
            "reproduce",
            "--quiet",
            "--seed",
            "4",
            "--epochs",
            "3",
            "--resume",
            "--data-dir",
        ])
        .arg(&data)
        .arg("--out")
        .arg(&resumed)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("made with seed 3"),
        "{err}"
    );
}

#[test]
fn hand_vs_learned_writes_its_tables_and_figures_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let data = common::write_mnist_dir(&dir.path().join("mnist"), 300, 100, true);
    let out = dir.path().join("out");
    let run = |extra: &[&str]| {
        let run = Command::new(BIN)
            .args(["hand-vs-learned", "--epochs", "1", "--data-dir"])
            .arg(&data)
            .arg("--out")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{stdout}\n{stderr}");
        stdout
    };
    let first = run(&["--seeds", "2", "--quiet"]);
    assert!(
        first.contains("8 runs: 4 first layers x seeds [42, 43]"),
        "{first}"
    );
    common::assert_files(&out, &["hand-vs-learned.json"], 0);
    common::assert_files(&out, &common::HAND_VS_LEARNED_FILES, 0);
    let table = std::fs::read_to_string(out.join("hand-vs-learned.tsv")).unwrap();
    assert_eq!(table.lines().count(), 5, "{table}");
    assert!(
        first.contains("random, frozen") && first.contains("of 64 are still"),
        "{first}"
    );
    assert!(
        first.contains("second layer: conv2's channels with a like in another network"),
        "{first}"
    );
    // Each arm against itself over other seeds, each pair of arms over the
    // same and other seeds: 4 + 6 × 2 rows.
    let second = std::fs::read_to_string(out.join("hand-vs-learned-second-layer.tsv")).unwrap();
    assert_eq!(second.lines().count(), 1 + 4 + 12, "{second}");
    // Resumed, nothing is left to train: the same tables again.
    let again = run(&["--seeds", "2", "--resume"]);
    assert!(again.contains("8 of 8 runs already done"), "{again}");
    assert!(!again.contains("epoch 1/1"), "{again}");
    assert_eq!(
        std::fs::read_to_string(out.join("hand-vs-learned.tsv")).unwrap(),
        table
    );
    // Without --resume an earlier run is replaced, and it says so.
    let fresh = run(&["--seeds", "1", "--quiet"]);
    assert!(fresh.contains("holds an earlier run"), "{fresh}");
}

#[test]
fn fashion_mnist_runs_name_their_classes_and_compare_datasets_trains_both() {
    let dir = tempfile::tempdir().unwrap();
    let mnist = common::write_mnist_dir(&dir.path().join("mnist"), 300, 100, true);
    let fashion = common::write_mnist_dir(&dir.path().join("fashion"), 300, 100, false);
    let run = |args: &[&str]| {
        let o = Command::new(BIN).args(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        (o.status.success(), stdout, stderr)
    };
    let path = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let out = dir.path().join("fashion-out");
    let (ok, stdout, stderr) = run(&[
        "reproduce",
        "--dataset",
        "fashion-mnist",
        "--epochs=1",
        "--quiet",
        "--data-dir",
        &path(&fashion),
        "--out",
        &path(&out),
    ]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("Fashion-MNIST from IDX files"), "{stdout}");
    let confusion = std::fs::read_to_string(out.join("confusion.svg")).unwrap();
    for name in ["T-shirt/top", "Ankle boot", "true class"] {
        assert!(confusion.contains(name), "{name} not in confusion.svg");
    }
    let curves = std::fs::read_to_string(out.join("curves.svg")).unwrap();
    assert!(
        curves.contains("on Fashion-MNIST"),
        "the curves do not name it"
    );
    let history = std::fs::read_to_string(out.join("history.json")).unwrap();
    assert!(
        history.contains("\"dataset\": \"fashion-mnist\""),
        "{history}"
    );
    // Resuming it as MNIST is refused, with the reason.
    let (ok, _, stderr) = run(&[
        "reproduce",
        "--epochs=2",
        "--quiet",
        "--resume",
        "--data-dir",
        &path(&mnist),
        "--out",
        &path(&out),
    ]);
    assert!(
        !ok && stderr.contains("made with data set fashion-mnist, this run has mnist"),
        "{stderr}"
    );
    // An MNIST run's confusion matrix has digits, not Fashion-MNIST's names.
    let digits = dir.path().join("mnist-out");
    let (ok, _, stderr) = run(&[
        "analyze",
        &path(&out.join("model.safetensors")),
        &path(&digits),
        "--data-dir",
        &path(&mnist),
    ]);
    assert!(ok, "{stderr}");
    let confusion = std::fs::read_to_string(digits.join("confusion.svg")).unwrap();
    assert!(confusion.contains("true digit") && !confusion.contains("Ankle boot"));

    let both = dir.path().join("datasets");
    let (ok, stdout, stderr) = run(&[
        "compare-datasets",
        "--epochs=1",
        "--quiet",
        "--mnist-dir",
        &path(&mnist),
        "--fashion-mnist-dir",
        &path(&fashion),
        "--out",
        &path(&both),
    ]);
    assert!(ok, "{stdout}\n{stderr}");
    common::assert_files(
        &both,
        &[
            "datasets.png",
            "datasets.tsv",
            "mnist/history.json",
            "fashion-mnist/history.json",
            "fashion-mnist/model.safetensors",
        ],
        0,
    );
    let table = std::fs::read_to_string(both.join("datasets.tsv")).unwrap();
    assert!(
        table.starts_with("measure\tmnist\tfashion-mnist\n"),
        "{table}"
    );
    // 4 measures and a row per classic kernel but identity, each counting
    // the 32 filters between them.
    let counts: Vec<Vec<usize>> = (table.lines())
        .filter(|l| l.starts_with("nearest "))
        .map(|l| l.split('\t').skip(1).map(|n| n.parse().unwrap()).collect())
        .collect();
    assert_eq!(counts.len(), 8, "{table}");
    for column in 0..2 {
        assert_eq!(
            counts.iter().map(|c| c[column]).sum::<usize>(),
            32,
            "{table}"
        );
    }
    // The same seed and the same files give the same filters: the two runs
    // differ only in the data set they are said to be.
    let mnist_history = std::fs::read_to_string(both.join("mnist/history.json")).unwrap();
    let fashion_history = std::fs::read_to_string(both.join("fashion-mnist/history.json")).unwrap();
    let snapshots =
        |h: &str| serde_json::from_str::<serde_json::Value>(h).unwrap()["snapshots"].clone();
    assert_eq!(snapshots(&mnist_history), snapshots(&fashion_history));
}

#[test]
fn bad_options_say_what_is_wrong() {
    for (args, expected) in [
        (
            vec!["reproduce", "--epochs", "0"],
            "epochs must be at least 1",
        ),
        (
            vec!["reproduce", "--epochs", "x"],
            "'x' is not a valid number",
        ),
        (
            vec!["reproduce", "--epochs", "3", "--snapshot-epochs", "0,5"],
            "snapshot epoch 5 is beyond",
        ),
        (
            vec!["reproduce", "--frobnicate"],
            "unexpected argument '--frobnicate'",
        ),
        (
            vec![
                "reproduce",
                "--data-dir",
                "/no/such/dir",
                "--out",
                "/tmp/faw-cli-bad",
            ],
            "/no/such/dir does not exist",
        ),
        (
            vec![
                "reproduce",
                "--picture",
                "/no/such.png",
                "--out",
                "/tmp/faw-cli-bad",
            ],
            "no such file",
        ),
        (vec!["dance"], "unrecognized subcommand 'dance'"),
        (
            vec!["compare-datasets", "--dataset", "mnist"],
            "unexpected argument '--dataset'",
        ),
        (
            vec!["reproduce", "--dataset", "kmnist"],
            "[possible values: mnist, fashion-mnist]",
        ),
        // An option where a path is expected is an option, not a path.
        (vec!["plot", "--foo"], "unexpected argument '--foo'"),
        (vec!["plot"], "<HISTORY>"),
        (
            vec![
                "hand-vs-learned",
                "--seeds",
                "0",
                "--out",
                "/tmp/faw-cli-bad",
            ],
            "at least one arm and one seed",
        ),
    ] {
        let run = Command::new(BIN).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    }
    // What the parser refuses exits with 2 (clap's usage error), what fails
    // while running with 1.
    let code = |args: &[&str]| Command::new(BIN).args(args).output().unwrap().status.code();
    assert_eq!(code(&["reproduce", "--epochs", "x"]), Some(2));
    assert_eq!(code(&["dance"]), Some(2));
    let out = tempfile::tempdir().unwrap();
    let out = out.path().to_str().unwrap();
    let missing = ["reproduce", "--data-dir", "/no/such/dir", "--out", out];
    assert_eq!(code(&missing), Some(1));
}

/// The program's stdout for `args`, which must succeed.
fn ok(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty(), "{args:?} wrote to stderr");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn help_and_version_from_anywhere_exit_zero() {
    for args in [&["--help"][..], &["-h"], &["help"], &[]] {
        assert!(ok(args).contains("reproduce [OPTIONS]"), "{args:?}");
    }
    // After a command, anywhere among its options: that command's help.
    for args in [
        &["reproduce", "--help"][..],
        &["reproduce", "-h"],
        &["reproduce", "--epochs", "3", "--help"],
        &["help", "reproduce"],
    ] {
        let text = ok(args);
        assert!(
            text.contains("--snapshot-every") && text.contains("--device"),
            "{args:?}"
        );
    }
    for command in ["plot", "analyze", "demo-picture"] {
        let text = ok(&[command, "--help"]);
        assert!(
            text.contains(&format!("filters-are-weights {command}")),
            "{text}"
        );
    }
    let version = ok(&["--version"]);
    assert_eq!(
        version.trim(),
        format!("filters-are-weights {}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(ok(&["-V"]), version);
}

#[test]
fn hf_hubs_variables_reach_the_command_line() {
    // No MNIST_DIR, no data/mnist/ where it runs, an empty hf-hub cache:
    // HF_HUB_OFFLINE=1 forbids the download, HF_ENDPOINT names the server.
    let dir = tempfile::tempdir().unwrap();
    let run = |vars: &[(&str, &str)]| {
        let mut cmd = Command::new(BIN);
        cmd.args(["reproduce", "--epochs=1", "--quiet", "--out"])
            .arg(dir.path().join("out"))
            .current_dir(dir.path())
            .env_remove("MNIST_DIR")
            .env_remove("HF_HUB_CACHE")
            .env_remove("HF_HUB_OFFLINE")
            .env_remove("HF_ENDPOINT")
            .env("HF_HOME", dir.path().join("hf"));
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let offline = run(&[("HF_HUB_OFFLINE", "1")]);
    assert!(offline.contains("offline mode is on"), "{offline}");
    // An empty MNIST_DIR is no directory: as if it were not set.
    let empty = run(&[("HF_HUB_OFFLINE", "1"), ("MNIST_DIR", "")]);
    assert!(empty.contains("offline mode is on"), "{empty}");
    let elsewhere = run(&[("HF_ENDPOINT", "http://127.0.0.1:9")]);
    assert!(
        // Refused by that port (the Hub itself would not be found here).
        elsewhere.contains("could not be downloaded") && elsewhere.contains("refused"),
        "{elsewhere}"
    );
}

#[test]
fn mnist_asked_for_as_fashion_mnist_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let mnist = dir.path().join("mnist");
    common::real_mnist()
        .subset(200, 50)
        .unwrap()
        .save_idx(&mnist)
        .unwrap();
    let o = Command::new(BIN)
        .args([
            "reproduce",
            "--dataset",
            "fashion-mnist",
            "--epochs=1",
            "--quiet",
            "--data-dir",
        ])
        .arg(&mnist)
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("these files hold MNIST, not Fashion-MNIST"),
        "{err}"
    );
    assert!(err.contains("--data-dir DIR must hold"), "{err}");
}
