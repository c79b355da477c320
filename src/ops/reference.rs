//! The reference maths of the network's layers on the CPU, each a candle
//! operation with its exact gradient, channels-last:
//!
//! * convolution as im2col + matrix product (`Im2Col`), whose gradient is
//!   the adjoint col2im (`Col2Im`): every patch entry added back to the pixel
//!   it came from;
//! * 2×2 max-pooling (`MaxPool2x2`), whose gradient goes whole to the first
//!   maximum of each window (`MaxPool2x2Grad`);
//! * ReLU (`Relu`), whose gradient passes where the output is positive
//!   (`ReluGrad`), not at 0; a NaN stays NaN.
//!
//! The fused operations (`super::fused`) compute the same, faster; the tests
//! hold them to these. [`super::Backend::Fused`] runs these where no fused
//! operation applies (a convolution not followed by a ReLU, a pooling alone).

use super::contiguous_slice;
use candle_core::{
    bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, WithDType,
};
use rayon::prelude::*;

/// [`super::conv2d_with_bias`] on the CPU: im2col, then one matrix product.
///
/// The bias is folded into the matrix product: each patch row gets one more
/// entry, always 1, and the bias is one more row of the kernel matrix. Its
/// gradient then comes out of the same matrix product.
pub(super) fn conv2d_with_bias(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let ((b, h, wd, c), (kh, kw, o)) = super::conv_shapes(x.shape(), w.shape())?;
    let (oh, ow) = (h - kh + 1, wd - kw + 1);
    let ones = bias.is_some();
    let cols = x.contiguous()?.apply_op1(Im2Col { kh, kw, ones })?; // [b·oh·ow, kh·kw·c (+1)]
    let w = w.reshape((kh * kw * c, o))?; // [kh·kw·c, o]
    let w = match bias {
        Some(bias) => Tensor::cat(&[&w, &bias.reshape((1, o))?], 0)?, // [kh·kw·c + 1, o]
        None => w,
    };
    cols.matmul(&w)?.reshape((b, oh, ow, o))
}

/// [`super::max_pool2x2`] on the CPU.
pub(super) fn max_pool2x2(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(MaxPool2x2)
}

/// [`super::relu`] on the CPU.
/// The reference for [`super::conv_relu_peaks`]: each channel's largest
/// value of `maps` `[b, h, w, o]` in each image, then its position `i·w + j`
/// (the first in row-major order among equals), as `[b, 2, o]`.
pub(super) fn peaks(maps: &Tensor) -> Result<Tensor> {
    let (b, h, w, o) = maps.dims4()?;
    let values: Vec<f32> = maps
        .to_dtype(candle_core::DType::F32)?
        .flatten_all()?
        .to_vec1()?;
    let mut out = vec![0f32; b * 2 * o];
    for (image, out) in values.chunks(h * w * o).zip(out.chunks_mut(2 * o)) {
        for ch in 0..o {
            let (mut top, mut at) = (f32::NEG_INFINITY, 0);
            for p in 0..h * w {
                if super::ranks_above(image[p * o + ch], top) {
                    (top, at) = (image[p * o + ch], p);
                }
            }
            (out[ch], out[o + ch]) = (top, at as f32);
        }
    }
    Tensor::from_vec(out, (b, 2, o), maps.device())?.to_dtype(maps.dtype())
}

pub(super) fn relu(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(Relu)
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
        let out = float_dispatch!("im2col", [(storage, layout) => x], self.run(x, dims));
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
pub(super) struct Col2Im {
    pub(super) kh: usize,
    pub(super) kw: usize,
    pub(super) ones: bool,
    pub(super) input: (usize, usize, usize, usize),
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
        let out = float_dispatch!("col2im", [(storage, layout) => cols], self.run(cols));
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

/// Index, within `x`, of the first maximum of the 2×2 window at `(n, oy, ox, ch)`
/// (a NaN ranks above every number).
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
        if super::ranks_above(x[i], x[best]) {
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
        let out = float_dispatch!("max-pool-2x2", [(storage, layout) => x], Self::run(x, dims));
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
        let out =
            float_dispatch!(self.name(), [(s1, l1) => x, (s2, l2) => g], Self::run(x, g, dims));
        Ok((out, Shape::from(dims)))
    }
}

struct Relu;

impl CustomOp1 for Relu {
    fn name(&self) -> &'static str {
        "relu"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = float_dispatch!("relu", [(storage, layout) => x], x
            .iter()
            .map(|&v| if v < num_zero(v) { num_zero(v) } else { v })
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
pub(crate) fn relu_grad<T: WithDType>(y: T, dy: T) -> T {
    if y > T::zero() {
        dy
    } else {
        T::zero()
    }
}

/// `(relu output, gradient)` to the gradient where the output is positive.
pub(super) struct ReluGrad;

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
        let out = float_dispatch!(self.name(), [(s1, l1) => y, (s2, l2) => g], run(y, g));
        Ok((out, l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::conformance::{assert_conforms, random, values, Case};
    use crate::ops::{generic, Backend};
    use candle_core::{DType, Device, Var};

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), g> = <x, col2im(g)> for every shape of the grid.
        for (i, case) in Case::grid(1).iter().enumerate().step_by(3) {
            for ones in [false, true] {
                let x = random(&[case.b, case.h, case.w, case.c], i as u64, DType::F64);
                let cols = x
                    .apply_op1(Im2Col {
                        kh: case.kh,
                        kw: case.kw,
                        ones,
                    })
                    .unwrap();
                let g = random(cols.dims(), i as u64 + 1, DType::F64);
                let back = g
                    .apply_op1(Col2Im {
                        kh: case.kh,
                        kw: case.kw,
                        ones,
                        input: x.dims4().unwrap(),
                    })
                    .unwrap();
                let dot = |a: &Tensor, b: &Tensor| {
                    (a * b)
                        .unwrap()
                        .sum_all()
                        .unwrap()
                        .to_scalar::<f64>()
                        .unwrap()
                };
                // The column of ones came from no pixel: its share is left out.
                let ones_share = if ones {
                    let last = g.dim(1).unwrap() - 1;
                    g.narrow(1, last, 1)
                        .unwrap()
                        .sum_all()
                        .unwrap()
                        .to_scalar::<f64>()
                        .unwrap()
                } else {
                    0.0
                };
                let (lhs, rhs) = (dot(&cols, &g) - ones_share, dot(&x, &back));
                assert!(
                    (lhs - rhs).abs() < 1e-10 * lhs.abs().max(1.0),
                    "{case:?} ones {ones}: {lhs} vs {rhs}"
                );
            }
        }
    }

    /// `f` against the generic path's `g`, values and gradients, on `x`.
    fn against_generic(
        x: &Tensor,
        f: fn(&Tensor) -> Result<Tensor>,
        g: fn(&Tensor) -> Result<Tensor>,
        what: &str,
    ) {
        let run = |op: fn(&Tensor) -> Result<Tensor>| {
            let v = Var::from_tensor(x).unwrap();
            let y = op(v.as_tensor()).unwrap();
            let probe = random(y.dims(), 1, y.dtype());
            let grads = (&y * &probe)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            (y, grads.get(v.as_tensor()).unwrap().clone())
        };
        let ((y, dy), (gy, gdy)) = (run(f), run(g));
        assert_conforms(&y, &gy, 0.0, false, &format!("{what}: values"));
        assert_conforms(&dy, &gdy, 0.0, false, &format!("{what}: gradient"));
    }

    #[test]
    fn relu_and_pooling_are_the_generic_paths_ties_nan_and_infinities_included() {
        for (b, h, w, c) in [(1, 2, 2, 1), (3, 5, 7, 2), (2, 8, 8, 17)] {
            let x = random(&[b, h, w, c], (h * w) as u64, DType::F32);
            // Ties: rounded to quarters, many values are equal in a window.
            let ties = ((&x * 4.0).unwrap().round().unwrap() / 4.0).unwrap();
            let mut specials = values(&ties)
                .iter()
                .map(|&v| v as f32)
                .collect::<Vec<f32>>();
            for (k, v) in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, f32::NAN]
                .into_iter()
                .enumerate()
            {
                let at = (k * 7919) % specials.len();
                specials[at] = v;
            }
            let specials = Tensor::from_vec(specials, x.dims(), &Device::Cpu).unwrap();
            for (t, what) in [
                (&x, "random"),
                (&ties, "ties"),
                (&specials, "NaN, ±inf, -0"),
            ] {
                let what = format!("[{b}, {h}, {w}, {c}] {what}");
                against_generic(t, relu, generic::relu, &format!("relu {what}"));
                against_generic(
                    t,
                    max_pool2x2,
                    generic::max_pool2x2,
                    &format!("pool {what}"),
                );
            }
        }
    }

    #[test]
    fn a_nan_wins_its_pooling_window_and_relu_keeps_it() {
        let x = Tensor::from_vec(
            vec![1f32, f32::NAN, f32::INFINITY, 2.0],
            (1, 2, 2, 1),
            &Device::Cpu,
        )
        .unwrap();
        for backend in [Backend::Fused, Backend::Generic] {
            let pooled = values(&backend.max_pool2x2(&x).unwrap());
            assert!(pooled[0].is_nan(), "{backend:?}: {pooled:?}");
            let relu = values(&backend.relu(&x).unwrap());
            assert!(
                relu[1].is_nan() && relu[2].is_infinite(),
                "{backend:?}: {relu:?}"
            );
        }
    }

    #[test]
    fn pooling_refuses_empty_and_too_small_inputs_on_both_paths() {
        for shape in [[0, 4, 4, 1], [1, 4, 4, 0], [1, 1, 4, 1]] {
            let x = Tensor::zeros(&shape, DType::F32, &Device::Cpu).unwrap();
            for backend in [Backend::Fused, Backend::Generic] {
                assert!(backend.max_pool2x2(&x).is_err(), "{backend:?} {shape:?}");
            }
        }
    }
}
