//! The first block fused: convolution, bias and ReLU, forward and backward.

use super::sums::gather_axpy;
use super::*;
use crate::ops::reference::{relu_grad, ReluGrad};
use crate::simd::wide;

pub(super) struct ConvRelu;

impl ConvRelu {
    /// Writes every entry of `y` `[b, oh, ow, o]`.
    pub(super) fn forward_into<T: WithDType>(x: &[T], w: &[T], bias: &[T], d: Dims, y: &mut [T]) {
        let (oh, ow, o, patch) = (d.oh(), d.ow(), d.o, d.patch());
        assert_eq!(y.len(), d.b * oh * ow * o);
        y.par_chunks_mut(oh * ow * o)
            .enumerate()
            .with_min_len(MIN_IMAGES_PER_TASK)
            .for_each_init(
                // The patch's non-zero inputs: (row of w, value).
                || vec![(0, T::zero()); patch],
                |taps, (n, out)| {
                    let img = &x[n * d.image()..(n + 1) * d.image()];
                    wide!({
                        for (p, acc) in out.chunks_exact_mut(o).enumerate() {
                            let count = d.patch_taps(img, (p / ow, p % ow), taps, false);
                            acc.copy_from_slice(bias);
                            gather_axpy(acc, &taps[..count], w, 0);
                            for a in acc.iter_mut() {
                                if *a < T::zero() {
                                    *a = T::zero();
                                }
                            }
                        }
                    })
                },
            );
    }

    /// `[kh·kw·c + 1, o]`: the kernel's gradient, then the bias's.
    pub(super) fn weight_grad<T: WithDType>(x: &[T], y: &[T], dy: &[T], d: Dims) -> Vec<T> {
        let (oh, ow, o, patch) = (d.oh(), d.ow(), d.o, d.patch());
        let (pixels, per_image) = (oh * ow, oh * ow * o);
        // Per kernel entry k, the pixels whose input there is non-zero:
        // (row of g, input value); and g, the gradient where y > 0.
        let init = || {
            (
                vec![(0, T::zero()); patch * pixels],
                vec![0usize; patch],
                vec![T::zero(); per_image],
                vec![(0, T::zero()); patch],
            )
        };
        d.sum_over_images((patch + 1) * o, init, |n, acc, (lists, counts, g, taps)| {
            let img = &x[n * d.image()..(n + 1) * d.image()];
            let (y, dy) = (
                &y[n * per_image..(n + 1) * per_image],
                &dy[n * per_image..(n + 1) * per_image],
            );
            wide!({
                for ((g, &y), &dy) in g.iter_mut().zip(y).zip(dy) {
                    *g = relu_grad(y, dy);
                }
                counts.fill(0);
                for p in 0..pixels {
                    let count = d.patch_taps(img, (p / ow, p % ow), taps, true);
                    for &(row, v) in &taps[..count] {
                        let k = row / o;
                        lists[k * pixels + counts[k]] = (p * o, v);
                        counts[k] += 1;
                    }
                }
                for k in 0..patch {
                    let entries = &lists[k * pixels..k * pixels + counts[k]];
                    gather_axpy(&mut acc[k * o..(k + 1) * o], entries, g, 0);
                }
                for g in g.chunks_exact(o) {
                    add_assign(&mut acc[patch * o..], g);
                }
            })
        })
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
        let g = x.apply_op3_no_bwd(y, &dy, &ConvReluWeightGrad(d))?;
        let (dw, db) = split_weight_grad(g, d)?;
        // The images need no gradient; a layer deeper in a network would.
        let dx = if x.track_op() {
            let gz = y.apply_op2_no_bwd(&dy, &ReluGrad)?;
            Some(conv_input_grad(&gz, w, d)?)
        } else {
            None
        };
        Ok((dx, Some(dw), Some(db)))
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
