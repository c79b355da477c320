//! The layers with Keras' gradients, from candle's own tensor operations:
//! the path for every device (a GPU through the `cuda` or `metal` feature),
//! and on the CPU a check of the fused operations
//! ([`Backend::Generic`](super::Backend)).
//!
//! candle's operations alone would train another model than Keras': the
//! backward pass of its `max` gives the whole gradient to *every* tied input
//! (and on MNIST's black background nearly every pooling window of the
//! second layer is a four-way tie of zeros), and its ReLU lets the gradient
//! through at exactly 0. Here both follow TensorFlow, with masks computed
//! from the values (comparisons carry no gradient) and multiplied in:
//!
//! * ReLU: `y = x` where `x > 0`, else 0 (a choice, not a product, so that
//!   −∞ gives 0), so `dx = dy · [x > 0]`: nothing at 0; a NaN is put back
//!   where it was, with no gradient.
//! * 2×2 max-pooling: in each window, `m = [x = max]` marks the maxima and
//!   `first = m · [cumsum(m) = 1]` the first of them (row by row); where the
//!   window holds a NaN, the first NaN instead (a NaN ranks above every
//!   number); `y = Σ_{first} x`, so the whole gradient goes to the first
//!   maximum.
//! * Convolution: candle's `conv2d` (channels-first, so the tensors are
//!   permuted in and out), whose gradient is the exact one.
//!
//! Shapes are channels-last as everywhere in [`crate::ops`].
//!
//! ```
//! use candle_core::{Device, Tensor, Var};
//! use filters_are_weights::ops::generic;
//! # fn main() -> candle_core::Result<()> {
//! // One 2x2 window of four equal values: the first one takes the gradient.
//! let x = Var::new(&[[[[0f32], [0.]], [[0.], [0.]]]], &Device::Cpu)?; // [1, 2, 2, 1]
//! let y = generic::max_pool2x2(x.as_tensor())?; // [1, 1, 1, 1]
//! let g = y.sum_all()?.backward()?;
//! let g = g.get(x.as_tensor()).unwrap().flatten_all()?.to_vec1::<f32>()?;
//! assert_eq!(g, vec![1., 0., 0., 0.]);
//! # Ok(()) }
//! ```

use candle_core::{bail, Result, Tensor};

/// `max(x, 0)`, with no gradient where `x ≤ 0` (TensorFlow's rule).
pub fn relu(x: &Tensor) -> Result<Tensor> {
    let zeros = x.zeros_like()?;
    let y = x.gt(0.0)?.where_cond(x, &zeros)?; // [x > 0] chooses, no gradient
    let nan = x.ne(x)?; // NaN is not itself
    nan.where_cond(&x.detach(), &y)
}

/// 2×2 max-pooling of `x` `[b, h, w, c]` to `[b, h / 2, w / 2, c]` (a last odd
/// row or column is dropped); the gradient goes whole to the first maximum.
pub fn max_pool2x2(x: &Tensor) -> Result<Tensor> {
    let (b, h, w, c) = x.dims4()?;
    if h < 2 || w < 2 {
        bail!("max_pool2x2: input {h}x{w} is smaller than the 2x2 window")
    }
    let (oh, ow) = (h / 2, w / 2);
    let x = x.narrow(1, 0, oh * 2)?.narrow(2, 0, ow * 2)?;
    // The four values of each window side by side: [b, oh, ow, c, 4], in
    // the order (0, 0), (0, 1), (1, 0), (1, 1).
    let windows = x
        .reshape((b, oh, 2, ow, 2, c))?
        .permute((0, 1, 3, 5, 2, 4))?
        .reshape((b, oh, ow, c, 4))?;
    let detached = windows.detach().reshape((b * oh * ow * c, 4))?; // one window a row
    let nan = detached.ne(&detached)?; // NaN is not itself
    let lowest = Tensor::full(f32::NEG_INFINITY, detached.shape(), x.device())?;
    let numbers = nan.where_cond(&lowest.to_dtype(x.dtype())?, &detached)?; // NaN out of the way
    let max = numbers.max_keepdim(1)?; // [windows, 1]
    let is_max = numbers.broadcast_eq(&max)?.to_dtype(x.dtype())?;
    let first_of =
        |m: &Tensor| -> Result<Tensor> { m.mul(&m.cumsum(1)?.eq(1.0)?.to_dtype(x.dtype())?) };
    let any_nan = nan.max_keepdim(1)?.broadcast_as(detached.shape())?; // [windows, 4]
    let first = any_nan
        .where_cond(&first_of(&nan.to_dtype(x.dtype())?)?, &first_of(&is_max)?)?
        .ne(0.0)?
        .reshape((b, oh, ow, c, 4))?;
    first.where_cond(&windows, &windows.zeros_like()?)?.sum(4) // [b, oh, ow, c]
}

/// Valid, stride-1 cross-correlation of `x` `[b, h, w, c]` with `w`
/// `[kh, kw, c, o]`, plus `bias` `[o]` when given: candle's `conv2d`.
pub fn conv2d_with_bias(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    super::conv_shapes(x.shape(), w.shape())?;
    // candle's conv2d is channels-first: [b, c, h, w] and [o, c, kh, kw].
    // On the CPU the input goes as a view, its memory channels-last: candle
    // 0.9.2's CPU conv2d takes a contiguous channels-first input whose
    // channels, rows and columns are equal in number for a channels-last one,
    // and reads it wrongly (candle issue 3404, mended after 0.9.2); a view's
    // strides tell it apart, and the layout it was made from is the one
    // that convolution reads fastest.
    let x = x.permute((0, 3, 1, 2))?; // [b, c, h, w]
    let x = if x.device().is_cpu() {
        x
    } else {
        x.contiguous()?
    };
    let y = x
        .conv2d(&w.permute((3, 2, 0, 1))?.contiguous()?, 0, 1, 1, 1)?
        .permute((0, 2, 3, 1))?;
    match bias {
        Some(bias) => y.broadcast_add(bias),
        None => Ok(y),
    }
}

/// Convolution, bias and ReLU: the first block of the network.
pub fn conv_relu(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    relu(&conv2d_with_bias(x, w, Some(b))?)
}

/// Convolution, bias, ReLU and 2×2 max-pooling: the second block.
pub fn conv_relu_pool(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    max_pool2x2(&conv_relu(x, w, b)?)
}
