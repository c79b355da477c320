//! Keras' `mnist_cnn.py` (2017), layer for layer.
//!
//! | layer | output | parameters |
//! |---|---|---|
//! | input, pixels / 255 | `[b, 28, 28, 1]` | |
//! | Conv2D(32, 3×3) + ReLU | `[b, 26, 26, 32]` | 3·3·1·32 + 32 = 320 |
//! | Conv2D(64, 3×3) + ReLU | `[b, 24, 24, 64]` | 3·3·32·64 + 64 = 18,496 |
//! | MaxPool 2×2, Dropout(0.25) | `[b, 12, 12, 64]` | |
//! | Flatten, Dense(128) + ReLU | `[b, 128]` | 9216·128 + 128 = 1,179,776 |
//! | Dropout(0.5), Dense(10) | `[b, 10]` (logits; softmax in the loss) | 128·10 + 10 = 1,290 |
//!
//! 1,199,882 parameters in all. Every weight is a candle [`Var`]: the filters of
//! the first layer are weights like any other, and training moves them.
//! Tensors are channels-last as in Keras: activations `[b, h, w, c]`, kernels
//! `[kh, kw, in, out]`, dense kernels `[in, out]`. Kernels start
//! glorot-uniform, `U(-l, l)` with `l = sqrt(6 / (fan_in + fan_out))`, biases
//! zero. [`MnistCnn::conv1_filters`] gives the 32 first-layer filters as
//! `[32, 1, 3, 3]`.
//!
//! ```
//! use filters_are_weights::model::MnistCnn;
//! use candle_core::{Device, Tensor};
//! let model = MnistCnn::new(42, &Device::Cpu)?;
//! assert_eq!(model.parameter_count(), 1_199_882);
//! let x = Tensor::zeros((2, 1, 28, 28), candle_core::DType::F32, &Device::Cpu)?;
//! assert_eq!(model.forward(&x, None)?.dims(), &[2, 10]);
//! assert_eq!(model.conv1_filters()?.dims(), &[32, 1, 3, 3]);
//! # Ok::<(), filters_are_weights::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::ops::Backend;
use crate::rng::Rng;
use candle_core::{DType, Device, Tensor, Var};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::Path;

/// The names of the model's weights, in order, as saved in safetensors.
pub const PARAMETER_NAMES: [&str; 8] = [
    "conv1.kernel",
    "conv1.bias",
    "conv2.kernel",
    "conv2.bias",
    "dense1.kernel",
    "dense1.bias",
    "dense2.kernel",
    "dense2.bias",
];

/// The shape of each weight in [`PARAMETER_NAMES`].
pub const PARAMETER_SHAPES: [&[usize]; 8] = [
    &[3, 3, 1, 32],
    &[32],
    &[3, 3, 32, 64],
    &[64],
    &[9216, 128],
    &[128],
    &[128, 10],
    &[10],
];

/// The layers in order, with the indices (into [`PARAMETER_NAMES`]) of their weights.
pub const LAYERS: [(&str, &[usize]); 8] = [
    ("conv1 3x3 + relu", &[0, 1]),
    ("conv2 3x3 + relu", &[2, 3]),
    ("max-pool 2x2", &[]),
    ("dropout 0.25", &[]),
    ("flatten", &[]),
    ("dense1 + relu", &[4, 5]),
    ("dropout 0.5", &[]),
    ("dense2 (logits)", &[6, 7]),
];

/// Dropout rates after the pooling and after the first dense layer.
pub const DROPOUT: (f32, f32) = (0.25, 0.5);

/// The CNN of Keras' MNIST example.
#[derive(Debug, Clone)]
pub struct MnistCnn {
    vars: Vec<Var>,
    backend: Backend,
}

/// Glorot-uniform initial values for a weight of `shape` (Keras' rule for
/// the fans of conv kernels `[kh, kw, in, out]` and dense kernels `[in, out]`).
fn glorot_uniform(shape: &[usize], rng: &mut Rng) -> Vec<f32> {
    let receptive: usize = shape[..shape.len() - 2].iter().product();
    let fan_in = shape[shape.len() - 2] * receptive;
    let fan_out = shape[shape.len() - 1] * receptive;
    let limit = (6.0 / (fan_in + fan_out) as f32).sqrt();
    let n: usize = shape.iter().product();
    (0..n).map(|_| rng.uniform(-limit, limit)).collect()
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
            let mut rng = Rng::new(seed);
            for v in m {
                *v = if rng.next_f32() < p { 0.0 } else { scale };
            }
        });
    let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
    Ok(x.mul(&mask)?)
}

impl MnistCnn {
    /// A freshly initialised model, its initial weights fixed by `seed`.
    pub fn new(seed: u64, device: &Device) -> Result<Self> {
        let mut rng = Rng::new(seed);
        let vars = PARAMETER_NAMES
            .iter()
            .zip(PARAMETER_SHAPES)
            .map(|(name, shape)| {
                let values = if name.ends_with("kernel") {
                    glorot_uniform(shape, &mut rng)
                } else {
                    vec![0.0; shape.iter().product()]
                };
                Ok(Var::from_tensor(&Tensor::from_vec(values, shape, device)?)?)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            vars,
            backend: Backend::default(),
        })
    }

    /// The same model computing with `backend`: [`Backend::Fused`] (the
    /// default; fast on a CPU) or [`Backend::Generic`] (candle's operations
    /// with Keras' gradients, what other devices run).
    pub fn with_backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Which implementation of the layers the model runs.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The device the weights are on.
    pub fn device(&self) -> &Device {
        self.vars[0].device()
    }

    /// The weights, in the order of [`PARAMETER_NAMES`].
    pub fn vars(&self) -> &[Var] {
        &self.vars
    }

    /// Total number of trainable parameters.
    pub fn parameter_count(&self) -> usize {
        self.vars.iter().map(|v| v.elem_count()).sum()
    }

    /// A model with the same values in brand-new variables.
    ///
    /// Under evcxr every notebook cell has its own copy of candle's statics, so
    /// tensors made in one cell can clash with those of another; training
    /// starts from fresh variables made in the training cell.
    pub fn fresh_copy(&self) -> Result<Self> {
        let vars = self
            .vars
            .iter()
            .map(|v| Ok(Var::from_tensor(&v.as_tensor().copy()?)?))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            vars,
            backend: self.backend,
        })
    }

    /// The same model computing in `dtype` (f64 is handy for gradient checks).
    pub fn to_dtype(&self, dtype: DType) -> Result<Self> {
        let vars = self
            .vars
            .iter()
            .map(|v| Ok(Var::from_tensor(&v.as_tensor().to_dtype(dtype)?)?))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            vars,
            backend: self.backend,
        })
    }

    /// The logits `[b, 10]` for images `[b, 1, 28, 28]`. With `dropout`
    /// (training) the two dropout layers draw their masks from it; without,
    /// they pass everything through (inference).
    pub fn forward(&self, images: &Tensor, dropout: Option<&mut Rng>) -> Result<Tensor> {
        self.run(images, dropout, true, |_, _| {})
    }

    /// Every layer's output for images `[b, 1, 28, 28]` (inference), by layer
    /// name: what the network "sees" at each depth.
    pub fn activations(&self, images: &Tensor) -> Result<Vec<(&'static str, Tensor)>> {
        let mut out = Vec::new();
        self.run(images, None, false, |name, t| out.push((name, t.clone())))?;
        Ok(out)
    }

    /// The layers, one after the other, showing each output to `record`.
    /// `fused` computes the second convolution, its ReLU and the pooling in
    /// one operation (same result, faster; the conv2 output is not recorded).
    fn run(
        &self,
        images: &Tensor,
        mut dropout: Option<&mut Rng>,
        fused: bool,
        mut record: impl FnMut(&'static str, &Tensor),
    ) -> Result<Tensor> {
        let v = |i: usize| self.vars[i].as_tensor();
        let ops = self.backend;
        let mut drop = |x: Tensor, p: f32| -> Result<Tensor> {
            match dropout.as_deref_mut() {
                Some(rng) => self::dropout(&x, p, rng),
                None => Ok(x),
            }
        };
        let (b, _, h, w) = images.dims4()?;
        let images = images.to_device(self.device())?;
        let x = images.reshape((b, h, w, 1))?; // [b, 28, 28, 1]: one channel, same bytes
        let x = ops.conv_relu(&x, v(0), v(1))?; // [b, 26, 26, 32]
        record(LAYERS[0].0, &x);
        let x = if fused {
            // conv2 + relu + max-pool in one operation: the [b, 24, 24, 64]
            // activations are never stored.
            ops.conv_relu_pool(&x, v(2), v(3))? // [b, 12, 12, 64]
        } else {
            let x = ops.relu(&ops.conv2d_with_bias(&x, v(2), Some(v(3)))?)?; // [b, 24, 24, 64]
            record(LAYERS[1].0, &x);
            ops.max_pool2x2(&x)? // [b, 12, 12, 64]
        };
        record(LAYERS[2].0, &x);
        let x = drop(x, DROPOUT.0)?;
        record(LAYERS[3].0, &x);
        let x = x.flatten_from(1)?; // [b, 9216], in Keras' (h, w, c) order
        record(LAYERS[4].0, &x);
        let x = ops.relu(&x.matmul(v(4))?.broadcast_add(v(5))?)?; // [b, 128]
        record(LAYERS[5].0, &x);
        let x = drop(x, DROPOUT.1)?;
        record(LAYERS[6].0, &x);
        let x = x.matmul(v(6))?.broadcast_add(v(7))?; // [b, 10]
        record(LAYERS[7].0, &x);
        Ok(x)
    }

    /// A Keras-style summary: each layer, its output shape and its number of
    /// parameters, computed from the model itself.
    pub fn summary(&self) -> Result<String> {
        let x = Tensor::zeros((1, 1, 28, 28), DType::F32, self.vars[0].device())?;
        let mut out = format!(
            "{:<22} {:<18} {:>10}\n",
            "layer", "output shape", "parameters"
        );
        for ((name, t), (_, weights)) in self.activations(&x)?.iter().zip(LAYERS) {
            let params: usize = weights.iter().map(|&i| self.vars[i].elem_count()).sum();
            let shape = format!("{:?}", &t.dims()[1..]);
            out += &format!("{name:<22} {shape:<18} {params:>10}\n");
        }
        out += &format!(
            "{:<22} {:<18} {:>10}\n",
            "total",
            "",
            self.parameter_count()
        );
        Ok(out)
    }

    /// The predicted digit for each image `[b, 1, 28, 28]`, as `[b]` u32.
    pub fn predict(&self, images: &Tensor) -> Result<Tensor> {
        Ok(self.forward(images, None)?.argmax(1)?)
    }

    /// The 32 first-layer filters, `[32, 1, 3, 3]` (filter, channel, row, column).
    pub fn conv1_filters(&self) -> Result<Tensor> {
        // [3, 3, 1, 32] -> [32, 1, 3, 3]
        Ok(self.vars[0]
            .as_tensor()
            .permute((3, 2, 0, 1))?
            .contiguous()?)
    }

    /// The 32 first-layer filters as plain numbers, `[32, 1, 3, 3]` row-major.
    pub fn conv1_filter_values(&self) -> Result<Vec<f32>> {
        Ok(self.conv1_filters()?.flatten_all()?.to_vec1::<f32>()?)
    }

    /// The weights by name.
    pub fn named_tensors(&self) -> HashMap<String, Tensor> {
        PARAMETER_NAMES
            .iter()
            .zip(&self.vars)
            .map(|(n, v)| (n.to_string(), v.as_tensor().clone()))
            .collect()
    }

    /// Saves the weights to a safetensors file, atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::io::write_safetensors(path, &self.named_tensors())
    }

    /// Loads weights saved by [`MnistCnn::save`], checking every name and shape.
    pub fn load(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let path = path.as_ref();
        let bad = |problem: String| Error::Checkpoint {
            path: path.to_path_buf(),
            problem,
        };
        if !path.is_file() {
            return Err(bad("no such file".into()));
        }
        let mut tensors = candle_core::safetensors::load(path, device)
            .map_err(|e| bad(format!("not a readable safetensors file ({e})")))?;
        let vars = PARAMETER_NAMES
            .iter()
            .zip(PARAMETER_SHAPES)
            .map(|(name, shape)| {
                let t = tensors.remove(*name).ok_or_else(|| {
                    bad(format!("it has no tensor {name}: not a model of this kind"))
                })?;
                if t.dims() != shape {
                    return Err(bad(format!(
                        "{name} has shape {:?}, this model needs {shape:?}",
                        t.dims()
                    )));
                }
                Ok(Var::from_tensor(&t.to_dtype(DType::F32)?)?)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            vars,
            backend: Backend::default(),
        })
    }
}
