//! Executes every notebook, every cell, under the evcxr Jupyter kernel in
//! quick mode (`notebooks/run.py --quick`), failing on compile errors, panics,
//! errors, anything written to stderr, and missing figures; and checks that
//! the runner does catch each of those, on a notebook made to fail (and
//! does not overwrite it with `--write`); and that
//! a run split across cells ends where a run in one cell does.
//!
//! Ignored unless asked for (`cargo test --release -- --include-ignored`,
//! the README's test command), so that the library's own tests need neither
//! Jupyter nor evcxr.

use filters_are_weights::data::{self, Mnist, MNIST_DIR_ENV};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Mutex;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The kernels share one evcxr build directory: one runner at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn have(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A directory of MNIST's IDX files for the notebooks, which read MNIST from
/// `MNIST_DIR` or `data/mnist/` (they are built without the Hub download):
/// the local one if there is one, else MNIST from the Hub (its cache, else a
/// download) written once into `target/mnist-idx/`.
fn mnist_dir() -> PathBuf {
    if let Some(dir) = data::local_dir() {
        return dir;
    }
    let dir = PathBuf::from(ROOT).join("target/mnist-idx");
    if !data::has_idx_files(&dir) {
        let mnist = Mnist::load().unwrap_or_else(|e| panic!("the notebooks need MNIST: {e}"));
        mnist.save_idx(&dir).unwrap();
    }
    dir
}

/// Runs `notebooks/run.py` with `args`, after checking what it needs.
fn runner(args: &[&str]) -> Output {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    assert!(
        have("evcxr_jupyter", &["--help"]),
        "the notebooks need the evcxr Jupyter kernel: cargo install --locked evcxr_jupyter \
         && evcxr_jupyter --install"
    );
    assert!(
        have("python3", &["-c", "import jupyter_client, nbformat"]),
        "the notebook runner needs Python's jupyter_client and nbformat: \
         python3 -m pip install jupyter_client nbformat"
    );
    let output = Command::new("python3")
        .arg(format!("{ROOT}/notebooks/run.py"))
        .args(args)
        .env(MNIST_DIR_ENV, mnist_dir())
        .current_dir(ROOT)
        .output()
        .expect("python3 could not be started");
    println!("{}", String::from_utf8_lossy(&output.stdout));
    output
}

#[test]
#[ignore = "needs the evcxr Jupyter kernel, rust-src and Python's jupyter_client: run with -- --include-ignored"]
fn every_notebook_runs_in_quick_mode() {
    let output = runner(&["--quick"]);
    assert!(
        output.status.success(),
        "a notebook failed; see the lines above"
    );
}

#[test]
#[ignore = "needs the evcxr Jupyter kernel, rust-src and Python's jupyter_client: run with -- --include-ignored"]
fn training_across_cells_equals_training_in_one() {
    let output = runner(&["tests/data/across-cells.ipynb"]);
    assert!(
        output.status.success(),
        "tests/data/across-cells.ipynb failed; see the lines above"
    );
}

#[test]
#[ignore = "needs the evcxr Jupyter kernel, rust-src and Python's jupyter_client: run with -- --include-ignored"]
fn the_runner_catches_every_kind_of_failure() {
    // On a copy, with --write: a failed run must leave the file as it was.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("failing.ipynb");
    let original = std::fs::read(format!("{ROOT}/tests/data/failing.ipynb")).unwrap();
    std::fs::write(&copy, &original).unwrap();
    let output = runner(&["--write", copy.to_str().unwrap()]);
    assert!(!output.status.success(), "a failing notebook passed");
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        original,
        "--write overwrote a notebook whose run failed"
    );
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        report.contains("not written"),
        "no word that it was not written"
    );
    for expected in [
        "no classic kernel is named 'no such kernel'", // a `?` error
        "a line on stderr",                            // eprintln!
        "should show a figure but shows no PNG",       // a missing figure
        "a panic in a cell",                           // panic!
        "mismatched types",                            // a compile error
    ] {
        assert!(report.contains(expected), "not reported: {expected}");
    }
}

#[test]
#[ignore = "needs the evcxr Jupyter kernel, rust-src and Python's jupyter_client: run with -- --include-ignored"]
fn committed_outputs_name_no_machines_paths() {
    // What a committed notebook prints must read the same on every machine:
    // no MNIST folder, no checkout, no home or temporary directory.
    let mut places = vec![mnist_dir(), PathBuf::from(ROOT), PathBuf::from("/tmp/")];
    places.extend(std::env::var_os("HOME").map(PathBuf::from));
    let places: Vec<String> = places
        .iter()
        .map(|p| p.display().to_string())
        .filter(|p| p.len() > 1)
        .collect();
    let dir = PathBuf::from(ROOT).join("notebooks");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "ipynb") {
            continue;
        }
        let nb: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for cell in nb["cells"].as_array().unwrap() {
            for output in cell["outputs"].as_array().into_iter().flatten() {
                let text = output.to_string();
                for place in &places {
                    assert!(
                        !text.contains(place.as_str()),
                        "{} prints {place}: {}",
                        path.display(),
                        &text[..text.len().min(300)]
                    );
                }
            }
        }
        checked += 1;
    }
    assert!(
        checked >= 5,
        "only {checked} notebooks in {}",
        dir.display()
    );
}
