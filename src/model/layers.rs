//! The layers of Keras' `mnist_cnn.py`, each holding its weights under
//! Keras' names (`kernel`, `bias`) in Keras' layouts: a convolution kernel
//! `[kh, kw, in, out]`, a dense kernel `[in, out]`.
//!
//! Each layer computes on the [`Backend`] the model chose for its device
//! when it was built; the arithmetic is in [`crate::ops`].

use crate::error::{Error, Result};
use crate::ops::Backend;
use crate::rng::Rng;
use candle_core::{Tensor, Var};
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

/// What a layer applies to its output: Keras' `activation=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `max(x, 0)`, no gradient at 0 (TensorFlow's).
    Relu,
    /// Nothing: the values as they are (the logits; the softmax is in the loss).
    Linear,
}

impl Activation {
    fn apply(self, x: Tensor, backend: Backend) -> Result<Tensor> {
        Ok(match self {
            Activation::Relu => backend.relu(&x)?,
            Activation::Linear => x,
        })
    }

    fn suffix(self) -> &'static str {
        match self {
            Activation::Relu => " + relu",
            Activation::Linear => "",
        }
    }
}

/// What a convolution and a dense layer both hold: a name, a kernel and a
/// bias, an activation, and the backend they compute on.
#[derive(Debug, Clone)]
struct Weighted {
    name: &'static str,
    kernel: Var,
    bias: Var,
    activation: Activation,
    backend: Backend,
}

impl Weighted {
    /// The weights of layer `name`, the bias checked against the kernel's
    /// `out` outputs.
    fn new(
        name: &'static str,
        (kernel, bias): (Var, Var),
        out: usize,
        activation: Activation,
        backend: Backend,
    ) -> Result<Self> {
        if bias.dims() != [out] {
            return Err(Error::BadArgument(format!(
                "{name}.bias has shape {:?}, the layer needs [{out}]",
                bias.dims()
            )));
        }
        Ok(Self {
            name,
            kernel,
            bias,
            activation,
            backend,
        })
    }

    fn tensors(&self) -> (&Tensor, &Tensor) {
        (self.kernel.as_tensor(), self.bias.as_tensor())
    }
}

/// Keras' `Conv2D(filters, (kh, kw), activation)`, valid padding, stride 1:
/// `kernel` `[kh, kw, in, out]`, `bias` `[out]`; `[b, h, w, in]` to
/// `[b, h - kh + 1, w - kw + 1, out]`.
#[derive(Debug, Clone)]
pub struct Conv2d(Weighted);

impl Conv2d {
    /// The layer `name` with these weights, computing on `backend`.
    pub fn new(
        name: &'static str,
        weights: (Var, Var),
        activation: Activation,
        backend: Backend,
    ) -> Result<Self> {
        let (_, _, _, out) = weights.0.dims4()?; // [kh, kw, in, out]
        Ok(Self(Weighted::new(
            name, weights, out, activation, backend,
        )?))
    }

    /// Convolution, bias and activation of `x` `[b, h, w, in]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (k, b) = self.0.tensors();
        match self.0.activation {
            Activation::Relu => Ok(self.0.backend.conv_relu(x, k, b)?),
            Activation::Linear => Ok(self.0.backend.conv2d_with_bias(x, k, Some(b))?),
        }
    }

    /// This layer, then `pool`, as one operation where the backend fuses
    /// them (see [`super::Sequential`]): `[b, oh / 2, ow / 2, out]`.
    pub(super) fn forward_pooled(&self, x: &Tensor, pool: &MaxPool2d) -> Result<Tensor> {
        if self.fuses_with_pool() {
            let (k, b) = self.0.tensors();
            return Ok(self.0.backend.conv_relu_pool(x, k, b)?);
        }
        pool.forward(&self.forward(x)?)
    }

    /// Whether a [`MaxPool2d`] after this layer runs fused with it.
    pub(super) fn fuses_with_pool(&self) -> bool {
        self.0.activation == Activation::Relu && self.0.backend.fuses_conv_pool()
    }

    /// The filters as `[out, in, kh, kw]`: filter after filter.
    pub fn filters(&self) -> Result<Tensor> {
        Ok(self.0.kernel.permute((3, 2, 0, 1))?.contiguous()?)
    }

    /// The weights, `(kernel, bias)`.
    pub fn weights(&self) -> (&Var, &Var) {
        (&self.0.kernel, &self.0.bias)
    }

    /// "conv1 3x3 + relu".
    pub fn description(&self) -> String {
        let (kh, kw) = (self.0.kernel.dims()[0], self.0.kernel.dims()[1]);
        let act = self.0.activation.suffix();
        format!("{} {kh}x{kw}{act}", self.0.name)
    }
}

/// Keras' `Dense(units, activation)`: `y = act(x · kernel + bias)`, `kernel`
/// `[in, out]`, `bias` `[out]`; `[b, in]` to `[b, out]`.
#[derive(Debug, Clone)]
pub struct Dense(Weighted);

impl Dense {
    /// The layer `name` with these weights, computing on `backend`.
    pub fn new(
        name: &'static str,
        weights: (Var, Var),
        activation: Activation,
        backend: Backend,
    ) -> Result<Self> {
        let (_, out) = weights.0.dims2()?; // [in, out]
        Ok(Self(Weighted::new(
            name, weights, out, activation, backend,
        )?))
    }

    /// `x` `[b, in]` to `[b, out]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (k, b) = self.0.tensors();
        let y = x.matmul(k)?.broadcast_add(b)?;
        self.0.activation.apply(y, self.0.backend)
    }

    /// The weights, `(kernel, bias)`.
    pub fn weights(&self) -> (&Var, &Var) {
        (&self.0.kernel, &self.0.bias)
    }

    /// "dense1 + relu", or "dense2 (logits)" for the last, linear, layer.
    pub fn description(&self) -> String {
        match self.0.activation {
            Activation::Linear => format!("{} (logits)", self.0.name),
            act => format!("{}{}", self.0.name, act.suffix()),
        }
    }
}

/// Keras' `MaxPooling2D(pool_size=(2, 2))`: `[b, h, w, c]` to
/// `[b, h / 2, w / 2, c]`, the gradient to the first maximum of each window.
#[derive(Debug, Clone)]
pub struct MaxPool2d {
    backend: Backend,
}

impl MaxPool2d {
    /// The pooling, computing on `backend`.
    pub fn new(backend: Backend) -> Self {
        Self { backend }
    }

    /// The largest value of each 2×2 window.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.backend.max_pool2x2(x)?)
    }
}

/// Keras' `Flatten()`: `[b, ...]` to `[b, n]`, in Keras' (row, column,
/// channel) order since the layers compute channels-last.
#[derive(Debug, Clone, Copy)]
pub struct Flatten;

impl Flatten {
    /// `x` as one row per image.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.flatten_from(1)?)
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
    backend: Backend,
}

impl Dropout {
    pub(crate) fn new(rate: f32, stream: Arc<Mutex<Rng>>, backend: Backend) -> Self {
        Self {
            rate,
            stream,
            backend,
        }
    }

    /// `x` itself outside training; in training, `x` times a fresh mask.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        if !train {
            return Ok(x.clone());
        }
        let mut rng = self.stream.lock().unwrap_or_else(|e| e.into_inner());
        let mask = dropout_mask(x, self.rate, &mut rng)?;
        Ok(self.backend.mul_mask(x, mask)?) // x · mask
    }

    /// Fills `mask` with a fresh mask for `b` images (what
    /// [`Dropout::forward_t`] draws in training, the same numbers).
    pub(crate) fn mask_into(&self, b: usize, mask: &mut [f32]) {
        let mut rng = self.stream.lock().unwrap_or_else(|e| e.into_inner());
        fill_dropout_mask(mask, b, self.rate, &mut rng)
    }
}

/// Multiplies `x` `[b, ...]` by a fresh dropout mask (see [`dropout_mask`]).
pub fn dropout(x: &Tensor, p: f32, rng: &mut Rng) -> Result<Tensor> {
    Ok(crate::ops::mul_mask(x, dropout_mask(x, p, rng)?)?)
}

/// A fresh dropout mask for `x` `[b, ...]`: each entry 0 with probability
/// `p`, else `1 / (1 - p)` (Keras' inverted dropout: the expected value is
/// unchanged). Each image's mask comes from its own seed, drawn from `rng`
/// in order, so the masks are made in parallel and still depend on nothing
/// but `rng`.
pub fn dropout_mask(x: &Tensor, p: f32, rng: &mut Rng) -> Result<Vec<f32>> {
    let mut mask = vec![0f32; x.elem_count()];
    fill_dropout_mask(&mut mask, x.dim(0)?, p, rng);
    Ok(mask)
}

/// [`dropout_mask`] for `b` images into `mask` (every entry written).
fn fill_dropout_mask(mask: &mut [f32], b: usize, p: f32, rng: &mut Rng) {
    let scale = 1.0 / (1.0 - p);
    let per_image = mask.len() / b.max(1);
    let seeds: Vec<u64> = (0..b).map(|_| rng.next_u64()).collect();
    mask.par_chunks_mut(per_image.max(1))
        .zip(&seeds)
        .for_each(|(m, &seed)| {
            Rng::new(seed).fill_f32(m); // uniform in [0, 1)
            for v in m.iter_mut() {
                // Kept (1) or dropped (0), times the scale: no branch.
                *v = ((*v >= p) as u8 as f32) * scale;
            }
        });
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
