//! Each channel's strongest answer in an image: convolution, bias and ReLU,
//! reduced as they are computed to each output channel's largest value and
//! where it is. What a channel's top patches need ([`crate::second_layer`]),
//! without the maps themselves: conv2's `[b, 24, 24, 64]` for 10,000 images
//! would be 1.5 GB. A 3×3 kernel over an even-sized output is computed by
//! Winograd's F(2×2, 3×3), as the second block's training pass is (module
//! `winograd`); other sizes directly, one image at a time.

use super::relu_block::ConvRelu;
use super::*;
use crate::simd::wide;

/// `(x, w, b)` to `[b, 2, o]`: per image, each channel's largest output,
/// then its position `i·ow + j` (an f32, exact below 2²⁴), the first in
/// row-major order among equal values.
pub(super) struct ConvReluPeaks;

/// Keeps `(value, at)` in `best` where it beats what is there: a larger
/// value, or the same value earlier in row-major order.
#[inline(always)]
fn keep<T: WithDType>(best: &mut [(T, usize)], z: &[T], bias: &[T], at: usize) {
    for ((best, &z), &b) in best.iter_mut().zip(z).zip(bias) {
        let v = z + b;
        let v = if v < T::zero() { T::zero() } else { v };
        if v > best.0 || (v == best.0 && at < best.1) {
            *best = (v, at);
        }
    }
}

impl ConvReluPeaks {
    fn peaks_into<T: WithDType>(x: &[T], w: &[T], bias: &[T], d: Dims, out: &mut [T]) {
        let (oh, ow, o) = (d.oh(), d.ow(), d.o);
        let per_image = out
            .par_chunks_mut(2 * o)
            .enumerate()
            .with_min_len(MIN_IMAGES_PER_TASK);
        let start = || vec![(T::zero(), usize::MAX); o];
        let write = |best: &[(T, usize)], out: &mut [T]| {
            for (ch, &(v, at)) in best.iter().enumerate() {
                out[ch] = v;
                out[o + ch] = T::from_f64(at as f64);
            }
        };
        if d.kh == 3 && d.kw == 3 && oh % 2 == 0 && ow % 2 == 0 {
            let u = super::winograd::transform_kernel(w, d.c, o);
            let tiles = (oh / 2) * (ow / 2);
            per_image.for_each_init(
                || (super::winograd::Scratch::new(tiles, d.c, o), start()),
                |(scratch, best), (n, out)| {
                    let img = &x[n * d.image()..(n + 1) * d.image()];
                    best.fill((T::zero(), usize::MAX));
                    wide!({
                        let dims = (d.h, d.w, d.c);
                        super::winograd::conv_blocks(img, dims, &u, o, scratch, |t, z| {
                            let (p, q) = (t / (ow / 2), t % (ow / 2));
                            for (k, z) in z.iter().enumerate() {
                                let at = (2 * p + k / 2) * ow + 2 * q + k % 2;
                                keep(best, z, bias, at);
                            }
                        })
                    });
                    write(best, out);
                },
            );
            return;
        }
        let one = Dims { b: 1, ..d };
        per_image.for_each_init(
            || (vec![T::zero(); oh * ow * o], start()),
            |(maps, best), (n, out)| {
                let img = &x[n * d.image()..(n + 1) * d.image()];
                ConvRelu::forward_into(img, w, bias, one, maps);
                best.fill((T::zero(), usize::MAX));
                let zero = vec![T::zero(); o];
                for (at, z) in maps.chunks(o).enumerate() {
                    keep(best, z, &zero, at);
                }
                write(best, out);
            },
        );
    }
}

impl CustomOp3 for ConvReluPeaks {
    fn name(&self) -> &'static str {
        "conv-relu-peaks"
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
            let mut out = zeros(d.b * 2 * d.o);
            Self::peaks_into(x, w, b, d, &mut out);
            out
        });
        Ok((out, Shape::from((d.b, 2, d.o))))
    }
}
