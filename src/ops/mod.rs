//! The two layers whose maths candle gets slow or wrong on a CPU, written out.
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
//! * [`conv_relu`] and [`conv_relu_pool`] fuse the network's two blocks
//!   (conv + bias + ReLU, and conv + bias + ReLU + max-pool) into single
//!   operations with their own backward passes, for fast training on a CPU;
//!   the backward pass of the second uses the fact that only one position per
//!   pooling window gets any gradient.
//!
//! On other devices (a GPU) all of them run [`generic`]: candle's own tensor
//! operations, arranged to give the same gradients as Keras (candle's `max`
//! and ReLU alone would not). [`Backend`] says which path a model takes; on
//! the CPU the generic one can be chosen too, to check one against the other.
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

use candle_core::{
    bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, WithDType,
};
use rayon::prelude::*;

mod blocks;
pub mod generic;
mod simd;
mod winograd;
pub use blocks::{conv_relu, conv_relu_pool};

/// Which implementation of the layers a model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// The fused CPU operations [`conv_relu`] and [`conv_relu_pool`] (on
    /// other devices they run [`generic`] anyway).
    #[default]
    Fused,
    /// [`generic`]: candle's tensor operations with Keras' gradients, on any
    /// device.
    Generic,
}

impl Backend {
    /// The first block: convolution, bias and ReLU.
    pub fn conv_relu(self, x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
        match self {
            Backend::Fused => conv_relu(x, w, b),
            Backend::Generic => generic::conv_relu(x, w, b),
        }
    }

    /// The second block: convolution, bias, ReLU and 2×2 max-pooling.
    pub fn conv_relu_pool(self, x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
        match self {
            Backend::Fused => conv_relu_pool(x, w, b),
            Backend::Generic => generic::conv_relu_pool(x, w, b),
        }
    }

    /// A convolution with an optional bias, not fused with anything.
    pub fn conv2d_with_bias(self, x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
        match self {
            Backend::Fused => conv2d_with_bias(x, w, b),
            Backend::Generic => generic::conv2d_with_bias(x, w, b),
        }
    }

    /// 2×2 max-pooling, not fused with anything.
    pub fn max_pool2x2(self, x: &Tensor) -> Result<Tensor> {
        match self {
            Backend::Fused => max_pool2x2(x),
            Backend::Generic => generic::max_pool2x2(x),
        }
    }

    /// ReLU.
    pub fn relu(self, x: &Tensor) -> Result<Tensor> {
        match self {
            Backend::Fused => relu(x),
            Backend::Generic => generic::relu(x),
        }
    }
}

/// Valid, stride-1 cross-correlation of `x` `[b, h, w, c]` with `w`
/// `[kh, kw, c, o]`, giving `[b, h - kh + 1, w - kw + 1, o]`.
pub fn conv2d(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    conv2d_with_bias(x, w, None)
}

/// [`conv2d`] plus a bias `[o]` added to every output position.
///
/// On the CPU the bias is folded into the matrix product: each patch row
/// gets one more entry, always 1, and the bias is one more row of the kernel
/// matrix. Its gradient then comes out of the same matrix product.
pub fn conv2d_with_bias(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let ((b, h, wd, c), (kh, kw, o)) = conv_shapes(x.shape(), w.shape())?;
    let (oh, ow) = (h - kh + 1, wd - kw + 1);
    if !x.device().is_cpu() {
        return generic::conv2d_with_bias(x, w, bias);
    }
    let ones = bias.is_some();
    let cols = x.contiguous()?.apply_op1(Im2Col { kh, kw, ones })?; // [b·oh·ow, kh·kw·c (+1)]
    let w = w.reshape((kh * kw * c, o))?; // [kh·kw·c, o]
    let w = match bias {
        Some(bias) => Tensor::cat(&[&w, &bias.reshape((1, o))?], 0)?, // [kh·kw·c + 1, o]
        None => w,
    };
    cols.matmul(&w)?.reshape((b, oh, ow, o))
}

/// The sizes `((b, h, w, c), (kh, kw, o))` of a convolution of `x` `[b, h, w, c]`
/// by `w` `[kh, kw, c, o]`, checked: the channels agree and the kernel fits.
fn conv_shapes(x: &Shape, w: &Shape) -> Result<Dims4Kernel> {
    let (b, h, wd, c) = x.dims4()?;
    let (kh, kw, wc, o) = w.dims4()?;
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

/// 2×2 max-pooling with stride 2 of `x` `[b, h, w, c]`, giving
/// `[b, h / 2, w / 2, c]` (a trailing odd row or column is dropped, as in Keras).
pub fn max_pool2x2(x: &Tensor) -> Result<Tensor> {
    let (_, h, w, _) = x.dims4()?;
    if h < 2 || w < 2 {
        bail!("max_pool2x2: input {h}x{w} is smaller than the 2x2 window")
    }
    if !x.device().is_cpu() {
        return generic::max_pool2x2(x);
    }
    x.contiguous()?.apply_op1(MaxPool2x2)
}

fn contiguous_slice<'a, T: WithDType>(v: &'a [T], layout: &Layout, op: &str) -> Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&v[start..end]),
        None => bail!("{op}: input must be contiguous"),
    }
}

/// Applies a generic CPU kernel to an f32 or f64 storage.
macro_rules! float_dispatch {
    ($storage:expr, $layout:expr, $name:expr, |$v:ident| $body:expr) => {
        match $storage {
            CpuStorage::F32(all) => {
                let $v = contiguous_slice(all, $layout, $name)?;
                CpuStorage::F32($body)
            }
            CpuStorage::F64(all) => {
                let $v = contiguous_slice(all, $layout, $name)?;
                CpuStorage::F64($body)
            }
            other => bail!(
                "{}: unsupported dtype {:?}",
                $name,
                candle_core::backend::BackendStorage::dtype(other)
            ),
        }
    };
}

/// Applies a generic CPU kernel to two f32 or two f64 storages.
macro_rules! float_dispatch2 {
    ($s1:expr, $l1:expr, $s2:expr, $l2:expr, $name:expr, |$a:ident, $b:ident| $body:expr) => {
        match ($s1, $s2) {
            (CpuStorage::F32(x), CpuStorage::F32(y)) => {
                let ($a, $b) = (
                    contiguous_slice(x, $l1, $name)?,
                    contiguous_slice(y, $l2, $name)?,
                );
                CpuStorage::F32($body)
            }
            (CpuStorage::F64(x), CpuStorage::F64(y)) => {
                let ($a, $b) = (
                    contiguous_slice(x, $l1, $name)?,
                    contiguous_slice(y, $l2, $name)?,
                );
                CpuStorage::F64($body)
            }
            _ => bail!("{}: unsupported dtypes", $name),
        }
    };
}

/// im2col: `[b, h, w, c]` to `[b·oh·ow, kh·kw·c]`, plus a last column of
/// ones when `ones` is set (the bias's input).
struct Im2Col {
    kh: usize,
    kw: usize,
    ones: bool,
}

impl Im2Col {
    fn run<T: WithDType>(&self, x: &[T], (b, h, w, c): (usize, usize, usize, usize)) -> Vec<T> {
        let (oh, ow) = (h - self.kh + 1, w - self.kw + 1);
        let row = self.kh * self.kw * c + self.ones as usize;
        let mut cols = vec![T::zero(); b * oh * ow * row];
        cols.par_chunks_mut(oh * ow * row)
            .enumerate()
            .for_each(|(n, img_cols)| {
                let img = &x[n * h * w * c..(n + 1) * h * w * c];
                im2col_image(img, (h, w, c), (self.kh, self.kw), row, img_cols);
                if self.ones {
                    img_cols
                        .chunks_exact_mut(row)
                        .for_each(|r| r[row - 1] = T::one());
                }
            });
        cols
    }
}

/// im2col of one image `[h, w, c]` into rows of `row` entries (the first
/// `kh·kw·c` of each row are the patch; any others are left as they are).
#[inline(always)]
fn im2col_image<T: Copy>(
    img: &[T],
    (h, w, c): (usize, usize, usize),
    (kh, kw): (usize, usize),
    row: usize,
    cols: &mut [T],
) {
    let (oh, ow) = (h - kh + 1, w - kw + 1);
    let run = kw * c; // for a fixed kernel row, (kx, c) is one contiguous run
    for y in 0..oh {
        for xx in 0..ow {
            let dst = &mut cols[(y * ow + xx) * row..];
            for ky in 0..kh {
                let src = ((y + ky) * w + xx) * c;
                dst[ky * run..(ky + 1) * run].copy_from_slice(&img[src..src + run]);
            }
        }
    }
}

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "im2col"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let dims = layout.shape().dims4()?;
        let (b, h, w, c) = dims;
        let (oh, ow) = (h + 1 - self.kh, w + 1 - self.kw);
        let out = float_dispatch!(storage, layout, "im2col", |x| self.run(x, dims));
        let row = self.kh * self.kw * c + self.ones as usize;
        Ok((out, Shape::from((b * oh * ow, row))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let g = grad_res.contiguous()?.apply_op1(Col2Im {
            kh: self.kh,
            kw: self.kw,
            ones: self.ones,
            input: arg.dims4()?,
        })?;
        Ok(Some(g))
    }
}

/// col2im, the adjoint of im2col: `[b·oh·ow, kh·kw·c (+1)]` to `[b, h, w, c]`,
/// adding up every patch entry that came from the same input pixel (the
/// column of ones, if any, came from no pixel).
struct Col2Im {
    kh: usize,
    kw: usize,
    ones: bool,
    input: (usize, usize, usize, usize),
}

impl Col2Im {
    fn run<T: WithDType>(&self, cols: &[T]) -> Vec<T> {
        let (b, h, w, c) = self.input;
        let (kh, kw) = (self.kh, self.kw);
        let (oh, ow) = (h - kh + 1, w - kw + 1);
        let row = kh * kw * c + self.ones as usize;
        let mut x = vec![T::zero(); b * h * w * c];
        x.par_chunks_mut(h * w * c)
            .enumerate()
            .for_each(|(n, img)| {
                let img_cols = &cols[n * oh * ow * row..(n + 1) * oh * ow * row];
                for y in 0..oh {
                    for xx in 0..ow {
                        let src = &img_cols[(y * ow + xx) * row..(y * ow + xx + 1) * row];
                        for ky in 0..kh {
                            let dst = ((y + ky) * w + xx) * c;
                            for (d, s) in img[dst..dst + kw * c]
                                .iter_mut()
                                .zip(&src[ky * kw * c..(ky + 1) * kw * c])
                            {
                                *d += *s;
                            }
                        }
                    }
                }
            });
        x
    }
}

impl CustomOp1 for Col2Im {
    fn name(&self) -> &'static str {
        "col2im"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, h, w, c) = self.input;
        let expected = (
            b * (h + 1 - self.kh) * (w + 1 - self.kw),
            self.kh * self.kw * c + self.ones as usize,
        );
        if layout.shape().dims2()? != expected {
            bail!("col2im: got {:?}, expected {expected:?}", layout.shape())
        }
        let out = float_dispatch!(storage, layout, "col2im", |cols| self.run(cols));
        Ok((out, Shape::from(self.input)))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let g = grad_res.contiguous()?.apply_op1(Im2Col {
            kh: self.kh,
            kw: self.kw,
            ones: false,
        })?;
        if !self.ones {
            return Ok(Some(g));
        }
        // The column of ones came from no pixel: its gradient is zero.
        let zeros = Tensor::zeros((g.dim(0)?, 1), g.dtype(), g.device())?;
        Ok(Some(Tensor::cat(&[&g, &zeros], 1)?))
    }
}

/// Index, within `x`, of the first maximum of the 2×2 window at `(n, oy, ox, ch)`.
#[inline]
fn window_argmax<T: WithDType>(
    x: &[T],
    (h, w, c): (usize, usize, usize),
    n: usize,
    oy: usize,
    ox: usize,
    ch: usize,
) -> usize {
    let at = |y: usize, xx: usize| ((n * h + y) * w + xx) * c + ch;
    let mut best = at(2 * oy, 2 * ox);
    for (dy, dx) in [(0, 1), (1, 0), (1, 1)] {
        let i = at(2 * oy + dy, 2 * ox + dx);
        if x[i] > x[best] {
            best = i;
        }
    }
    best
}

struct MaxPool2x2;

impl MaxPool2x2 {
    fn run<T: WithDType>(x: &[T], (b, h, w, c): (usize, usize, usize, usize)) -> Vec<T> {
        let (oh, ow) = (h / 2, w / 2);
        let mut out = vec![T::zero(); b * oh * ow * c];
        out.par_chunks_mut(oh * ow * c)
            .enumerate()
            .for_each(|(n, img)| {
                for oy in 0..oh {
                    for ox in 0..ow {
                        for ch in 0..c {
                            img[(oy * ow + ox) * c + ch] =
                                x[window_argmax(x, (h, w, c), n, oy, ox, ch)];
                        }
                    }
                }
            });
        out
    }
}

impl CustomOp1 for MaxPool2x2 {
    fn name(&self) -> &'static str {
        "max-pool-2x2"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let dims = layout.shape().dims4()?;
        let (b, h, w, c) = dims;
        let out = float_dispatch!(storage, layout, "max-pool-2x2", |x| Self::run(x, dims));
        Ok((out, Shape::from((b, h / 2, w / 2, c))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let g = arg.apply_op2_no_bwd(&grad_res.contiguous()?, &MaxPool2x2Grad)?;
        Ok(Some(g))
    }
}

/// Routes each pooled gradient to its window's argmax: `(x, grad)` to `[b, h, w, c]`.
struct MaxPool2x2Grad;

impl MaxPool2x2Grad {
    fn run<T: WithDType>(x: &[T], g: &[T], (b, h, w, c): (usize, usize, usize, usize)) -> Vec<T> {
        let (oh, ow) = (h / 2, w / 2);
        let mut dx = vec![T::zero(); b * h * w * c];
        dx.par_chunks_mut(h * w * c)
            .enumerate()
            .for_each(|(n, img)| {
                for oy in 0..oh {
                    for ox in 0..ow {
                        for ch in 0..c {
                            let i = window_argmax(x, (h, w, c), n, oy, ox, ch);
                            img[i - n * h * w * c] = g[((n * oh + oy) * ow + ox) * c + ch];
                        }
                    }
                }
            });
        dx
    }
}

impl CustomOp2 for MaxPool2x2Grad {
    fn name(&self) -> &'static str {
        "max-pool-2x2-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let dims = l1.shape().dims4()?;
        let (b, h, w, c) = dims;
        if l2.shape().dims4()? != (b, h / 2, w / 2, c) {
            bail!(
                "max-pool-2x2-grad: gradient shape {:?} does not fit",
                l2.shape()
            )
        }
        let out = float_dispatch2!(s1, l1, s2, l2, self.name(), |x, g| Self::run(x, g, dims));
        Ok((out, Shape::from(dims)))
    }
}

/// `max(x, 0)`, elementwise. Its gradient passes where the output is positive
/// and is zero elsewhere, at 0 too, as in TensorFlow (candle's own ReLU lets
/// it through at exactly 0, which happens on MNIST's black background). On the
/// CPU both directions are one pass over memory (candle's gradient takes three).
pub fn relu(x: &Tensor) -> Result<Tensor> {
    if !x.device().is_cpu() {
        return generic::relu(x);
    }
    x.contiguous()?.apply_op1(Relu)
}

struct Relu;

impl CustomOp1 for Relu {
    fn name(&self) -> &'static str {
        "relu"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = float_dispatch!(storage, layout, "relu", |x| x
            .iter()
            .map(|&v| if v > num_zero(v) { v } else { num_zero(v) })
            .collect());
        Ok((out, layout.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(
            res.apply_op2_no_bwd(&grad_res.contiguous()?, &ReluGrad)?,
        ))
    }
}

/// Zero of the same type as `v`.
fn num_zero<T: WithDType>(_v: T) -> T {
    T::zero()
}

/// The gradient through a ReLU whose output is `y`: `dy` where `y > 0`, else
/// zero (at exactly 0 too, as in TensorFlow).
#[inline(always)]
fn relu_grad<T: WithDType>(y: T, dy: T) -> T {
    if y > T::zero() {
        dy
    } else {
        T::zero()
    }
}

/// `(relu output, gradient)` to the gradient where the output is positive.
struct ReluGrad;

impl CustomOp2 for ReluGrad {
    fn name(&self) -> &'static str {
        "relu-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        fn run<T: WithDType>(y: &[T], g: &[T]) -> Vec<T> {
            y.iter().zip(g).map(|(&y, &g)| relu_grad(y, g)).collect()
        }
        if l1.shape() != l2.shape() {
            bail!(
                "relu-grad: shapes {:?} and {:?} differ",
                l1.shape(),
                l2.shape()
            )
        }
        let out = float_dispatch2!(s1, l1, s2, l2, self.name(), |y, g| run(y, g));
        Ok((out, l1.shape().clone()))
    }
}
