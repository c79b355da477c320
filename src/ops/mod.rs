//! The arithmetic of the network's layers: convolution, ReLU, max-pooling
//! and their gradients.
//!
//! | module | what it holds |
//! |---|---|
//! | [`Backend`] | the one place that decides which of the three computes an operation |
//! | `reference` | the reference maths on the CPU, each operation with its exact gradient (below) |
//! | `fused` | the fast CPU kernels: the network's two blocks fused, Winograd, sparse backward sums, Adadelta's in-place step |
//! | [`generic`] | the same maths from candle's tensor operations, for any device |
//!
//! Tensors here are **channels-last** (NHWC), as in Keras: an image batch is
//! `[batch, height, width, channels]` and a convolution kernel is
//! `[kh, kw, in_channels, out_channels]`.
//!
//! * [`conv2d`] is a *valid* cross-correlation (no kernel flip, no padding,
//!   stride 1), the operation of Keras' `Conv2D` and of setosa's image kernels:
//!
//!   `out[n, y, x, o] = Σ_{ky, kx, c} in[n, y + ky, x + kx, c] · w[ky, kx, c, o]`
//!
//!   It is computed as *im2col + matrix product*: every `kh × kw × c` patch of
//!   the input becomes one row of a matrix `cols` of shape
//!   `[batch·oh·ow, kh·kw·c]`, and `out = cols · w` with `w` seen as
//!   `[kh·kw·c, o]`. candle's autograd differentiates the matrix product; the
//!   gradient of im2col is its adjoint, col2im (scatter-add the rows back).
//!   When the input is not a variable (the images), no input gradient is
//!   computed at all.
//! * [`relu`] is `max(x, 0)`, with TensorFlow's gradient.
//! * [`max_pool2x2`] keeps the largest value of each 2×2 window. Its gradient
//!   goes, whole, to the position that held the maximum (the first one, if
//!   several tie), exactly as in Keras and PyTorch.
//!
//! **NaN and infinities** travel as IEEE arithmetic carries them, alike on
//! every backend: ReLU keeps a NaN (and passes no gradient there), and
//! wherever a largest value is chosen (a pooling window, a channel's peak) a
//! NaN ranks above every number (the first NaN, if
//! several), so it wins and is not hidden. A NaN in an input never
//! comes out as a clean number; the fused 3×3 blocks (Winograd) may spread it,
//! or an infinity, over the 2×2 block of outputs around it.
//!
//! Every size must be at least 1 (an empty batch, no channels or a kernel of
//! no rows is refused with an error, on every backend).
//!
//! * [`conv_relu`] and [`conv_relu_pool`] fuse the network's two blocks
//!   (conv + bias + ReLU, and conv + bias + ReLU + max-pool) into single
//!   operations with their own backward passes, for fast training on a CPU;
//!   the backward pass of the second uses the fact that only one position per
//!   pooling window gets any gradient.
//! * [`mul_mask`] multiplies by a dropout mask (in parallel on the CPU).
//!
//! On other devices (a GPU) all of them run [`generic`]: candle's own tensor
//! operations, arranged to give the same gradients as Keras (candle's `max`
//! and ReLU alone would not). [`Backend::of`] decides, from the device, and
//! nothing else does; a model chooses its backend once, when it is built,
//! and on the CPU the generic one can be chosen too, to check one against
//! the other.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use filters_are_weights::ops::{conv2d, max_pool2x2};
//! # fn main() -> candle_core::Result<()> {
//! let x = Tensor::arange(0f32, 16., &Device::Cpu)?.reshape((1, 4, 4, 1))?; // [1, 4, 4, 1]
//! let w = Tensor::ones((3, 3, 1, 2), candle_core::DType::F32, &Device::Cpu)?; // [3, 3, 1, 2]
//! let y = conv2d(&x, &w)?; // [1, 2, 2, 2]: sums of 3x3 windows
//! assert_eq!(y.dims(), &[1, 2, 2, 2]);
//! assert_eq!(y.flatten_all()?.to_vec1::<f32>()?, vec![45., 45., 54., 54., 81., 81., 90., 90.]);
//! let p = max_pool2x2(&x)?; // [1, 2, 2, 1]
//! assert_eq!(p.flatten_all()?.to_vec1::<f32>()?, vec![5., 7., 13., 15.]);
//! # Ok(()) }
//! ```

use candle_core::{bail, Layout, Result, Shape, Tensor, WithDType};

/// Runs a CPU kernel, written once for any float type, on f32 or f64
/// storages: `float_dispatch!(name, [(s1, l1) => a, (s2, l2) => b], body)`
/// binds each input as a contiguous slice `&[T]` (all of one dtype) and
/// wraps the `Vec<T>` that `body` returns as a storage.
macro_rules! float_dispatch {
    ($name:expr, [$(($s:expr, $l:expr) => $v:ident),+], $body:expr) => {{
        #[allow(unused_parens)]
        let out = match ($($s),+) {
            ($(CpuStorage::F32($v)),+) => {
                $(let $v = contiguous_slice($v, $l, $name)?;)+
                CpuStorage::F32($body)
            }
            ($(CpuStorage::F64($v)),+) => {
                $(let $v = contiguous_slice($v, $l, $name)?;)+
                CpuStorage::F64($body)
            }
            #[allow(unreachable_patterns)]
            _ => bail!("{}: inputs must be all f32 or all f64", $name),
        };
        out
    }};
}

mod backend;
#[cfg(test)]
mod conformance;
mod fused;
pub mod generic;
mod reference;

pub use backend::Backend;
pub(crate) use fused::{adadelta_in_place, adadelta_in_place_from, into, matmul_as_candle, Dims};
pub(crate) use reference::relu_grad;

/// Valid, stride-1 cross-correlation of `x` `[b, h, w, c]` with `w`
/// `[kh, kw, c, o]`, giving `[b, h - kh + 1, w - kw + 1, o]`.
pub fn conv2d(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    conv2d_with_bias(x, w, None)
}

/// [`conv2d`] plus a bias `[o]` added to every output position. On the CPU
/// the bias is folded into the matrix product (one more column of ones),
/// so its gradient comes out of the same product.
pub fn conv2d_with_bias(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    conv_checked(x, w, bias)?;
    Backend::of(x.device()).conv2d_with_bias(x, w, bias)
}

/// Convolution, bias and ReLU in one operation (module `fused` on the CPU).
pub fn conv_relu(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    conv_checked(x, w, Some(b))?;
    Backend::of(x.device()).conv_relu(x, w, b)
}

/// Convolution, bias, ReLU and 2×2 max-pooling in one operation (module
/// `fused` on the CPU).
pub fn conv_relu_pool(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    conv_checked(x, w, Some(b))?;
    Backend::of(x.device()).conv_relu_pool(x, w, b)
}

/// [`conv_shapes`], and the bias, when given, `[o]`.
fn conv_checked(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Dims4Kernel> {
    let dims = conv_shapes(x.shape(), w.shape())?;
    if let Some(b) = bias {
        if b.dims() != [dims.1 .2] {
            bail!(
                "conv: a kernel of {} output channels needs a bias of shape [{}], not {:?}",
                dims.1 .2,
                dims.1 .2,
                b.dims()
            )
        }
    }
    Ok(dims)
}

/// The sizes `((b, h, w, c), (kh, kw, o))` of a convolution of `x` `[b, h, w, c]`
/// by `w` `[kh, kw, c, o]`, checked: the channels agree and the kernel fits.
fn conv_shapes(x: &Shape, w: &Shape) -> Result<Dims4Kernel> {
    let (b, h, wd, c) = x.dims4()?;
    let (kh, kw, wc, o) = w.dims4()?;
    if [b, h, wd, c, kh, kw, o].contains(&0) {
        bail!(
            "conv2d: every size must be at least 1, not an input [{b}, {h}, {wd}, {c}] \
             and a kernel [{kh}, {kw}, {wc}, {o}]"
        )
    }
    if wc != c {
        bail!("conv2d: input has {c} channels but the kernel expects {wc}")
    }
    if kh > h || kw > wd {
        bail!("conv2d: kernel {kh}x{kw} is larger than the {h}x{wd} input")
    }
    Ok(((b, h, wd, c), (kh, kw, o)))
}

/// An input's `(b, h, w, c)` and a kernel's `(kh, kw, o)`.
type Dims4Kernel = ((usize, usize, usize, usize), (usize, usize, usize));

/// Where a convolution block answers most in each image: for each image of
/// `x` `[b, h, w, c]` and each output channel of `w` `[kh, kw, c, o]`, the
/// largest value of `relu(conv2d(x, w) + b)` and its position. What a
/// channel's top images need, without its maps (which for conv2 over the
/// test set would take 1.5 GB). On the CPU the reduction happens as the
/// convolution is computed (a 3×3 kernel by Winograd's F(2×2, 3×3), whose
/// rounding differs from [`conv2d`]'s in the last bits). No gradient.
///
/// Refused: inputs, weights or bias holding a NaN or an infinity (a peak
/// among them means nothing), maps of more than 2²⁴ positions (positions
/// travel as f32, exact below that), and a peak that is not finite (a
/// convolution that overflowed).
///
/// ```
/// use candle_core::{Device, Tensor};
/// use filters_are_weights::ops::{conv_relu, conv_relu_peaks};
/// # fn main() -> candle_core::Result<()> {
/// let x = Tensor::randn(0f32, 1., (3, 8, 8, 2), &Device::Cpu)?; // [3, 8, 8, 2]
/// let w = Tensor::randn(0f32, 1., (3, 3, 2, 4), &Device::Cpu)?; // [3, 3, 2, 4]
/// let b = Tensor::zeros(4, candle_core::DType::F32, &Device::Cpu)?; // [4]
/// let peaks = conv_relu_peaks(&x, &w, &b)?;
/// let maps = conv_relu(&x, &w, &b)?.flatten_all()?.to_vec1::<f32>()?; // [3, 6, 6, 4]
/// for (image, channel) in [(0, 0), (2, 3)] {
///     let (value, (i, j)) = peaks.at(image, channel);
///     let here = maps[((image * 6 + i) * 6 + j) * 4 + channel];
///     assert!((value - here).abs() < 1e-5);
///     let all = (0..36).map(|p| maps[(image * 36 + p) * 4 + channel]);
///     assert!(all.fold(0f32, f32::max) - value < 1e-5);
/// }
/// # Ok(()) }
/// ```
pub fn conv_relu_peaks(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Peaks> {
    let ((n, h, wd, _), (kh, kw, o)) = conv_checked(x, w, Some(b))?;
    let positions = (h - kh + 1) * (wd - kw + 1);
    if positions > MAX_PEAK_POSITIONS {
        bail!(
            "conv_relu_peaks: an output map of {positions} positions; at most \
             {MAX_PEAK_POSITIONS} (2^24) can be told apart"
        )
    }
    for (t, what) in [(x, "input"), (w, "kernel"), (b, "bias")] {
        if !all_finite(t)? {
            bail!("conv_relu_peaks: the {what} holds a NaN or an infinity; a peak among them means nothing")
        }
    }
    let found = Backend::of(x.device()).conv_relu_peaks(x, w, b)?;
    let found: Vec<f32> = found
        .to_dtype(candle_core::DType::F32)?
        .flatten_all()?
        .to_vec1()?;
    let (mut values, mut positions) = (Vec::with_capacity(n * o), Vec::with_capacity(n * o));
    for image in found.chunks(2 * o) {
        values.extend_from_slice(&image[..o]);
        positions.extend(image[o..].iter().map(|&p| p as usize));
    }
    if let Some(k) = values.iter().position(|v| !v.is_finite()) {
        bail!(
            "conv_relu_peaks: image {}, channel {}: the convolution overflowed (its largest \
             value is {}); scale the input or the weights down",
            k / o,
            k % o,
            values[k]
        )
    }
    Ok(Peaks {
        values,
        positions,
        channels: o,
        width: wd - kw + 1,
    })
}

/// The most positions of an output map that [`conv_relu_peaks`] tells apart.
pub const MAX_PEAK_POSITIONS: usize = 1 << 24;

/// Whether every value of `t` is finite, on any device: `t - t` is 0 for
/// a finite value and NaN for a NaN or an infinity, and a NaN makes the sum NaN.
pub(crate) fn all_finite(t: &Tensor) -> Result<bool> {
    if t.elem_count() == 0 {
        return Ok(true);
    }
    let zeros = t.sub(t)?.sum_all()?.to_dtype(candle_core::DType::F64)?;
    Ok(zeros.to_scalar::<f64>()?.is_finite())
}

/// `a` ranks above `b` where a largest value is chosen: larger, or a NaN
/// where `b` is none (a NaN ranks above every number). Equals do not.
#[inline(always)]
pub(crate) fn ranks_above<T: PartialOrd>(a: T, b: T) -> bool {
    #[allow(clippy::eq_op)]
    let (a_nan, b_nan) = (a != a, b != b);
    if a_nan || b_nan {
        return a_nan && !b_nan;
    }
    a > b
}

/// What [`conv_relu_peaks`] found: per image and channel, the largest value
/// and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Peaks {
    /// `[images, channels]`: each channel's largest value in each image.
    pub values: Vec<f32>,
    /// `[images, channels]`: where, as `i·width + j` in the output map.
    pub positions: Vec<usize>,
    /// Output channels.
    pub channels: usize,
    /// The output map's width.
    pub width: usize,
}

impl Peaks {
    /// Image `n`'s channel `ch`: its largest value and its (row, column).
    pub fn at(&self, n: usize, ch: usize) -> (f32, (usize, usize)) {
        let k = n * self.channels + ch;
        let p = self.positions[k];
        (self.values[k], (p / self.width, p % self.width))
    }
}

/// 2×2 max-pooling with stride 2 of `x` `[b, h, w, c]`, giving
/// `[b, h / 2, w / 2, c]` (a trailing odd row or column is dropped, as in Keras).
pub fn max_pool2x2(x: &Tensor) -> Result<Tensor> {
    Backend::of(x.device()).max_pool2x2(x)
}

/// `x · mask`, elementwise, for a `mask` of `x`'s shape (dropout's). On the
/// CPU each direction is one parallel pass (candle's `mul` runs on one
/// thread); the gradient is `dy · mask` either way.
pub fn mul_mask(x: &Tensor, mask: Vec<f32>) -> Result<Tensor> {
    Backend::of(x.device()).mul_mask(x, mask)
}

fn contiguous_slice<'a, T: WithDType>(v: &'a [T], layout: &Layout, op: &str) -> Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&v[start..end]),
        None => bail!("{op}: input must be contiguous"),
    }
}

/// `max(x, 0)`, elementwise. Its gradient passes where the output is positive
/// and is zero elsewhere, at 0 too, as in TensorFlow (candle's own ReLU lets
/// it through at exactly 0, which happens on MNIST's black background). On the
/// CPU both directions are one pass over memory (candle's gradient takes three).
pub fn relu(x: &Tensor) -> Result<Tensor> {
    Backend::of(x.device()).relu(x)
}
