//! Helpers shared by the integration tests: small synthetic MNIST-format
//! data sets, and the real MNIST when `MNIST_DIR` points at it.
#![allow(dead_code)]

#[cfg(feature = "hub")]
pub mod parquet;

use filters_are_weights::data::idx::{self, IdxImages};
use filters_are_weights::data::Mnist;
use std::path::{Path, PathBuf};

/// `n` 28x28 images with a deterministic pattern, and labels `i % 10`.
pub fn synthetic(n: usize) -> (IdxImages, Vec<u8>) {
    let pixels = (0..n * 28 * 28)
        .map(|i| ((i * 37 + i / 784 * 11) % 256) as u8)
        .collect();
    let images = IdxImages {
        count: n,
        rows: 28,
        cols: 28,
        pixels,
    };
    (images, (0..n).map(|i| (i % 10) as u8).collect())
}

/// Writes a synthetic MNIST directory (gzipped or not) and returns its path.
pub fn write_mnist_dir(dir: &Path, train: usize, test: usize, gz: bool) -> PathBuf {
    let ext = if gz { ".gz" } else { "" };
    let (ti, tl) = synthetic(train);
    let (vi, vl) = synthetic(test);
    idx::write_images(dir.join(format!("train-images-idx3-ubyte{ext}")), &ti).unwrap();
    idx::write_labels(dir.join(format!("train-labels-idx1-ubyte{ext}")), &tl).unwrap();
    idx::write_images(dir.join(format!("t10k-images-idx3-ubyte{ext}")), &vi).unwrap();
    idx::write_labels(dir.join(format!("t10k-labels-idx1-ubyte{ext}")), &vl).unwrap();
    dir.to_path_buf()
}

/// The real MNIST, from where the crate finds it: `$MNIST_DIR`, else
/// `data/mnist/`, else the Hugging Face Hub (its cache, else a download).
pub fn real_mnist() -> Mnist {
    Mnist::load().unwrap_or_else(|e| {
        panic!(
            "these tests train on the real MNIST, which could not be found: {e} \
             (see book/src/reproducing/data.md, \"Where MNIST comes from\")"
        )
    })
}

/// What a child process did: its output, exit status, peak resident memory
/// and wall time.
pub struct Measured {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
    /// Peak resident memory of the child, in MiB (`ru_maxrss` from `wait4`).
    pub peak_mib: f64,
    /// Resident memory of the test process when it started the child, in
    /// MiB: a forked child's peak is never reported below it.
    pub parent_mib: f64,
    pub seconds: f64,
}

/// This process's resident memory now, in MiB (Linux's VmRSS).
pub fn resident_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Runs `cmd` to the end and reads back its peak resident memory
/// (`ru_maxrss`, from `wait4`).
///
/// Linux counts in a child's peak the memory its parent had resident when
/// the child was made (a `vfork`-style spawn even the parent's own peak), so
/// the child is made by `fork` (forced by a `pre_exec` hook) and the test
/// process's resident memory at that moment is returned beside it.
#[cfg(target_os = "linux")]
#[allow(clippy::zombie_processes)] // reaped by wait4 below, which std cannot do
pub fn run_measured(mut cmd: std::process::Command) -> Measured {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    // SAFETY: the hook does nothing; it only makes std fork instead of vfork.
    unsafe {
        cmd.pre_exec(|| Ok(()));
    }
    let parent_mib = resident_mib();
    let start = std::time::Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).unwrap();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).unwrap();
        s
    });
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child, which
    // std has not waited for.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed");
    Measured {
        success: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        peak_mib: usage.ru_maxrss as f64 / 1024.0,
        parent_mib,
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// A small tmpfs mounted for a test, unmounted when dropped; `None` (with
/// the reason) where this machine does not let the test mount one.
pub struct SmallDisk {
    pub path: PathBuf,
}

impl SmallDisk {
    pub fn mount(path: &Path, size: &str) -> Result<Self, String> {
        std::fs::create_dir_all(path).map_err(|e| e.to_string())?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(Self {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.path)
            .status();
    }
}

/// What `Report::hand_vs_learned` writes: the figures and the tables.
pub const HAND_VS_LEARNED_FILES: [&str; 8] = [
    "hand-vs-learned.png",
    "hand-vs-learned.svg",
    "hand-vs-learned.tsv",
    "hand-vs-learned-epochs.tsv",
    "hand-vs-learned-drift.tsv",
    "hand-vs-learned-filters.png",
    "hand-vs-learned-second-layer.png",
    "hand-vs-learned-second-layer.tsv",
];

/// Asserts that each of `files` is in `dir` and holds more than `min_bytes`.
pub fn assert_files(dir: &Path, files: &[&str], min_bytes: u64) {
    for file in files {
        let len = dir.join(file).metadata().map_or(0, |m| m.len());
        assert!(
            len > min_bytes,
            "{file} missing from {} (or too small: {len} bytes)",
            dir.display()
        );
    }
}
