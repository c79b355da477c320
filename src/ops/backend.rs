//! The one place that decides how an operation is computed: the fast CPU
//! kernels (`fused`, with `reference` where nothing is fused), or candle's
//! tensor operations with Keras' gradients ([`generic`](super::generic)),
//! which any device runs.

use super::{fused, generic, reference};
use candle_core::{Device, Result, Tensor};

/// Which implementation of the layers runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// The CPU's own kernels: the network's two blocks fused into single
    /// operations ([`super::conv_relu`], [`super::conv_relu_pool`]), the
    /// reference operations elsewhere.
    #[default]
    Fused,
    /// [`generic`](super::generic): candle's tensor operations with Keras'
    /// gradients, on any device.
    Generic,
}

impl Backend {
    /// The backend for tensors on `device`: [`Backend::Fused`] on the CPU,
    /// [`Backend::Generic`] anywhere else (a GPU).
    pub fn of(device: &Device) -> Self {
        Self::Fused.on(device)
    }

    /// This backend where `device` runs it: the fused kernels need the CPU,
    /// so on other devices the answer is [`Backend::Generic`].
    pub fn on(self, device: &Device) -> Self {
        match device {
            Device::Cpu => self,
            _ => Backend::Generic,
        }
    }

    /// Whether a convolution + ReLU followed by a 2×2 max-pooling runs as
    /// one operation ([`Backend::conv_relu_pool`]); otherwise the two run
    /// one after the other, with the same result.
    pub fn fuses_conv_pool(self) -> bool {
        self == Backend::Fused
    }

    /// A convolution `[b, h, w, c]` by `[kh, kw, c, o]`, plus the bias `[o]`
    /// when given: `[b, h - kh + 1, w - kw + 1, o]`.
    pub fn conv2d_with_bias(self, x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
        match self {
            Backend::Fused => reference::conv2d_with_bias(x, w, b),
            Backend::Generic => generic::conv2d_with_bias(x, w, b),
        }
    }

    /// Convolution, bias and ReLU (the first block).
    pub fn conv_relu(self, x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
        match self {
            Backend::Fused => fused::conv_relu(x, w, b),
            Backend::Generic => generic::conv_relu(x, w, b),
        }
    }

    /// Convolution, bias, ReLU and 2×2 max-pooling (the second block).
    pub fn conv_relu_pool(self, x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
        match self {
            Backend::Fused => fused::conv_relu_pool(x, w, b),
            Backend::Generic => generic::conv_relu_pool(x, w, b),
        }
    }

    /// Each channel's largest value of convolution, bias and ReLU in each
    /// image, and its position `i·ow + j` (the first in row-major order
    /// among equals): `[b, 2, o]`, values then positions. No gradient.
    pub fn conv_relu_peaks(self, x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
        match self {
            Backend::Fused => fused::conv_relu_peaks(x, w, b),
            Backend::Generic => reference::peaks(&generic::conv_relu(x, w, b)?),
        }
    }

    /// 2×2 max-pooling, the gradient to the first maximum of each window.
    pub fn max_pool2x2(self, x: &Tensor) -> Result<Tensor> {
        let (b, h, w, c) = x.dims4()?;
        if b == 0 || c == 0 {
            candle_core::bail!(
                "max_pool2x2: every size must be at least 1, not [{b}, {h}, {w}, {c}]"
            )
        }
        if h < 2 || w < 2 {
            candle_core::bail!("max_pool2x2: input {h}x{w} is smaller than the 2x2 window")
        }
        match self {
            Backend::Fused => reference::max_pool2x2(x),
            Backend::Generic => generic::max_pool2x2(x),
        }
    }

    /// ReLU, with no gradient at 0.
    pub fn relu(self, x: &Tensor) -> Result<Tensor> {
        match self {
            Backend::Fused => reference::relu(x),
            Backend::Generic => generic::relu(x),
        }
    }

    /// `x · mask` for a dropout `mask` of `x`'s shape.
    pub fn mul_mask(self, x: &Tensor, mask: Vec<f32>) -> Result<Tensor> {
        if mask.len() != x.elem_count() {
            candle_core::bail!(
                "mask-mul: a mask of {} values for a tensor of shape {:?}",
                mask.len(),
                x.dims()
            )
        }
        match self {
            Backend::Fused => fused::mul_mask(x, mask),
            Backend::Generic => {
                let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
                x.mul(&mask)
            }
        }
    }
}
