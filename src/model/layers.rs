//! The layers of Keras' `mnist_cnn.py`, each holding its weights under
//! Keras' names (`kernel`, `bias`) in Keras' layouts: a convolution kernel
//! `[kh, kw, in, out]`, a dense kernel `[in, out]`.
//!
//! The arithmetic is in [`crate::ops`]; a layer says which weights go in.

use crate::error::Result;
use crate::ops::Backend;
use crate::rng::Rng;
use candle_core::Tensor;
use candle_nn::VarBuilder;
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

/// Keras' `Conv2D(filters, (kh, kw), activation='relu')`, valid padding,
/// stride 1. `kernel` `[kh, kw, in, out]`, `bias` `[out]`.
#[derive(Debug, Clone)]
pub struct Conv2d {
    kernel: Tensor,
    bias: Tensor,
}

impl Conv2d {
    /// The layer's weights, read from `vb` (`kernel` and `bias`).
    pub fn new(
        vb: VarBuilder,
        (kh, kw): (usize, usize),
        inputs: usize,
        filters: usize,
    ) -> Result<Self> {
        Ok(Self {
            kernel: vb.get((kh, kw, inputs, filters), "kernel")?,
            bias: vb.get(filters, "bias")?,
        })
    }

    /// The filters as `[out, in, kh, kw]`: filter after filter.
    pub fn filters(&self) -> Result<Tensor> {
        Ok(self.kernel.permute((3, 2, 0, 1))?.contiguous()?)
    }

    /// Convolution, bias and ReLU of `x` `[b, h, w, in]`: `[b, h - kh + 1, w - kw + 1, out]`.
    pub fn forward_relu(&self, x: &Tensor, ops: Backend) -> Result<Tensor> {
        Ok(ops.conv_relu(x, &self.kernel, &self.bias)?)
    }

    /// The same, then 2×2 max-pooling, in one operation: `[b, oh / 2, ow / 2, out]`.
    pub fn forward_relu_pool(&self, x: &Tensor, ops: Backend) -> Result<Tensor> {
        Ok(ops.conv_relu_pool(x, &self.kernel, &self.bias)?)
    }

    pub(crate) fn kernel_device(&self) -> &candle_core::Device {
        self.kernel.device()
    }

    /// Convolution and bias alone, before the ReLU (to look at).
    pub fn forward_linear(&self, x: &Tensor, ops: Backend) -> Result<Tensor> {
        Ok(ops.conv2d_with_bias(x, &self.kernel, Some(&self.bias))?)
    }
}

/// Keras' `Dense(units)`: `y = x · kernel + bias`, `kernel` `[in, out]`.
#[derive(Debug, Clone)]
pub struct Dense {
    kernel: Tensor,
    bias: Tensor,
}

impl Dense {
    /// The layer's weights, read from `vb` (`kernel` and `bias`).
    pub fn new(vb: VarBuilder, inputs: usize, units: usize) -> Result<Self> {
        Ok(Self {
            kernel: vb.get((inputs, units), "kernel")?,
            bias: vb.get(units, "bias")?,
        })
    }

    /// `x` `[b, in]` to `[b, out]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.matmul(&self.kernel)?.broadcast_add(&self.bias)?)
    }
}

/// Keras' `Dropout(rate)`: in training, each value is zeroed with
/// probability `rate` and the others scaled by `1 / (1 - rate)`. The masks
/// come from a random stream the model's dropout layers share, which the
/// trainer seeds at every epoch: a run is fixed by its seed.
#[derive(Debug, Clone)]
pub struct Dropout {
    /// The probability of dropping a value.
    pub rate: f32,
    stream: Arc<Mutex<Rng>>,
}

impl Dropout {
    pub(crate) fn new(rate: f32, stream: Arc<Mutex<Rng>>) -> Self {
        Self { rate, stream }
    }

    /// `x` itself outside training; in training, `x` times a fresh mask.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        if !train {
            return Ok(x.clone());
        }
        let mut rng = self.stream.lock().unwrap_or_else(|e| e.into_inner());
        dropout(x, self.rate, &mut rng)
    }
}

/// Multiplies `x` `[b, ...]` by a fresh dropout mask: each entry is zeroed
/// with probability `p`, the others scaled by `1 / (1 - p)` (Keras' inverted
/// dropout: the expected value is unchanged). Each image's mask comes from
/// its own seed, drawn from `rng` in order, so the masks are made in
/// parallel and still depend on nothing but `rng`.
pub fn dropout(x: &Tensor, p: f32, rng: &mut Rng) -> Result<Tensor> {
    let scale = 1.0 / (1.0 - p);
    let b = x.dim(0)?;
    let per_image = x.elem_count() / b.max(1);
    let seeds: Vec<u64> = (0..b).map(|_| rng.next_u64()).collect();
    let mut mask = vec![0f32; x.elem_count()];
    mask.par_chunks_mut(per_image.max(1))
        .zip(&seeds)
        .for_each(|(m, &seed)| {
            Rng::new(seed).fill_f32(m); // uniform in [0, 1)
            for v in m.iter_mut() {
                // Kept (1) or dropped (0), times the scale: no branch.
                *v = ((*v >= p) as u8 as f32) * scale;
            }
        });
    Ok(crate::ops::mul_mask(x, mask)?) // x · mask
}

/// Glorot-uniform initial values for a weight of `shape` (Keras' rule for
/// the fans of conv kernels `[kh, kw, in, out]` and dense kernels `[in, out]`):
/// `U(-l, l)` with `l = sqrt(6 / (fan_in + fan_out))`.
pub fn glorot_uniform(shape: &[usize], rng: &mut Rng) -> Vec<f32> {
    let receptive: usize = shape[..shape.len() - 2].iter().product();
    let fan_in = shape[shape.len() - 2] * receptive;
    let fan_out = shape[shape.len() - 1] * receptive;
    let limit = (6.0 / (fan_in + fan_out) as f32).sqrt();
    let n: usize = shape.iter().product();
    (0..n).map(|_| rng.uniform(-limit, limit)).collect()
}
