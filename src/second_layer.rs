//! What the second layer sees. conv2's 64 channels are 32-deep 3×3 filters
//! over the first layer's maps: not pictures a person can read. Two ways to
//! show what drives them instead:
//!
//! 1. **Top patches** (Zeiler & Fergus, 2014): for each channel, the `k`
//!    images where its ReLU output peaks highest, one position an image,
//!    each shown as the 5×5 patch of the picture that position sees (its
//!    receptive field: conv2's output `(r, c)` depends on input rows
//!    `r..r + 5` and columns `c..c + 5`, through two 3×3 convolutions).
//! 2. **Optimised inputs** (Simonyan et al., 2013): the 28×28 input that
//!    drives a class's score (or a channel's total answer) highest,
//!    found by gradient ascent on the input from a blank picture (a faint
//!    uniform gray, 0.1: at pure black a ReLU with no bias passes no
//!    gradient), each step moving the pixel with the largest gradient by
//!    `lr`:
//!
//!    ```text
//!    g ← ∇ₓ(score(x) − λ‖x‖²)
//!    x ← clamp(x + lr · g / max|g|, 0, 1), blurred every few steps
//!    ```
//!
//!    The L2 term keeps the picture from filling with saturated pixels and
//!    the blur keeps it from high-frequency noise that excites the network
//!    but no eye. No randomness: the same model gives the same picture.
//!
//! ```
//! use filters_are_weights::second_layer::{top_patches, RECEPTIVE_FIELD};
//! use filters_are_weights::model::MnistCnn;
//! use candle_core::{DType, Device, Tensor};
//! let model = MnistCnn::new(42, &Device::Cpu)?;
//! let images = Tensor::rand(0f32, 1f32, (20, 1, 28, 28), &Device::Cpu)?;
//! let channels = top_patches(&model, &images, 4)?;
//! assert_eq!(channels.len(), 64);
//! assert_eq!(channels[0].top.len(), 4);
//! assert_eq!(channels[0].top[0].patch.len(), RECEPTIVE_FIELD * RECEPTIVE_FIELD);
//! # Ok::<(), filters_are_weights::Error>(())
//! ```

use crate::data::to_unit;
use crate::error::{Error, Result};
use crate::model::MnistCnn;
use crate::ops::Backend;
use candle_core::{DType, Tensor, Var};

/// The side of conv2's receptive field: two 3×3 convolutions see 5×5 pixels.
pub const RECEPTIVE_FIELD: usize = 5;

/// The gray an optimised input starts from.
const START_GRAY: f64 = 0.1;

/// Side of conv2's output maps (28 − 2 − 2).
const MAP: usize = 24;

/// One of a channel's top images.
#[derive(Debug, Clone, PartialEq)]
pub struct TopPatch {
    /// Which image (its index in the images searched).
    pub image: usize,
    /// Where the channel peaked in it: conv2's output row and column, which
    /// are also the top-left pixel of the patch.
    pub at: (usize, usize),
    /// The channel's ReLU output there.
    pub activation: f32,
    /// The 5×5 pixels it sees, row by row, 0..1.
    pub patch: Vec<f32>,
}

/// A conv2 channel's top images, highest first.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelPatches {
    /// The channel, 0..64.
    pub channel: usize,
    /// Its `k` top images, distinct, highest activation first.
    pub top: Vec<TopPatch>,
}

impl ChannelPatches {
    /// The mean of the top patches, pixel by pixel: what the channel's
    /// strongest answers have in common.
    pub fn mean_patch(&self) -> Vec<f32> {
        let mut mean = vec![0.0; RECEPTIVE_FIELD * RECEPTIVE_FIELD];
        for p in &self.top {
            for (m, v) in mean.iter_mut().zip(&p.patch) {
                *m += v / self.top.len() as f32;
            }
        }
        mean
    }
}

/// conv2's ReLU output `[b, 24, 24, 64]` (channels-last) for `images`
/// `[b, 1, 28, 28]` (bytes or f32), not training.
pub fn conv2_maps(model: &MnistCnn, images: &Tensor) -> Result<Tensor> {
    let x = to_unit(images)?.to_device(model.device())?;
    let (b, _, h, w) = x.dims4()?;
    let x = x.reshape((b, h, w, 1))?; // [b, 28, 28, 1]
    let h1 = model.conv1.forward(&x)?; // [b, 26, 26, 32]
    model.conv2.forward(&h1) // [b, 24, 24, 64]
}

/// For each of conv2's 64 channels, the `k` images of `images` `[n, 1, 28,
/// 28]` where its output peaks highest (each image's first highest position,
/// in row-major order; ties between images go to the earlier one), highest
/// first, with the patches they see.
pub fn top_patches(model: &MnistCnn, images: &Tensor, k: usize) -> Result<Vec<ChannelPatches>> {
    let n = images.dim(0)?;
    if k == 0 || k > n {
        return Err(Error::BadArgument(format!(
            "top patches: k must be 1..={n} (the images searched), not {k}"
        )));
    }
    let channels = model.conv2.weights().0.dim(3)?;
    // Per channel, (activation, image, row, col) of the best so far.
    let mut best: Vec<Vec<(f32, usize, usize, usize)>> = vec![Vec::new(); channels];
    const BATCH: usize = 500;
    for start in (0..n).step_by(BATCH) {
        let b = BATCH.min(n - start);
        let maps = conv2_maps(model, &images.narrow(0, start, b)?)?;
        let maps: Vec<f32> = maps.flatten_all()?.to_vec1()?; // [b, 24, 24, 64]
        for i in 0..b {
            let image = &maps[i * MAP * MAP * channels..(i + 1) * MAP * MAP * channels];
            for (ch, list) in best.iter_mut().enumerate() {
                let (mut top, mut at) = (f32::NEG_INFINITY, 0);
                for p in 0..MAP * MAP {
                    let v = image[p * channels + ch];
                    if v > top {
                        (top, at) = (v, p);
                    }
                }
                list.push((top, start + i, at / MAP, at % MAP));
                // Highest first; an earlier image first among equals.
                list.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                list.truncate(k);
            }
        }
    }
    let pixels: Vec<f32> = to_unit(images)?.flatten_all()?.to_vec1()?;
    Ok(best
        .into_iter()
        .enumerate()
        .map(|(channel, list)| ChannelPatches {
            channel,
            top: list
                .into_iter()
                .map(|(activation, image, r, c)| TopPatch {
                    image,
                    at: (r, c),
                    activation,
                    patch: patch(&pixels[image * 784..(image + 1) * 784], r, c),
                })
                .collect(),
        })
        .collect())
}

/// The 5×5 pixels of a 28×28 image whose top-left is `(r, c)`.
fn patch(image: &[f32], r: usize, c: usize) -> Vec<f32> {
    let side = RECEPTIVE_FIELD;
    (0..side * side)
        .map(|i| image[(r + i / side) * 28 + c + i % side])
        .collect()
}

/// What an optimised input drives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The logit of class `0..10`.
    Class(usize),
    /// The sum of conv2 channel `0..64`'s ReLU output over its 24×24 map.
    Channel(usize),
}

/// The settings of [`optimise_input`], stated in the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct AscentConfig {
    /// Steps of gradient ascent.
    pub steps: usize,
    /// How far a step moves the pixel whose gradient is largest.
    pub learning_rate: f32,
    /// λ, the weight of the L2 penalty.
    pub l2: f32,
    /// A 3×3 blur every this many steps (0: never).
    pub blur_every: usize,
}

impl Default for AscentConfig {
    fn default() -> Self {
        Self {
            steps: 200,
            learning_rate: 0.1,
            l2: 0.002,
            blur_every: 10,
        }
    }
}

/// The 28×28 input `[1, 1, 28, 28]` (0..1) that drives `target` highest,
/// from a blank picture, by gradient ascent (see the module docs), and its
/// target's value there ([`scores`]).
pub fn optimise_input(
    model: &MnistCnn,
    target: Target,
    config: &AscentConfig,
) -> Result<(Tensor, f32)> {
    let mut found = optimise_inputs(model, &[target], config)?;
    Ok(found.remove(0))
}

/// [`optimise_input`] for each of `targets`, all in one batch (each
/// picture's ascent is its own: the images do not meet in the network).
pub fn optimise_inputs(
    model: &MnistCnn,
    targets: &[Target],
    config: &AscentConfig,
) -> Result<Vec<(Tensor, f32)>> {
    let n = targets.len();
    let device = model.device().clone();
    let mut x = (Tensor::ones((n, 1, 28, 28), DType::F32, &device)? * START_GRAY)?;
    for step in 0..config.steps {
        let var = Var::from_tensor(&x)?;
        let penalty = (var.as_tensor().sqr()?.sum_all()? * config.l2 as f64)?;
        let objective = (scores(model, var.as_tensor(), targets)?.sum_all()? - penalty)?;
        let grads = objective.backward()?;
        let g = grads
            .get(var.as_tensor())
            .ok_or_else(|| Error::Internal("no gradient reached the input".into()))?;
        // Each picture's largest gradient moves its pixel by the step size.
        let largest = g.abs()?.flatten_from(1)?.max_keepdim(1)?; // [n, 1]
        let largest = largest
            .clamp(f32::MIN_POSITIVE, f32::MAX)?
            .reshape((n, 1, 1, 1))?;
        let delta = (g.broadcast_div(&largest)? * config.learning_rate as f64)?;
        x = (var.as_tensor() + delta)?.clamp(0f32, 1f32)?;
        if config.blur_every > 0 && (step + 1) % config.blur_every == 0 {
            x = blur(&x)?;
        }
    }
    let values: Vec<f32> = scores(model, &x, targets)?.to_vec1()?;
    (0..n)
        .map(|i| Ok((x.narrow(0, i, 1)?, values[i])))
        .collect()
}

/// Each target's value for its picture of `x` `[n, 1, 28, 28]`: `[n]`. The
/// model's layers (not training) on candle's operations
/// ([`Backend::Generic`]) with the weights detached, so that a backward
/// pass computes the gradient with respect to `x` alone.
pub fn scores(model: &MnistCnn, x: &Tensor, targets: &[Target]) -> Result<Tensor> {
    let ops = Backend::Generic;
    let weights = |(k, b): (&Var, &Var)| (k.as_tensor().detach(), b.as_tensor().detach());
    let (n, _, h, w) = x.dims4()?;
    let device = x.device();
    let x = x.reshape((n, h, w, 1))?; // [n, 28, 28, 1]
    let (k1, b1) = weights(model.conv1.weights());
    let (k2, b2) = weights(model.conv2.weights());
    let h2 = ops.conv_relu(&ops.conv_relu(&x, &k1, &b1)?, &k2, &b2)?; // [n, 24, 24, 64]
                                                                      // One-hot masks pick each picture's own target.
    let channels = h2.dim(3)?;
    let (mut by_class, mut by_channel) = (vec![0f32; n * 10], vec![0f32; n * channels]);
    for (i, t) in targets.iter().enumerate() {
        match *t {
            Target::Class(c) if c < 10 => by_class[i * 10 + c] = 1.0,
            Target::Channel(ch) if ch < channels => by_channel[i * channels + ch] = 1.0,
            t => return Err(Error::BadArgument(format!("no such target: {t:?}"))),
        }
    }
    let by_channel = Tensor::from_vec(by_channel, (n, channels), device)?;
    // A channel's total over its map: on the scale of a logit, so that the
    // L2 penalty weighs alike on both kinds of target.
    let totals = h2.sum(1)?.sum(1)?; // [n, 64]
    let mut value = (totals * by_channel)?.sum(1)?; // [n]
    if targets.iter().any(|t| matches!(t, Target::Class(_))) {
        let (k3, b3) = weights(model.dense1.weights());
        let (k4, b4) = weights(model.dense2.weights());
        let flat = ops.max_pool2x2(&h2)?.flatten_from(1)?; // [n, 9216]
        let d1 = flat.matmul(&k3)?.broadcast_add(&b3)?.relu()?; // [n, 128]
        let logits = d1.matmul(&k4)?.broadcast_add(&b4)?; // [n, 10]
        let by_class = Tensor::from_vec(by_class, (n, 10), device)?;
        value = (value + (logits * by_class)?.sum(1)?)?;
    }
    Ok(value)
}

/// `target`'s value for `x` `[1, 1, 28, 28]`, a scalar ([`scores`]).
pub fn score(model: &MnistCnn, x: &Tensor, target: Target) -> Result<Tensor> {
    Ok(scores(model, x, &[target])?.get(0)?)
}

/// A light 3×3 blur (a quarter to the pixel, the rest to its eight
/// neighbours), keeping the picture's size; the border is padded with 0.
fn blur(x: &Tensor) -> Result<Tensor> {
    let k = [1.0f32, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0].map(|v| v / 16.0);
    let kernel = Tensor::from_slice(&k, (1, 1, 3, 3), x.device())?;
    Ok(x.conv2d(&kernel, 1, 1, 1, 1)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn a_patch_is_the_pixels_it_names() {
        let image: Vec<f32> = (0..784).map(|i| i as f32).collect();
        let p = patch(&image, 2, 3);
        assert_eq!(p[0], (2 * 28 + 3) as f32);
        assert_eq!(p[24], (6 * 28 + 7) as f32);
    }

    #[test]
    fn blur_keeps_a_flat_picture_flat_inside() {
        let x = Tensor::ones((1, 1, 28, 28), DType::F32, &Device::Cpu).unwrap();
        let b: Vec<f32> = blur(&x).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        assert!((b[14 * 28 + 14] - 1.0).abs() < 1e-6);
        assert!(b[0] < 1.0); // the border meets the zero padding
    }
}
