//! Keras' `mnist_cnn.py` (2017), layer for layer.
//!
//! ```python
//! model = Sequential()
//! model.add(Conv2D(32, kernel_size=(3, 3), activation='relu', input_shape=(28, 28, 1)))
//! model.add(Conv2D(64, (3, 3), activation='relu'))
//! model.add(MaxPooling2D(pool_size=(2, 2)))
//! model.add(Dropout(0.25))
//! model.add(Flatten())
//! model.add(Dense(128, activation='relu'))
//! model.add(Dropout(0.5))
//! model.add(Dense(num_classes, activation='softmax'))
//! ```
//!
//! | layer | output | parameters |
//! |---|---|---|
//! | `conv1`: Conv2D(32, 3×3) + ReLU | 26×26×32 | 3·3·1·32 + 32 = 320 |
//! | `conv2`: Conv2D(64, 3×3) + ReLU | 24×24×64 | 3·3·32·64 + 64 = 18,496 |
//! | `pool`: MaxPool 2×2, `dropout1` (0.25) | 12×12×64 | |
//! | Flatten, `dense1`: Dense(128) + ReLU | 128 | 9216·128 + 128 = 1,179,776 |
//! | `dropout2` (0.5), `dense2`: Dense(10) | 10 (logits; the softmax is in the loss) | 128·10 + 10 = 1,290 |
//!
//! 1,199,882 parameters in all, each a candle `Var` held by its layer, under
//! Keras' names (`conv1.kernel`, `conv1.bias`, ...); the filters of the
//! first layer are weights like any other, and training moves them.
//! Kernels start glorot-uniform, biases at zero, from a seed. The layers
//! ([`Conv2d`], [`MaxPool2d`], [`Dropout`], [`Flatten`], [`Dense`]) compute
//! on the backend chosen once, from the device, when the model is built
//! ([`Backend::of`]); [`Sequential`] runs them in order and fuses what the
//! backend can fuse.
//!
//! **One layout** on this API, candle's: images are `[b, 1, 28, 28]` (batch,
//! channel, rows, columns) as [`crate::data`] gives them, and filters
//! `[32, 1, 3, 3]` (filter, channel, row, column) as [`MnistCnn::conv1_filters`]
//! returns them. Inside, the layers compute channels-last as Keras does
//! ([`crate::ops`]), and the weights keep Keras' layouts in the file.
//!
//! ```
//! use filters_are_weights::model::MnistCnn;
//! use candle_core::{DType, Device, Tensor};
//! let model = MnistCnn::new(42, &Device::Cpu)?;
//! assert_eq!(model.parameter_count(), 1_199_882);
//! let images = Tensor::zeros((2, 1, 28, 28), DType::F32, &Device::Cpu)?;
//! assert_eq!(model.forward_t(&images, false)?.dims(), &[2, 10]);
//! assert_eq!(model.conv1_filters()?.dims(), &[32, 1, 3, 3]);
//! # Ok::<(), filters_are_weights::Error>(())
//! ```

mod file;
mod filters;
pub(crate) mod fused_step;
mod layers;
mod sequential;

pub use layers::{
    dropout, dropout_mask, glorot_uniform, Activation, Conv2d, Dense, Dropout, Flatten, MaxPool2d,
};
pub use sequential::{Layer, Sequential};

use crate::error::{Error, Result};
use crate::ops::Backend;
use crate::rng::Rng;
use candle_core::{DType, Device, Tensor, Var};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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

/// The shape of each weight in [`PARAMETER_NAMES`] (Keras' layouts).
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

/// Dropout rates after the pooling and after the first dense layer.
pub const DROPOUT: (f32, f32) = (0.25, 0.5);

/// The CNN of Keras' MNIST example. A `clone()` shares the weights
/// (candle's variables); [`MnistCnn::copy`] makes new ones.
#[derive(Clone)]
pub struct MnistCnn {
    /// Conv2D(32, 3×3) + ReLU: the 32 filters of the lesson.
    pub conv1: Conv2d,
    /// Conv2D(64, 3×3) + ReLU.
    pub conv2: Conv2d,
    /// MaxPooling2D(2×2).
    pub pool: MaxPool2d,
    /// Dropout(0.25) after the pooling.
    pub dropout1: Dropout,
    /// Dense(128) + ReLU.
    pub dense1: Dense,
    /// Dropout(0.5).
    pub dropout2: Dropout,
    /// Dense(10): the logits of the ten digits.
    pub dense2: Dense,
    dropout_stream: Arc<Mutex<Rng>>,
    backend: Backend,
    /// The copy of this crate's code that made the variables (under evcxr,
    /// each notebook cell has its own; see `train/notebook.rs`).
    made_by: usize,
}

/// Which copy of this crate's code is running: the address of a static of
/// its own (each copy has its own statics, and a static's address is
/// unique). A model remembers the copy that made its variables; under
/// evcxr each notebook cell has its own copy (see `train/notebook.rs`).
pub(crate) fn this_copy() -> usize {
    static MARK: u8 = 0;
    std::ptr::addr_of!(MARK) as usize
}

impl MnistCnn {
    /// A freshly initialised model, its initial weights fixed by `seed`.
    pub fn new(seed: u64, device: &Device) -> Result<Self> {
        let mut rng = Rng::new(seed);
        let vars = PARAMETER_SHAPES
            .iter()
            .zip(PARAMETER_NAMES)
            .map(|(shape, name)| {
                let values = if name.ends_with("kernel") {
                    glorot_uniform(shape, &mut rng)
                } else {
                    vec![0.0; shape.iter().product()]
                };
                Ok(Var::from_tensor(&Tensor::from_vec(
                    values, *shape, device,
                )?)?)
            })
            .collect::<Result<Vec<_>>>()?;
        Self::from_vars(vars, Backend::of(device))
    }

    /// The model whose weights are `vars` (in the order of [`PARAMETER_NAMES`]).
    fn from_vars(vars: Vec<Var>, backend: Backend) -> Result<Self> {
        let stream = Arc::new(Mutex::new(Rng::new(0)));
        Self::build(vars, backend, stream, this_copy())
    }

    /// The layers of Keras' listing around `vars` (made by the code copy
    /// `made_by`), computing on `backend`, the dropout layers drawing from
    /// `stream`.
    fn build(
        vars: Vec<Var>,
        backend: Backend,
        stream: Arc<Mutex<Rng>>,
        made_by: usize,
    ) -> Result<Self> {
        let [k1, b1, k2, b2, k3, b3, k4, b4]: [Var; 8] =
            vars.try_into().map_err(|v: Vec<Var>| {
                Error::BadArgument(format!("the model has 8 weights, not {}", v.len()))
            })?;
        use Activation::{Linear, Relu};
        Ok(Self {
            conv1: Conv2d::new("conv1", (k1, b1), Relu, backend)?,
            conv2: Conv2d::new("conv2", (k2, b2), Relu, backend)?,
            pool: MaxPool2d::new(backend),
            dropout1: Dropout::new(DROPOUT.0, stream.clone(), backend),
            dense1: Dense::new("dense1", (k3, b3), Relu, backend)?,
            dropout2: Dropout::new(DROPOUT.1, stream.clone(), backend),
            dense2: Dense::new("dense2", (k4, b4), Linear, backend)?,
            dropout_stream: stream,
            backend,
            made_by,
        })
    }

    /// The logits `[b, 10]` of images `[b, 1, 28, 28]`, in training
    /// (`train`: dropout draws its masks) or not (dropout passes everything).
    pub fn forward_t(&self, images: &Tensor, train: bool) -> Result<Tensor> {
        let x = self.channels_last(images)?; // [b, 28, 28, 1]
        Sequential::new(x, train)
            .then(&self.conv1)? // [b, 26, 26, 32]
            .then(&self.conv2)? // [b, 24, 24, 64]
            .then(&self.pool)? // [b, 12, 12, 64]
            .then(&self.dropout1)? // [b, 12, 12, 64]
            .then(Flatten)? // [b, 9216], in Keras' (row, column, channel) order
            .then(&self.dense1)? // [b, 128]
            .then(&self.dropout2)? // [b, 128]
            .then(&self.dense2)? // [b, 10]
            .output()
    }

    /// The layers in order, as Keras lists them.
    pub fn layers(&self) -> [Layer<'_>; 8] {
        [
            Layer::Conv2d(&self.conv1),
            Layer::Conv2d(&self.conv2),
            Layer::MaxPool2d(&self.pool),
            Layer::Dropout(&self.dropout1),
            Layer::Flatten,
            Layer::Dense(&self.dense1),
            Layer::Dropout(&self.dropout2),
            Layer::Dense(&self.dense2),
        ]
    }

    /// Images `[b, 1, 28, 28]` on the model's device as `[b, 28, 28, 1]`
    /// (one channel: the same numbers in the same order).
    fn channels_last(&self, images: &Tensor) -> Result<Tensor> {
        let (b, _, h, w) = images.dims4()?;
        Ok(images.to_device(self.device())?.reshape((b, h, w, 1))?)
    }

    /// Every layer's output for images `[b, 1, 28, 28]` (not training), by
    /// layer, each layer run on its own: what the network "sees" at each
    /// depth.
    pub fn activations(&self, images: &Tensor) -> Result<Vec<(String, Tensor)>> {
        let mut x = self.channels_last(images)?;
        let mut out = Vec::new();
        for layer in self.layers() {
            x = layer.forward_t(&x, false)?;
            out.push((layer.description(), x.clone()));
        }
        Ok(out)
    }

    /// A Keras-style summary: each layer, its output shape and its number of
    /// parameters, computed from the layers themselves.
    pub fn summary(&self) -> Result<String> {
        let x = Tensor::zeros((1, 1, 28, 28), self.dtype(), self.device())?;
        let mut out = format!(
            "{:<22} {:<18} {:>10}\n",
            "layer", "output shape", "parameters"
        );
        for (layer, (name, t)) in self.layers().into_iter().zip(self.activations(&x)?) {
            let shape = format!("{:?}", &t.dims()[1..]);
            out += &format!("{name:<22} {shape:<18} {:>10}\n", layer.parameter_count());
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
        Ok(self.forward_t(images, false)?.argmax(1)?)
    }

    /// Starts the random stream the dropout layers draw their masks from.
    /// The trainer does this at every epoch, so that a run is fixed by its
    /// seed; call it to repeat a training-mode pass exactly.
    pub fn seed_dropout(&self, rng: Rng) {
        *self
            .dropout_stream
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = rng;
    }

    /// The same model (the same weights) computing with `backend`:
    /// [`Backend::Fused`] (the default on a CPU) or [`Backend::Generic`]
    /// (candle's operations with Keras' gradients, what other devices run).
    /// Off the CPU it is always the generic one ([`Backend::on`]).
    pub fn with_backend(self, backend: Backend) -> Result<Self> {
        let backend = backend.on(self.device());
        Self::build(self.vars(), backend, self.dropout_stream, self.made_by)
    }

    /// Which implementation of the layers the model runs.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The device the weights are on.
    pub fn device(&self) -> &Device {
        self.conv1.weights().0.device()
    }

    fn dtype(&self) -> DType {
        self.conv1.weights().0.dtype()
    }

    /// The weights as candle variables, in the order of [`PARAMETER_NAMES`].
    /// A [`crate::train::Trainer`] trains these very variables (in a
    /// notebook, copies made by the cell that trains; see [`MnistCnn::copy`]).
    pub fn vars(&self) -> Vec<Var> {
        [
            self.conv1.weights(),
            self.conv2.weights(),
            self.dense1.weights(),
            self.dense2.weights(),
        ]
        .into_iter()
        .flat_map(|(k, b)| [k.clone(), b.clone()])
        .collect()
    }

    /// Total number of trainable parameters.
    pub fn parameter_count(&self) -> usize {
        self.layers().iter().map(|l| l.parameter_count()).sum()
    }

    /// A model with the same values in brand-new variables: training one
    /// leaves the other as it was (a `clone()` shares the variables, as
    /// candle's `Var` does, and trains with it).
    ///
    /// Under evcxr every notebook cell has its own copy of candle's statics
    /// (tensor ids among them), so tensors made in one cell can clash with
    /// those of another; the trainer trains fresh variables made in the cell
    /// that trains (see `train/notebook.rs`).
    pub fn copy(&self) -> Result<Self> {
        let vars = self
            .vars()
            .iter()
            .map(|v| Ok(Var::from_tensor(&v.as_tensor().copy()?)?))
            .collect::<Result<Vec<_>>>()?;
        let copy = Self::from_vars(vars, self.backend)?;
        copy.seed_dropout(
            self.dropout_stream
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        );
        Ok(copy)
    }

    /// The copy of this crate's code that made the variables.
    pub(crate) fn made_by(&self) -> usize {
        self.made_by
    }

    /// The same model computing in `dtype` (f64 is handy for gradient checks).
    pub fn to_dtype(&self, dtype: DType) -> Result<Self> {
        let vars = self
            .vars()
            .iter()
            .map(|v| Ok(Var::from_tensor(&v.as_tensor().to_dtype(dtype)?)?))
            .collect::<Result<Vec<_>>>()?;
        Self::from_vars(vars, self.backend)
    }

    /// The weights by name.
    pub fn named_tensors(&self) -> HashMap<String, Tensor> {
        PARAMETER_NAMES
            .iter()
            .zip(self.vars())
            .map(|(n, v)| (n.to_string(), v.as_tensor().clone()))
            .collect()
    }
}

impl std::fmt::Debug for MnistCnn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MnistCnn")
            .field("parameters", &self.parameter_count())
            .field("device", self.device())
            .field("backend", &self.backend)
            .finish()
    }
}

impl candle_nn::ModuleT for MnistCnn {
    fn forward_t(&self, xs: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        MnistCnn::forward_t(self, xs, train).map_err(|e| match e {
            Error::Candle(e) => e,
            other => candle_core::Error::Msg(other.to_string()),
        })
    }
}
