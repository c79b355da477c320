//! Time to compute what the second layer sees ([`second_layer`]) for a
//! trained model: each conv2 channel's top patches over the test set, and
//! the inputs optimised for the 10 classes and for the 64 channels. Prints
//! one JSON line.
//!
//! `MNIST_DIR=... cargo bench --bench second_layer -- MODEL [ROUNDS]`
//! (MODEL a `model.safetensors` the crate wrote, e.g. by `reproduce`;
//! ROUNDS, default 3, times each part that many times and reports each
//! time).

use candle_core::Device;
use filters_are_weights::data::Mnist;
use filters_are_weights::model::MnistCnn;
use filters_are_weights::second_layer::{optimise_inputs, top_patches, AscentConfig, Target};
use std::time::Instant;

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed().as_secs_f64())
}

fn main() -> filters_are_weights::Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let Some(model) = args.first() else {
        eprintln!("usage: cargo bench --bench second_layer -- MODEL [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = args
        .get(1)
        .map_or(3, |r| r.parse().expect("ROUNDS: a number"));
    let model = MnistCnn::load(model, &Device::Cpu)?;
    let data = Mnist::from_dir_or_load(Default::default(), None)?;

    let config = AscentConfig::default();
    let classes: Vec<Target> = (0..10).map(Target::Class).collect();
    let channels: Vec<Target> = (0..64).map(Target::Channel).collect();
    let (mut patches, mut by_class, mut by_channel) = (vec![], vec![], vec![]);
    for _ in 0..rounds {
        patches.push(timed(|| top_patches(&model, &data.test_images, 9)).1);
        by_class.push(timed(|| optimise_inputs(&model, &classes, &config)).1);
        by_channel.push(timed(|| optimise_inputs(&model, &channels, &config)).1);
    }
    println!(
        "{{\"test_images\": {}, \"top_patches_s\": {patches:.3?}, \"classes_s\": {by_class:.3?}, \"channels_s\": {by_channel:.3?}, \"steps\": {}}}",
        data.test_len(),
        config.steps
    );
    Ok(())
}
