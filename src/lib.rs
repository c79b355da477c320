//! # Convolutional filters are weights
//!
//! A classic image kernel, chosen by hand, unveils the edges of a picture. A
//! convolutional network computes the same sums of products, but nobody
//! chooses its filters: they are weights, learned by gradient descent like
//! every other weight. This crate reproduces the 2017 post "TIL: Convolutional
//! Filters Are Weights": it trains Keras' `mnist_cnn.py` on MNIST with candle
//! and shows the 32 first-layer filters after 1, 7 and 15 epochs.
//!
//! The modules follow the lesson:
//!
//! | module | what it holds |
//! |---|---|
//! | [`kernels`] | setosa.io's nine classic 3×3 kernels, applied to any picture |
//! | [`picture`] | pictures to apply them to: loading within limits, the working size, the demo picture |
//! | [`data`] | MNIST from IDX files or the Hugging Face Hub, in mini-batches |
//! | [`model`] | Keras' MNIST CNN, its first-layer filters, save and load |
//! | [`ops`] | the convolution and max-pooling it is built from |
//! | [`optim`] | Adadelta with Keras' 2017 defaults |
//! | [`train`] | the training loop, filter snapshots, history |
//! | [`viz`] | the figures: filter grids, evolution, kernel gallery, curves |
//! | [`analysis`] | beyond the post: nearest classic kernels, feature maps, mistakes |
//! | [`experiment`] | the post's claim tested: hand-chosen, random and learned first layers |
//! | [`link`] | a run as a link: the settings that replay it bit for bit |
//! | [`report`] | a run's figures and analysis, written to a folder |
//! | [`text`] | numbers and matrices as text |
//!
//! The crate re-exports [`candle`](candle_core), [`candle_nn`] and [`image`],
//! so a notebook needs only one `:dep` line.
//!
//! ```no_run
//! use filters_are_weights::prelude::*;
//! let data = Mnist::load()?;
//! let mut trainer = Trainer::new(MnistCnn::new(42, &Device::Cpu)?, TrainConfig::default())?;
//! let history = trainer.run(&data)?;
//! viz::filter_evolution(&history.snapshots, history.steps_per_epoch)?.save_png("evolution.png")?;
//! # Ok::<(), filters_are_weights::Error>(())
//! ```

#![warn(missing_docs)]

// The README's and the guide's Rust examples are doctests: `cargo test`
// compiles them (`no_run` ones are not run: they train for minutes).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
#[cfg(doctest)]
#[doc = include_str!("../book/src/reproducing/library.md")]
struct GuideLibraryExamples;

pub mod analysis;
pub mod data;
pub mod error;
pub mod experiment;
pub mod io;
pub mod kernels;
pub mod link;
pub mod model;
pub mod ops;
pub mod optim;
pub mod picture;
pub mod report;
pub mod rng;
pub mod second_layer;
mod simd;
pub mod text;
pub mod train;
pub mod viz;

pub use candle_core as candle;
pub use candle_nn;
pub use error::{Error, Result};
pub use image;

/// Environment variable that puts the notebooks in quick mode.
pub const QUICK_ENV: &str = "FAW_QUICK";

/// Whether `FAW_QUICK` is set (to anything but `0`): notebooks then train on
/// less data for fewer epochs, so that all of them run in minutes.
pub fn quick_mode() -> bool {
    std::env::var(QUICK_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The device called `name`: `cpu`, `cuda` or `metal` (the last two need a
/// build with that feature, and the GPU).
pub fn device(name: &str) -> Result<candle_core::Device> {
    use candle_core::Device;
    let unavailable = |what: &str, e: candle_core::Error| {
        Error::DeviceUnavailable(format!(
            "device '{name}': {what} is not available ({e}); it needs a build with \
             the `{name}` feature and a {what} GPU; the CPU ('cpu') always works"
        ))
    };
    match name {
        "cpu" => Ok(Device::Cpu),
        "cuda" => Device::new_cuda(0).map_err(|e| unavailable("CUDA", e)),
        "metal" => Device::new_metal(0).map_err(|e| unavailable("Metal", e)),
        other => Err(Error::InvalidConfig(format!(
            "'{other}' is not a device; choose cpu, cuda or metal"
        ))),
    }
}

/// Everything a notebook or a program usually needs, in one `use`.
pub mod prelude {
    pub use crate::analysis::{self, Predictions};
    pub use crate::data::{self, Dataset, Mnist};
    pub use crate::kernels::{Kernel, CLASSIC};
    pub use crate::model::MnistCnn;
    pub use crate::optim::{Adadelta, AdadeltaConfig};
    pub use crate::picture::{self, demo_picture, load_picture};
    pub use crate::report::{self, Report};
    pub use crate::rng::Rng;
    pub use crate::second_layer::{self, AscentConfig, Target};
    pub use crate::train::{
        FilterStep, History, Progress, Snapshot, TrainConfig, Trainer, EARLY_STEPS,
    };
    pub use crate::viz::{self, ColourScale, Figure};
    pub use crate::{quick_mode, Error, Result};
    pub use candle_core::{DType, Device, Tensor, Var};
    pub use image::GrayImage;
}
