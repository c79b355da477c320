//! The first block fused: convolution, bias and ReLU, forward and backward.

use super::sums::gather_axpy;
use super::*;
use crate::ops::reference::{relu_grad, ReluGrad};
use crate::simd::wide;

pub(super) struct ConvRelu;

impl ConvRelu {
    /// Writes every entry of `y` `[b, oh, ow, o]`.
    pub(super) fn forward_into<T: WithDType>(x: &[T], w: &[T], bias: &[T], d: Dims, y: &mut [T]) {
        let (oh, ow, o) = (d.oh(), d.ow(), d.o);
        assert_eq!(y.len(), d.b * oh * ow * o);
        y.par_chunks_mut(oh * ow * o)
            .enumerate()
            .with_min_len(MIN_IMAGES_PER_TASK)
            .for_each(|(n, out)| {
                let img = &x[n * d.image()..(n + 1) * d.image()];
                wide!({
                    for i in 0..oh {
                        let mut j = 0;
                        while j + PIXELS <= ow {
                            pixels::<T, PIXELS>(img, w, bias, d, (i, j), out);
                            j += PIXELS;
                        }
                        for j in j..ow {
                            pixels::<T, 1>(img, w, bias, d, (i, j), out);
                        }
                    }
                })
            });
    }

    /// `[kh·kw·c + 1, o]`: the kernel's gradient, then the bias's.
    pub(super) fn weight_grad<T: WithDType>(x: &[T], y: &[T], dy: &[T], d: Dims) -> Vec<T> {
        let (oh, ow, o, patch) = (d.oh(), d.ow(), d.o, d.patch());
        let per_image = oh * ow * o;
        // The image's non-zero inputs in order, (row, column, channel,
        // value); for one kernel entry, the pixels that see one of them
        // there, (row of g, value); and g, the gradient where y > 0.
        let init = || {
            (
                Vec::with_capacity(d.image()),
                Vec::with_capacity(oh * ow),
                vec![T::zero(); per_image],
            )
        };
        d.sum_over_images((patch + 1) * o, init, |n, acc, (inputs, entries, g)| {
            let img = &x[n * d.image()..(n + 1) * d.image()];
            let (y, dy) = (
                &y[n * per_image..(n + 1) * per_image],
                &dy[n * per_image..(n + 1) * per_image],
            );
            wide!({
                for ((g, &y), &dy) in g.iter_mut().zip(y).zip(dy) {
                    *g = relu_grad(y, dy);
                }
                inputs.clear();
                for (at, &v) in img.iter().enumerate() {
                    if v != T::zero() {
                        inputs.push((at / (d.w * d.c), at / d.c % d.w, at % d.c, v));
                    }
                }
                // Kernel entry (ky, kx, ci) meets input (r, s, ci) at pixel
                // (r - ky, s - kx): the inputs' order is the pixels' order.
                for ky in 0..d.kh {
                    for kx in 0..d.kw {
                        for ci in 0..d.c {
                            entries.clear();
                            for &(r, s, c, v) in inputs.iter() {
                                let (i, j) = (r.wrapping_sub(ky), s.wrapping_sub(kx));
                                if c == ci && i < oh && j < ow {
                                    entries.push(((i * ow + j) * o, v));
                                }
                            }
                            let k = (ky * d.kw + kx) * d.c + ci;
                            gather_axpy(&mut acc[k * o..(k + 1) * o], entries, g, 0);
                        }
                    }
                }
                for g in g.chunks_exact(o) {
                    add_assign(&mut acc[patch * o..], g);
                }
            })
        })
    }
}

/// Pixels of a row computed together: each kernel entry is loaded once for
/// all of them, and their sums stay in vector registers (six pixels of 16
/// channels: twelve of the sixteen 8-float registers; measured faster than
/// 2, 4 or 8 pixels).
const PIXELS: usize = 6;

/// Output channels summed together: two 8-float registers a pixel.
const CHANNELS: usize = 16;

/// `out` at pixels `(i, j..j + P)`: `max(0, b + Σ_k x_k · w_k)` for every
/// output channel, each sum starting from the bias and adding the kernel's
/// entries `k` in order (row, column, input channel), so the numbers are
/// those of one pixel and one channel at a time, bit for bit.
#[inline(always)]
fn pixels<T: WithDType, const P: usize>(
    img: &[T],
    w: &[T],
    bias: &[T],
    d: Dims,
    (i, j): (usize, usize),
    out: &mut [T],
) {
    let mut co = 0;
    while co + CHANNELS <= d.o {
        channels::<T, P, CHANNELS>(img, w, bias, d, (i, j, co), out);
        co += CHANNELS;
    }
    for co in co..d.o {
        channels::<T, P, 1>(img, w, bias, d, (i, j, co), out);
    }
}

/// [`pixels`] for output channels `co..co + N`.
#[inline(always)]
fn channels<T: WithDType, const P: usize, const N: usize>(
    img: &[T],
    w: &[T],
    bias: &[T],
    d: Dims,
    (i, j, co): (usize, usize, usize),
    out: &mut [T],
) {
    let bias: &[T; N] = bias[co..co + N].try_into().expect("N channels");
    let mut acc = [*bias; P];
    for ky in 0..d.kh {
        for kx in 0..d.kw {
            for ci in 0..d.c {
                let k = (ky * d.kw + kx) * d.c + ci;
                let wk: &[T; N] = w[k * d.o + co..k * d.o + co + N]
                    .try_into()
                    .expect("N channels");
                for (p, acc) in acc.iter_mut().enumerate() {
                    let v = img[((i + ky) * d.w + j + p + kx) * d.c + ci];
                    for (a, &wk) in acc.iter_mut().zip(wk) {
                        *a += v * wk;
                    }
                }
            }
        }
    }
    let ow = d.ow();
    for (p, acc) in acc.iter().enumerate() {
        let at = ((i * ow) + j + p) * d.o + co;
        for (y, &a) in out[at..at + N].iter_mut().zip(acc) {
            *y = if a < T::zero() { T::zero() } else { a };
        }
    }
}

impl CustomOp3 for ConvRelu {
    fn name(&self) -> &'static str {
        "conv-relu"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = Dims::from_shapes(l1.shape(), l2.shape(), l3.shape())?;
        let out = float_dispatch!(self.name(), [(s1, l1) => x, (s2, l2) => w, (s3, l3) => b], {
            let mut y = zeros(d.b * d.oh() * d.ow() * d.o);
            Self::forward_into(x, w, b, d, &mut y);
            y
        });
        Ok((out, Shape::from((d.b, d.oh(), d.ow(), d.o))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let d = Dims::of(x, w, b)?;
        let dy = dy.contiguous()?;
        // Fixed weights (an input being optimised) need no gradient.
        let (dw, db) = if w.track_op() || b.track_op() {
            let g = x.apply_op3_no_bwd(y, &dy, &ConvReluWeightGrad(d))?;
            let (dw, db) = split_weight_grad(g, d)?;
            (Some(dw), Some(db))
        } else {
            (None, None)
        };
        // The images need no gradient; a layer deeper in a network would.
        let dx = if x.track_op() {
            let gz = y.apply_op2_no_bwd(&dy, &ReluGrad)?;
            Some(conv_input_grad(&gz, w, d)?)
        } else {
            None
        };
        Ok((dx, dw, db))
    }
}

/// `(x, y, dy)` to the `[kh·kw·c + 1, o]` weight and bias gradients of [`ConvRelu`].
struct ConvReluWeightGrad(Dims);

impl CustomOp3 for ConvReluWeightGrad {
    fn name(&self) -> &'static str {
        "conv-relu-weight-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = self.0;
        let out = float_dispatch!(self.name(), [(s1, l1) => x, (s2, l2) => y, (s3, l3) => dy], {
            ConvRelu::weight_grad(x, y, dy, d)
        });
        Ok((out, Shape::from((d.patch() + 1, d.o))))
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::conformance::{check_block, check_block_non_finite, Block, Case};
    use crate::rng::Rng;
    use candle_core::{DType, Device, Tensor};

    #[test]
    fn conv_relu_conforms_over_the_grid_in_f32_and_f64() {
        let cases = Case::grid(Block::ConvRelu.min_out());
        assert!(cases.len() > 200, "{} cases", cases.len());
        for (i, case) in cases.iter().enumerate() {
            check_block(Block::ConvRelu, case, DType::F32, i as u64);
        }
        for (i, case) in cases.iter().enumerate().step_by(7) {
            check_block(Block::ConvRelu, case, DType::F64, i as u64);
        }
    }

    #[test]
    fn conv_relu_equals_its_layers_on_random_cases() {
        let mut rng = Rng::new(2017);
        for seed in 0..48 {
            let case = Case::random(&mut rng, Block::ConvRelu.min_out());
            check_block(Block::ConvRelu, &case, DType::F32, 1000 + seed);
        }
    }

    #[test]
    fn conv_relu_keeps_nan_and_infinities_where_its_layers_do() {
        for (i, case) in Case::grid(1).iter().enumerate().step_by(11) {
            check_block_non_finite(Block::ConvRelu, case, i as u64);
        }
    }

    #[test]
    fn conv_relu_refuses_sizes_of_zero_and_a_bias_that_does_not_fit() {
        let t = |shape: &[usize]| Tensor::zeros(shape, DType::F32, &Device::Cpu).unwrap();
        for (x, w, b, expected) in [
            (&[2, 5, 5, 1][..], &[3, 3, 1, 0][..], &[0][..], "at least 1"),
            (&[2, 5, 5, 0], &[3, 3, 0, 4], &[4], "at least 1"),
            (&[0, 5, 5, 1], &[3, 3, 1, 4], &[4], "at least 1"),
            (&[2, 5, 5, 1], &[0, 3, 1, 4], &[4], "at least 1"),
            (&[2, 5, 5, 1], &[3, 3, 1, 4], &[3], "bias of shape [4]"),
            (&[2, 2, 5, 1], &[3, 3, 1, 4], &[4], "larger than"),
        ] {
            let err = crate::ops::conv_relu(&t(x), &t(w), &t(b))
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{x:?} {w:?} {b:?}: {err}");
            let err = crate::ops::Backend::Generic.conv_relu(&t(x), &t(w), &t(b));
            assert!(
                err.is_err(),
                "the generic path refuses {x:?} {w:?} {b:?} too"
            );
        }
    }
}
