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
//!    found by gradient ascent on the input from a noisy gray picture
//!    (0.3 ± 0.3, uniform), each step moving the pixel with the largest
//!    gradient by `lr`, then taking a little of the whole picture away
//!    (Yosinski et al., 2015):
//!
//!    ```text
//!    g ← ∇ₓ score(x)
//!    x ← clamp((1 − decay) · (x + lr · g / max|g|), 0, 1), blurred every few steps
//!    ```
//!
//!    The decay (an L2 penalty, taken apart from the score's step) keeps
//!    the picture from filling with ink, and the blur keeps it from
//!    high-frequency noise that excites the network but no eye. Why noise
//!    and not a blank picture: from a faint flat gray, the ascent for one
//!    class of a model trained 15 epochs (a 6) only darkened the picture
//!    until nothing passed the ReLUs (score −0.1, every seed); from noise
//!    it climbs like the others. The noise comes from [`AscentConfig::seed`]: the same
//!    model and seed give the same picture, bit for bit, alone or in a
//!    batch. A class's picture goes through the whole network; a channel's
//!    through conv1 and that one channel of conv2.
//!
//! What a second layer sees can be compared with another network's
//! ([`best_matches`]): two networks number their channels as they please,
//! so each channel's mean top patch is matched with the other's most alike.
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
use crate::ops;
use candle_core::{DType, Tensor, Var};
use rayon::prelude::*;

/// The side of conv2's receptive field: two 3×3 convolutions see 5×5 pixels.
pub const RECEPTIVE_FIELD: usize = 5;

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
    model.conv2.forward(&conv1_maps(model, images)?) // [b, 24, 24, 64]
}

/// conv1's ReLU output `[b, 26, 26, 32]` for `images` `[b, 1, 28, 28]`.
fn conv1_maps(model: &MnistCnn, images: &Tensor) -> Result<Tensor> {
    let x = to_unit(images)?.to_device(model.device())?;
    let (b, _, h, w) = x.dims4()?;
    model.conv1.forward(&x.reshape((b, h, w, 1))?) // [b, 26, 26, 32]
}

/// For each of conv2's 64 channels, the `k` images of `images` `[n, 1, 28,
/// 28]` where its output peaks highest (each image's first highest position,
/// in row-major order; ties between images go to the earlier one), highest
/// first, with the patches they see. conv2's maps are never kept: each
/// image's peaks come out of the convolution as it is computed
/// ([`ops::conv_relu_peaks`]).
pub fn top_patches(model: &MnistCnn, images: &Tensor, k: usize) -> Result<Vec<ChannelPatches>> {
    let (n, _, _, width) = images.dims4()?;
    if k == 0 || k > n {
        return Err(Error::BadArgument(format!(
            "top patches: k must be 1..={n} (the images searched), not {k}"
        )));
    }
    let (k2, b2) = model.conv2.weights();
    let channels = k2.dim(3)?;
    // Per channel, (activation, image, row, col) of the best so far,
    // highest first; an earlier image first among equals.
    let mut best: Vec<Vec<(f32, usize, usize, usize)>> = vec![Vec::with_capacity(k + 1); channels];
    // A batch's first-layer maps are 86 KB an image: small batches keep
    // the memory low (the page's worker, on a phone).
    const BATCH: usize = 128;
    for start in (0..n).step_by(BATCH) {
        let b = BATCH.min(n - start);
        let h1 = conv1_maps(model, &images.narrow(0, start, b)?)?; // [b, 26, 26, 32]
        let peaks = ops::conv_relu_peaks(&h1, k2.as_tensor(), b2.as_tensor())?;
        for i in 0..b {
            for (ch, list) in best.iter_mut().enumerate() {
                let (top, (r, c)) = peaks.at(i, ch);
                if list.len() == k && top <= list[k - 1].0 {
                    continue;
                }
                let at = list.partition_point(|e| e.0 >= top);
                list.insert(at, (top, start + i, r, c));
                list.truncate(k);
            }
        }
    }
    // The pixels of the images kept only (not the whole set as floats).
    let pixels = |image: usize| -> Result<Vec<f32>> {
        Ok(to_unit(&images.get(image)?)?.flatten_all()?.to_vec1()?)
    };
    best.into_iter()
        .enumerate()
        .map(|(channel, list)| {
            let top = list
                .into_iter()
                .map(|(activation, image, r, c)| {
                    Ok(TopPatch {
                        image,
                        at: (r, c),
                        activation,
                        patch: patch(&pixels(image)?, width, r, c),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(ChannelPatches { channel, top })
        })
        .collect()
}

/// Each channel's mean top patch ([`ChannelPatches::mean_patch`]) over
/// `images`, with `k` top images a channel: `[64][25]`, what the second
/// layer sees in a few numbers, to compare one network's with another's
/// ([`best_matches`]).
pub fn mean_top_patches(model: &MnistCnn, images: &Tensor, k: usize) -> Result<Vec<Vec<f32>>> {
    Ok(top_patches(model, images, k)?
        .iter()
        .map(ChannelPatches::mean_patch)
        .collect())
}

/// For each channel of `a` (mean top patches, [`mean_top_patches`]), the
/// channel of `b` whose mean top patch is most like it, and how like:
/// their centred cosine ([`crate::analysis::centred_cosine`]), -1..1. Two
/// networks number their channels as they please, so a channel is matched
/// wherever it is in the other. Refused: an empty `b` (nothing to match
/// with), and patches of different lengths.
pub fn best_matches(a: &[Vec<f32>], b: &[Vec<f32>]) -> Result<Vec<(usize, f32)>> {
    if b.is_empty() && !a.is_empty() {
        return Err(Error::BadArgument(
            "best matches: no channels to match with (the second set is empty)".into(),
        ));
    }
    if let Some(len) = a.first().or(b.first()).map(Vec::len) {
        if let Some(other) = a.iter().chain(b).find(|p| p.len() != len) {
            return Err(Error::BadArgument(format!(
                "best matches: patches of {len} and {} values cannot be compared",
                other.len()
            )));
        }
    }
    Ok(a.iter()
        .map(|pa| {
            b.iter()
                .enumerate()
                .map(|(j, pb)| (j, crate::analysis::centred_cosine(pa, pb)))
                .fold(
                    (0, f32::NEG_INFINITY),
                    |best, m| if m.1 > best.1 { m } else { best },
                )
        })
        .collect())
}

/// The 5×5 pixels of an image `width` pixels wide whose top-left is `(r, c)`.
fn patch(image: &[f32], width: usize, r: usize, c: usize) -> Vec<f32> {
    let side = RECEPTIVE_FIELD;
    (0..side * side)
        .map(|i| image[(r + i / side) * width + c + i % side])
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
    /// How much of the picture each step takes away (`x ← (1 − decay)·x`:
    /// an L2 penalty as a decay, apart from the score's step).
    pub decay: f32,
    /// A 3×3 blur every this many steps (0: never).
    pub blur_every: usize,
    /// The gray the pictures start from.
    pub start_gray: f32,
    /// The most the start's noise moves a pixel from that gray, either way.
    pub start_noise: f32,
    /// The seed of that noise.
    pub seed: u64,
}

impl Default for AscentConfig {
    fn default() -> Self {
        Self {
            steps: 200,
            learning_rate: 0.2,
            decay: 0.002,
            blur_every: 10,
            start_gray: 0.3,
            start_noise: 0.3,
            seed: 42,
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

/// [`optimise_input`] for each of `targets`, all in one batch. Each
/// picture's ascent is its own, bit for bit: the images do not meet in the
/// network, and every number of a picture is computed the same way whatever
/// batch it is in.
pub fn optimise_inputs(
    model: &MnistCnn,
    targets: &[Target],
    config: &AscentConfig,
) -> Result<Vec<(Tensor, f32)>> {
    let n = targets.len();
    let head = DenseHead::of(model)?;
    let device = model.device().clone();
    let mut x = start(n, config, &device)?;
    for step in 0..config.steps {
        let var = Var::from_tensor(&x)?;
        let objective = evaluate(model, &head, var.as_tensor(), targets)?.objective;
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
        x = ((var.as_tensor() + delta)? * (1.0 - config.decay as f64))?.clamp(0f32, 1f32)?;
        if config.blur_every > 0 && (step + 1) % config.blur_every == 0 {
            x = blur(&x)?;
        }
    }
    let values = evaluate(model, &head, &x, targets)?.values;
    (0..n)
        .map(|i| Ok((x.narrow(0, i, 1)?, values[i])))
        .collect()
}

/// `n` pictures `[n, 1, 28, 28]` to start from: a faint gray with fainter
/// noise, the same for each picture (a channel that gives nothing for a
/// flat gray, so no gradient either, may answer a little to the noise).
fn start(n: usize, config: &AscentConfig, device: &candle_core::Device) -> Result<Tensor> {
    let mut rng = crate::rng::Rng::new(config.seed);
    let (gray, noise) = (config.start_gray, config.start_noise);
    let one: Vec<f32> = (0..28 * 28)
        .map(|_| (gray + rng.uniform(-noise, noise)).clamp(0.0, 1.0))
        .collect();
    let one = Tensor::from_vec(one, (1, 1, 28, 28), device)?;
    Ok(one.repeat((n, 1, 1, 1))?)
}

/// Each target's value for its picture of `x` `[n, 1, 28, 28]`: `[n]`
/// (the model's layers, not training).
pub fn scores(model: &MnistCnn, x: &Tensor, targets: &[Target]) -> Result<Tensor> {
    let values = evaluate(model, &DenseHead::of(model)?, x, targets)?.values;
    Ok(Tensor::new(values, x.device())?)
}

/// What [`evaluate`] gives.
struct Evaluation {
    /// Each picture's target value.
    values: Vec<f32>,
    /// A scalar whose gradient with respect to the pictures is the sum of
    /// the targets' gradients.
    objective: Tensor,
}

/// The targets' values for the pictures `x` `[n, 1, 28, 28]`, and an
/// objective to differentiate. The convolutions run on the model's backend
/// with the weights detached, so that a backward pass computes the gradient
/// with respect to `x` alone. A channel's picture goes through its own
/// channel of conv2 only (a 64th of the layer); a class's through the whole
/// network, its dense layers a picture at a time ([`DenseHead`]).
fn evaluate(
    model: &MnistCnn,
    head: &DenseHead,
    x: &Tensor,
    targets: &[Target],
) -> Result<Evaluation> {
    let ops = model.backend();
    let fixed = |(k, b): (&Var, &Var)| (k.as_tensor().detach(), b.as_tensor().detach());
    let (n, _, h, w) = x.dims4()?;
    if targets.is_empty() || targets.len() != n {
        return Err(Error::BadArgument(format!(
            "scores: {n} pictures and {} targets; give one target a picture, at least one",
            targets.len()
        )));
    }
    let device = x.device();
    let (k1, b1) = fixed(model.conv1.weights());
    let (k2, b2) = fixed(model.conv2.weights());
    let channels = k2.dim(3)?;
    let x = x.reshape((n, h, w, 1))?; // [n, 28, 28, 1]
    let mut values = vec![0f32; n];
    let mut objective = Tensor::zeros((), DType::F32, device)?;
    let mut classes = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        match *t {
            Target::Class(c) if c < head.classes() => classes.push(i as u32),
            // A channel's total over its map: on the scale of a logit, so
            // that the decay weighs alike on both kinds of target.
            Target::Channel(ch) if ch < channels => {
                let (k, b) = (k2.narrow(3, ch, 1)?, b2.narrow(0, ch, 1)?);
                // Picture by picture from the input (whose gradient is
                // small to put back together), not from a batch of maps.
                let h1 = ops.conv_relu(&x.narrow(0, i, 1)?, &k1, &b1)?; // [1, 26, 26, 32]
                let map = ops.conv_relu(&h1, &k, &b)?; // [1, 24, 24, 1]
                let total = map.sum_all()?;
                values[i] = total.to_scalar()?;
                objective = (objective + total)?;
            }
            t => return Err(Error::BadArgument(format!("no such target: {t:?}"))),
        }
    }
    if !classes.is_empty() {
        let picked = Tensor::new(classes.as_slice(), device)?;
        let h1 = ops.conv_relu(&x.index_select(&picked, 0)?, &k1, &b1)?; // [m, 26, 26, 32]
        let h2 = ops.conv_relu(&h1, &k2, &b2)?; // [m, 24, 24, 64]
        let flat = ops.max_pool2x2(&h2)?.flatten_from(1)?; // [m, 9216]
        let width = flat.dim(1)?;
        let rows: Vec<f32> = flat.flatten_all()?.to_vec1()?;
        // One picture a task; each picture's numbers the same either way.
        let logits: Vec<(f32, Vec<f32>)> = classes
            .par_iter()
            .enumerate()
            .map(|(row, &i)| {
                let Target::Class(c) = targets[i as usize] else {
                    unreachable!("only class targets are picked")
                };
                head.logit(&rows[row * width..(row + 1) * width], c)
            })
            .collect();
        let mut grad = Vec::with_capacity(classes.len() * width);
        for (&i, (logit, g)) in classes.iter().zip(logits) {
            values[i as usize] = logit;
            grad.extend_from_slice(&g);
        }
        // flat · G, with G the dense layers' gradient held fixed: its
        // gradient with respect to flat is G, so the backward pass carries
        // the logits' gradient on through the convolutions.
        let grad = Tensor::from_vec(grad, (classes.len(), width), device)?;
        objective = (objective + (flat * grad)?.sum_all()?)?;
    }
    Ok(Evaluation { values, objective })
}

/// The dense layers (`dense1`, ReLU, `dense2`) as plain numbers, for one
/// picture at a time, with the gradient of a logit written out: candle's
/// matrix product would also compute the gradient of the fixed weights
/// (a 9216 × 128 matrix a step), and sums a row of a batch in an order
/// that can depend on the batch.
///
/// ```text
/// d1[j]   = b3[j] + Σᵢ flat[i] · k3[i, j]
/// logit   = b4[c] + Σⱼ relu(d1[j]) · k4[j, c]
/// ∂logit/∂flat[i] = Σⱼ k3[i, j] · k4[j, c] · [d1[j] > 0]
/// ```
struct DenseHead {
    k3: Vec<f32>,
    b3: Vec<f32>,
    k4: Vec<f32>,
    b4: Vec<f32>,
}

impl DenseHead {
    fn of(model: &MnistCnn) -> Result<Self> {
        let values = |v: &Var| -> Result<Vec<f32>> { Ok(v.as_tensor().flatten_all()?.to_vec1()?) };
        let (k3, b3) = model.dense1.weights();
        let (k4, b4) = model.dense2.weights();
        Ok(Self {
            k3: values(k3)?,
            b3: values(b3)?,
            k4: values(k4)?,
            b4: values(b4)?,
        })
    }

    fn classes(&self) -> usize {
        self.b4.len()
    }

    /// The logit of `class` for the pooled maps `flat`, and its gradient
    /// with respect to them.
    fn logit(&self, flat: &[f32], class: usize) -> (f32, Vec<f32>) {
        let (hidden, classes) = (self.b3.len(), self.b4.len());
        let mut d1 = self.b3.clone();
        for (&v, row) in flat.iter().zip(self.k3.chunks_exact(hidden)) {
            if v != 0.0 {
                for (a, &k) in d1.iter_mut().zip(row) {
                    *a += v * k;
                }
            }
        }
        let mut logit = self.b4[class];
        let mut through = vec![0f32; hidden]; // k4[j, c] where d1[j] > 0
        for (j, &a) in d1.iter().enumerate() {
            if a > 0.0 {
                logit += a * self.k4[j * classes + class];
                through[j] = self.k4[j * classes + class];
            }
        }
        let grad = self
            .k3
            .chunks_exact(hidden)
            .map(|row| dot(row, &through))
            .collect();
        (logit, grad)
    }
}

/// `Σ a[i] · b[i]`, in eight running sums (which the compiler vectorizes).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            sums[l] += x[l] * y[l];
        }
    }
    sums.iter().sum::<f32>() + tail
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
    fn a_patch_of_a_wider_image_is_the_pixels_it_names() {
        let image: Vec<f32> = (0..30 * 40).map(|i| i as f32).collect();
        let p = patch(&image, 40, 3, 7);
        assert_eq!(p[0], (3 * 40 + 7) as f32);
        assert_eq!(p[24], (7 * 40 + 11) as f32);
    }

    #[test]
    fn best_matches_refuse_nothing_to_match_and_patches_of_two_sizes() {
        let a = vec![vec![0.0, 1.0, 2.0]];
        assert!(best_matches(&a, &[]).is_err());
        assert!(best_matches(&a, &[vec![1.0, 2.0]]).is_err());
        assert_eq!(best_matches(&[], &[]).unwrap(), vec![]);
        assert_eq!(
            best_matches(&a, &[vec![5.0, 5.0, 5.0], vec![2.0, 3.0, 4.0]]).unwrap()[0].0,
            1
        );
    }

    #[test]
    fn a_patch_is_the_pixels_it_names() {
        let image: Vec<f32> = (0..784).map(|i| i as f32).collect();
        let p = patch(&image, 28, 2, 3);
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
