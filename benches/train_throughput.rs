//! Training throughput of this crate's trainer on Keras' MNIST CNN: images per
//! second over a fixed number of optimizer steps (batch 128) after warm-up,
//! and the process's peak resident memory. Prints one JSON line.
//!
//! `MNIST_DIR=... cargo bench --bench train_throughput -- [STEPS] [WARMUP]
//! [--keep-freed-memory]` (defaults 60 and 5). The flag tells glibc to keep
//! all freed memory for reuse (`mallopt`: no `mmap`, no trimming), as a
//! reference: the trainer keeps its buffers from step to step, so training
//! should not depend on the allocator's settings. `benches/compare.py` runs
//! it against Keras.

use candle_core::Device;
use filters_are_weights::data::Mnist;
use filters_are_weights::model::MnistCnn;
use filters_are_weights::train::{Progress, TrainConfig, Trainer};
use std::time::Instant;

/// Peak resident set size of this process, in MiB (Linux), from VmHWM.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Tells glibc's allocator to keep freed memory: blocks are never served by
/// `mmap` and the heap is never trimmed (elsewhere than glibc, nothing).
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator settings, which glibc allows at
    // any time (here before anything else runs).
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

fn main() -> filters_are_weights::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let keep_freed = std::env::args().any(|a| a == "--keep-freed-memory");
    if keep_freed {
        keep_freed_memory();
    }
    let steps = args.first().copied().unwrap_or(60);
    let warmup = args.get(1).copied().unwrap_or(5);
    let batch = 128;
    let data = Mnist::load()?.subset((steps + warmup) * batch, 1)?;
    let config = TrainConfig {
        epochs: 1,
        snapshot_epochs: vec![],
        progress: Progress::Silent,
        ..TrainConfig::default()
    };
    // Warm-up: the first steps allocate buffers and fill caches.
    let warm = data.subset(warmup * batch, 1)?;
    let mut trainer = Trainer::new(MnistCnn::new(42, &Device::Cpu)?, config.clone())?;
    trainer.run_epochs(&warm, 1)?;
    let timed = Mnist {
        train_images: data.train_images.narrow(0, warmup * batch, steps * batch)?,
        train_labels: data.train_labels.narrow(0, warmup * batch, steps * batch)?,
        ..data.clone()
    };
    let start = Instant::now();
    trainer.run_epochs(&timed, 1)?;
    // run_epochs also scores the (one-image) test set: negligible.
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{{\"name\": \"filters-are-weights\", \"images_per_s\": {:.1}, \"steps\": {steps}, \
         \"seconds\": {seconds:.2}, \"peak_rss_mib\": {:.0}, \"allocator\": \"{}\"}}",
        (steps * batch) as f64 / seconds,
        peak_rss_mib(),
        if keep_freed {
            "glibc keeping freed memory"
        } else {
            "as it comes"
        }
    );
    Ok(())
}
