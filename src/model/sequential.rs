//! Keras' `Sequential`: layers applied one after the other. This is where
//! the layers meet the backend's fusions, out of the model's sight: a
//! [`Conv2d`] with a ReLU followed by a [`MaxPool2d`] runs as one operation
//! where the backend has it ([`crate::ops::conv_relu_pool`]: the
//! convolution's full-size output is never stored), and as the two layers
//! one after the other elsewhere, with the same result.

use super::layers::{Conv2d, Dense, Dropout, Flatten, MaxPool2d};
use crate::error::Result;
use candle_core::Tensor;

/// One layer of a [`Sequential`].
#[derive(Debug, Clone, Copy)]
pub enum Layer<'a> {
    /// A convolution (with its activation).
    Conv2d(&'a Conv2d),
    /// 2×2 max-pooling.
    MaxPool2d(&'a MaxPool2d),
    /// Dropout (in training only).
    Dropout(&'a Dropout),
    /// One row per image.
    Flatten,
    /// A dense layer (with its activation).
    Dense(&'a Dense),
}

impl Layer<'_> {
    /// The layer alone on `x` (in training or not).
    pub fn forward_t(self, x: &Tensor, train: bool) -> Result<Tensor> {
        match self {
            Layer::Conv2d(l) => l.forward(x),
            Layer::MaxPool2d(l) => l.forward(x),
            Layer::Dropout(l) => l.forward_t(x, train),
            Layer::Flatten => Flatten.forward(x),
            Layer::Dense(l) => l.forward(x),
        }
    }

    /// How the layer is listed: "conv1 3x3 + relu", "max-pool 2x2", ...
    pub fn description(self) -> String {
        match self {
            Layer::Conv2d(l) => l.description(),
            Layer::MaxPool2d(_) => "max-pool 2x2".into(),
            Layer::Dropout(l) => format!("dropout {}", l.rate),
            Layer::Flatten => "flatten".into(),
            Layer::Dense(l) => l.description(),
        }
    }

    /// The number of weights the layer holds.
    pub fn parameter_count(self) -> usize {
        let (k, b) = match self {
            Layer::Conv2d(l) => l.weights(),
            Layer::Dense(l) => l.weights(),
            _ => return 0,
        };
        k.elem_count() + b.elem_count()
    }
}

macro_rules! layer_from {
    ($($t:ident),+) => {$(
        impl<'a> From<&'a $t> for Layer<'a> {
            fn from(l: &'a $t) -> Self {
                Layer::$t(l)
            }
        }
    )+};
}
layer_from!(Conv2d, MaxPool2d, Dropout, Dense);

impl From<Flatten> for Layer<'_> {
    fn from(_: Flatten) -> Self {
        Layer::Flatten
    }
}

/// A batch on its way through the layers: `Sequential::new(x, train)
/// .then(&conv1)?.then(&conv2)?...output()`.
#[derive(Debug)]
pub struct Sequential<'a> {
    x: Tensor,
    train: bool,
    /// A convolution not yet computed, waiting to see whether a pooling
    /// follows (only where the backend would fuse the two).
    waiting: Option<&'a Conv2d>,
}

impl<'a> Sequential<'a> {
    /// Starts with the input `x`, in training (dropout draws masks) or not.
    pub fn new(x: Tensor, train: bool) -> Self {
        Self {
            x,
            train,
            waiting: None,
        }
    }

    /// Applies `layer` next.
    pub fn then(mut self, layer: impl Into<Layer<'a>>) -> Result<Self> {
        let layer = layer.into();
        if let (Some(conv), Layer::MaxPool2d(pool)) = (self.waiting, layer) {
            self.x = conv.forward_pooled(&self.x, pool)?;
            self.waiting = None;
            return Ok(self);
        }
        self.settle()?;
        match layer {
            Layer::Conv2d(conv) if conv.fuses_with_pool() => self.waiting = Some(conv),
            layer => self.x = layer.forward_t(&self.x, self.train)?,
        }
        Ok(self)
    }

    /// The output of the last layer.
    pub fn output(mut self) -> Result<Tensor> {
        self.settle()?;
        Ok(self.x)
    }

    /// Computes the convolution that was waiting, if any.
    fn settle(&mut self) -> Result<()> {
        if let Some(conv) = self.waiting.take() {
            self.x = conv.forward(&self.x)?;
        }
        Ok(())
    }
}
