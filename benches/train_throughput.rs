//! Training throughput of this crate's trainer on Keras' MNIST CNN: images per
//! second over a fixed number of optimizer steps (batch 128) after warm-up,
//! and the process's peak resident memory. Prints one JSON line.
//!
//! `MNIST_DIR=... cargo bench --bench train_throughput -- [STEPS] [WARMUP]
//! [--allocator-as-it-comes]` (defaults 60 and 5; the flag leaves glibc's
//! allocator settings as they come, without `keep_freed_memory`).
//! `benches/compare.py` runs it against Keras.

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

fn main() -> filters_are_weights::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    // As the command-line program does, unless asked not to.
    let as_it_comes = std::env::args().any(|a| a == "--allocator-as-it-comes");
    if !as_it_comes {
        filters_are_weights::train::keep_freed_memory();
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
        if as_it_comes {
            "as it comes"
        } else {
            "keep_freed_memory"
        }
    );
    Ok(())
}
