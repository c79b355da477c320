//! The network's two convolution blocks, each fused into one operation with
//! its own backward pass, for training on a CPU.
//!
//! * [`conv_relu`]: convolution, bias and ReLU (the first layer):
//!
//!   `y[n, i, j, o] = max(0, b[o] + Σ_{ky, kx, c} x[n, i + ky, j + kx, c] · w[ky, kx, c, o])`
//!
//!   computed directly, six pixels of a row at a time (with one input
//!   channel a patch has only nine entries, too few for a matrix product
//!   to pay). Its weight
//!   gradient skips the zero pixels of the input, most of an MNIST digit.
//!   No gradient flows to the input unless the input itself needs one.
//!
//! * [`conv_relu_pool`]: convolution, bias, ReLU and 2×2 max-pooling (the
//!   second layer and the pooling after it). With `z = conv(x, w)`:
//!
//!   `y[n, p, q, o] = max(0, b[o] + max_{dy, dx ∈ {0, 1}} z[n, 2p + dy, 2q + dx, o])`
//!
//!   which equals pooling `relu(z + b)`: the bias is the same over a window
//!   and both `+ b` and ReLU keep the order of values. A 3×3 convolution is
//!   computed by Winograd's F(2×2, 3×3) (module `winograd`: 16 products per
//!   2×2 block of outputs instead of 36, and those blocks are the pooling
//!   windows); other kernel sizes by matrix products that read the
//!   overlapping patches in place. One image at a time, so the buffers stay
//!   in the cache. The operation remembers which of the four positions won
//!   each window (the first one, if several tie as computed; Winograd's
//!   rounding can part values that are equal in exact arithmetic).
//!
//!   Backward, only the winning position gets a gradient, and only where
//!   `y > 0`: with `g = dy · [y > 0]` at the winner `(i, j)` of each window,
//!
//!   `db[o] = Σ g`, `dw[ky, kx, c, o] = Σ g · x[n, i + ky, j + kx, c]`,
//!   `dx[n, i + ky, j + kx, c] += Σ_o g · w[ky, kx, c, o]`
//!
//!   At most a quarter of the convolution's outputs get a gradient, so both
//!   sums do at most a quarter of the work of the dense matrix products that
//!   an unfused backward pass would do.
//!
//! Shapes are channels-last: `x` `[b, h, w, c]`, `w` `[kh, kw, c, o]`, `b` `[o]`.
//! CPU storages only: [`super::Backend`] sends other devices to
//! [`super::generic`].
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use filters_are_weights::ops::{conv2d_with_bias, conv_relu_pool, max_pool2x2, relu};
//! # fn main() -> candle_core::Result<()> {
//! let dev = Device::Cpu;
//! let x = Tensor::randn(0f32, 1., (2, 6, 6, 3), &dev)?; // [2, 6, 6, 3]
//! let w = Tensor::randn(0f32, 1., (3, 3, 3, 4), &dev)?; // [3, 3, 3, 4]
//! let b = Tensor::randn(0f32, 1., 4, &dev)?; // [4]
//! let fused = conv_relu_pool(&x, &w, &b)?; // [2, 2, 2, 4]
//! let plain = max_pool2x2(&relu(&conv2d_with_bias(&x, &w, Some(&b))?)?)?;
//! let diff = (fused - plain)?.abs()?.max_all()?.to_scalar::<f32>()?;
//! assert!(diff < 1e-5);
//! # Ok(()) }
//! ```

use super::contiguous_slice;
use super::reference::Col2Im;
use candle_core::{
    bail, CpuStorage, CustomOp1, CustomOp3, Layout, Result, Shape, Tensor, WithDType,
};
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

mod adadelta;
mod matmul;
mod peaks;
mod pool_block;
mod relu_block;
mod sums;
mod winograd;

pub(crate) use adadelta::{adadelta_in_place, adadelta_in_place_from};
pub(crate) use matmul::matmul_as_candle;
use peaks::ConvReluPeaks;
use pool_block::ConvReluPool;
use relu_block::ConvRelu;
use sums::add_assign;

/// Images per partial sum of a weight gradient. Partial sums are added in a
/// fixed order, so the result does not depend on how threads share the work.
const IMAGES_PER_PARTIAL: usize = 32;

/// Fewest images per parallel task: each task sets up its scratch buffers
/// once, so tasks should not be too small.
const MIN_IMAGES_PER_TASK: usize = 16;

/// Convolution, bias and ReLU in one operation (see the module docs).
pub(super) fn conv_relu(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    Dims::of(x, w, b)?;
    x.contiguous()?
        .apply_op3(&w.contiguous()?, &b.contiguous()?, ConvRelu)
}

/// Convolution, bias, ReLU and 2×2 max-pooling in one operation (see the
/// module docs).
pub(super) fn conv_relu_pool(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    let d = Dims::of(x, w, b)?;
    if d.oh() < 2 || d.ow() < 2 {
        bail!(
            "conv_relu_pool: output {}x{} is smaller than the 2x2 window",
            d.oh(),
            d.ow()
        )
    }
    let op = ConvReluPool {
        winners: Arc::new(Mutex::new(Vec::new())),
    };
    x.contiguous()?
        .apply_op3(&w.contiguous()?, &b.contiguous()?, op)
}

/// Each channel's largest output of convolution, bias and ReLU in each
/// image, and where (module `peaks`): `[b, 2, o]`, values then positions.
/// No gradient.
pub(super) fn conv_relu_peaks(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    Dims::of(x, w, b)?;
    x.contiguous()?
        .apply_op3_no_bwd(&w.contiguous()?, &b.contiguous()?, &ConvReluPeaks)
}

/// The blocks on plain slices, into buffers the caller keeps from step to
/// step (the fused training step, `model::fused_step`): the very kernels of
/// the operations above, so the very same numbers.
pub(crate) mod into {
    use super::{ConvRelu, ConvReluPool, Dims};

    /// [`super::conv_relu`]: `y` `[b, oh, ow, o]`, every entry written.
    pub(crate) fn conv_relu(x: &[f32], w: &[f32], b: &[f32], d: Dims, y: &mut [f32]) {
        ConvRelu::forward_into(x, w, b, d, y)
    }

    /// The kernel's and bias's gradients of [`conv_relu`], `[kh·kw·c + 1, o]`.
    pub(crate) fn conv_relu_weight_grad(x: &[f32], y: &[f32], dy: &[f32], d: Dims) -> Vec<f32> {
        ConvRelu::weight_grad(x, y, dy, d)
    }

    /// [`super::conv_relu_pool`]: `y` `[b, oh / 2, ow / 2, o]` and which
    /// position won each window, every entry written.
    pub(crate) fn conv_relu_pool(
        x: &[f32],
        w: &[f32],
        b: &[f32],
        d: Dims,
        (y, won): (&mut [f32], &mut [u8]),
    ) {
        ConvReluPool::forward_into(x, w, b, d, y, won)
    }

    /// The kernel's and bias's gradients of [`conv_relu_pool`], `[kh·kw·c + 1, o]`.
    pub(crate) fn conv_relu_pool_weight_grad(
        x: &[f32],
        (y, won): (&[f32], &[u8]),
        dy: &[f32],
        d: Dims,
    ) -> Vec<f32> {
        ConvReluPool::weight_grad(x, y, dy, won, d)
    }

    /// The input's gradient of [`conv_relu_pool`], `dx` `[b, h, w, c]`,
    /// every entry written.
    pub(crate) fn conv_relu_pool_input_grad(
        w: &[f32],
        (y, won): (&[f32], &[u8]),
        dy: &[f32],
        d: Dims,
        dx: &mut [f32],
    ) {
        ConvReluPool::input_grad_into(w, y, dy, won, d, dx)
    }
}

/// The sizes of one convolution: the input `[b, h, w, c]`, the kernel
/// `[kh, kw, c, o]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Dims {
    b: usize,
    h: usize,
    w: usize,
    c: usize,
    kh: usize,
    kw: usize,
    o: usize,
}

impl Dims {
    /// The convolution of an input `(b, h, w, c)` by a kernel `(kh, kw, o)`.
    pub(crate) fn new(
        (b, h, w, c): (usize, usize, usize, usize),
        (kh, kw, o): (usize, usize, usize),
    ) -> Self {
        Self {
            b,
            h,
            w,
            c,
            kh,
            kw,
            o,
        }
    }

    fn of(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Self> {
        Self::from_shapes(x.shape(), w.shape(), b.shape())
    }

    fn from_shapes(x: &Shape, w: &Shape, b: &Shape) -> Result<Self> {
        let ((bn, h, wd, c), (kh, kw, o)) = super::conv_shapes(x, w)?;
        if b.dims1()? != o {
            bail!("conv: {o} output channels but a bias of shape {b:?}")
        }
        Ok(Self {
            b: bn,
            h,
            w: wd,
            c,
            kh,
            kw,
            o,
        })
    }

    /// Output rows, `h - kh + 1`.
    pub(crate) fn oh(&self) -> usize {
        self.h - self.kh + 1
    }

    /// Output columns, `w - kw + 1`.
    pub(crate) fn ow(&self) -> usize {
        self.w - self.kw + 1
    }

    /// Entries of one patch, `kh·kw·c`.
    fn patch(&self) -> usize {
        self.kh * self.kw * self.c
    }

    fn image(&self) -> usize {
        self.h * self.w * self.c
    }

    /// The sum over images of `f(n, partial, scratch)`, each `f` adding
    /// image `n`'s share into a zeroed `[len]` buffer (with `scratch` from
    /// `init`, reused); images run in parallel, partial sums are added in a
    /// fixed order.
    fn sum_over_images<T: WithDType, S>(
        &self,
        len: usize,
        init: impl Fn() -> S + Sync,
        f: impl Fn(usize, &mut [T], &mut S) + Sync,
    ) -> Vec<T> {
        let starts: Vec<usize> = (0..self.b).step_by(IMAGES_PER_PARTIAL).collect();
        let partials: Vec<Vec<T>> = starts
            .par_iter()
            .map(|&start| {
                let mut acc = vec![T::zero(); len];
                let mut scratch = init();
                for n in start..(start + IMAGES_PER_PARTIAL).min(self.b) {
                    f(n, &mut acc, &mut scratch);
                }
                acc
            })
            .collect();
        let mut total = vec![T::zero(); len];
        for p in &partials {
            add_assign(&mut total, p);
        }
        total
    }
}

/// `vec![T::zero(); len]`, zeroed by all threads at once. Memory that the
/// allocator kept from an earlier step must be zeroed again, and `vec!`
/// does that on one thread while the other cores wait.
fn zeros<T: WithDType>(len: usize) -> Vec<T> {
    let mut v = Vec::with_capacity(len);
    v.spare_capacity_mut()
        .par_chunks_mut(1 << 16)
        .for_each(|chunk| chunk.fill(std::mem::MaybeUninit::new(T::zero())));
    // SAFETY: all `len` values were written just above.
    unsafe { v.set_len(len) };
    v
}

/// `x · mask`, elementwise, in parallel.
fn times<T: WithDType>(x: &[T], mask: &[f32]) -> Vec<T> {
    x.par_iter()
        .zip(mask)
        .map(|(&v, &m)| v * T::from_f64(m as f64))
        .collect()
}

/// `x · mask`, elementwise, in parallel (candle's `mul` runs on one
/// thread); its gradient is `dy · mask`.
pub(super) fn mul_mask(x: &Tensor, mask: Vec<f32>) -> Result<Tensor> {
    x.contiguous()?.apply_op1(MaskMul(Arc::new(mask)))
}

/// `x · mask`, elementwise, in parallel; its gradient is `dy · mask`.
struct MaskMul(Arc<Vec<f32>>);

impl CustomOp1 for MaskMul {
    fn name(&self) -> &'static str {
        "mask-mul"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        if layout.shape().elem_count() != self.0.len() {
            bail!(
                "mask-mul: a mask of {} values for a tensor of shape {:?}",
                self.0.len(),
                layout.shape()
            )
        }
        let out = float_dispatch!(self.name(), [(storage, layout) => x], times(x, &self.0));
        Ok((out, layout.shape().clone()))
    }

    fn bwd(&self, _x: &Tensor, _y: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(
            dy.contiguous()?
                .apply_op1_no_bwd(&MaskMul(self.0.clone()))?,
        ))
    }
}

/// Splits a `[kh·kw·c + 1, o]` gradient into the kernel's and the bias's.
fn split_weight_grad(g: Tensor, d: Dims) -> Result<(Tensor, Tensor)> {
    let dw = g.narrow(0, 0, d.patch())?.reshape((d.kh, d.kw, d.c, d.o))?;
    let db = g.narrow(0, d.patch(), 1)?.reshape(d.o)?;
    Ok((dw, db))
}

/// The input gradient of a convolution, from the gradient `gz` `[b, oh, ow, o]`
/// of its output: `gz · wᵀ`, scattered back by col2im.
fn conv_input_grad(gz: &Tensor, w: &Tensor, d: Dims) -> Result<Tensor> {
    let wt = w.reshape((d.patch(), d.o))?.t()?; // [o, kh·kw·c]
    gz.reshape((d.b * d.oh() * d.ow(), d.o))?
        .matmul(&wt)?
        .apply_op1(Col2Im {
            kh: d.kh,
            kw: d.kw,
            ones: false,
            input: (d.b, d.h, d.w, d.c),
        })
}

#[cfg(test)]
mod tests {
    use crate::ops::conformance::{assert_conforms, random};
    use crate::ops::Backend;
    use crate::rng::Rng;
    use candle_core::{DType, Var};

    #[test]
    fn the_mask_product_is_candles_mul_values_and_gradients() {
        let mut rng = Rng::new(12);
        for shape in [&[1][..], &[3, 5], &[37, 9, 9, 4], &[70000]] {
            let x = random(shape, shape.len() as u64, DType::F32);
            let mask: Vec<f32> = (0..x.elem_count())
                .map(|_| if rng.below(2) == 0 { 0.0 } else { 2.0 })
                .collect();
            let run = |backend: Backend| {
                let v = Var::from_tensor(&x).unwrap();
                let y = backend.mul_mask(v.as_tensor(), mask.clone()).unwrap();
                let grads = (&y * 3.0).unwrap().sum_all().unwrap().backward().unwrap();
                (y, grads.get(v.as_tensor()).unwrap().clone())
            };
            let ((y, g), (gy, gg)) = (run(Backend::Fused), run(Backend::Generic));
            assert_conforms(&y, &gy, 0.0, false, &format!("{shape:?} values"));
            assert_conforms(&g, &gg, 0.0, false, &format!("{shape:?} gradient"));
        }
        let x = random(&[4], 1, DType::F32);
        let err = Backend::Fused.mul_mask(&x, vec![1.0; 3]).unwrap_err();
        assert!(err.to_string().contains("a mask of 3 values"), "{err}");
        assert!(Backend::Generic.mul_mask(&x, vec![1.0; 3]).is_err());
    }

    #[test]
    fn zeros_are_zeros_at_any_length() {
        for len in [0, 1, 1 << 16, (1 << 16) + 1, 3 << 17] {
            let z = super::zeros::<f32>(len);
            assert_eq!(z.len(), len);
            assert!(z.iter().all(|&v| v == 0.0));
        }
    }
}
