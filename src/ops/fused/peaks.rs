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
/// value (a NaN ranks above every number), or the same value earlier in
/// row-major order.
#[inline(always)]
fn keep<T: WithDType>(best: &mut [(T, usize)], z: &[T], bias: &[T], at: usize) {
    for ((best, &z), &b) in best.iter_mut().zip(z).zip(bias) {
        let v = z + b;
        let v = if v < T::zero() { T::zero() } else { v };
        if crate::ops::ranks_above(v, best.0) || (v == best.0 && at < best.1) {
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

#[cfg(test)]
mod tests {
    use crate::ops::conformance::{random, with_value, Case};
    use crate::ops::{conv_relu_peaks, reference, Backend};
    use crate::rng::Rng;
    use candle_core::{DType, Device, Tensor};

    /// The peaks of the fused kernel against a plain scan of the generic
    /// path's maps: each value the channel's largest (within rounding:
    /// Winograd's sums differ in the last bits), and the map holds it where
    /// the kernel says.
    fn check(case: &Case, seed: u64) {
        let (x, w, b) = case.inputs(seed, DType::F32, seed % 2 == 0);
        let peaks = conv_relu_peaks(&x, &w, &b).unwrap();
        let maps = Backend::Generic.conv_relu(&x, &w, &b).unwrap(); // [b, oh, ow, o]
        let (n, oh, ow, o) = maps.dims4().unwrap();
        assert_eq!((peaks.channels, peaks.width), (o, ow), "{case:?}");
        let maps: Vec<f32> = maps.flatten_all().unwrap().to_vec1().unwrap();
        let scale = maps.iter().fold(1e-30f32, |m, v| m.max(v.abs()));
        for image in 0..n {
            for ch in 0..o {
                let (value, (i, j)) = peaks.at(image, ch);
                assert!(i < oh && j < ow, "{case:?}: position ({i}, {j})");
                let map = (0..oh * ow).map(|p| maps[(image * oh * ow + p) * o + ch]);
                let top = map.fold(f32::NEG_INFINITY, f32::max);
                let here = maps[((image * oh + i) * ow + j) * o + ch];
                let tol = 1e-5 * scale;
                assert!(
                    (value - top).abs() <= tol,
                    "{case:?} {image} {ch}: {value} vs {top}"
                );
                assert!(
                    (value - here).abs() <= tol,
                    "{case:?} {image} {ch}: {value} at ({i}, {j}) holds {here}"
                );
            }
        }
        // The generic path's own peaks agree with a plain scan exactly.
        let generic = Backend::Generic.conv_relu_peaks(&x, &w, &b).unwrap();
        let plain = reference::peaks(&Backend::Generic.conv_relu(&x, &w, &b).unwrap()).unwrap();
        assert_eq!(
            generic.to_vec3::<f32>().unwrap(),
            plain.to_vec3::<f32>().unwrap()
        );
    }

    #[test]
    fn peaks_conform_over_the_grid_both_branches() {
        let cases = Case::grid(1);
        let winograd =
            |c: &Case| c.kh == 3 && c.kw == 3 && (c.h - 2) % 2 == 0 && (c.w - 2) % 2 == 0;
        assert!(cases.iter().any(winograd) && !cases.iter().all(winograd));
        for (i, case) in cases.iter().enumerate() {
            check(case, i as u64);
        }
    }

    #[test]
    fn a_peak_is_the_channels_largest_value_on_random_cases() {
        let mut rng = Rng::new(2019);
        for seed in 0..48 {
            check(&Case::random(&mut rng, 1), 3000 + seed);
        }
    }

    #[test]
    fn an_all_zero_map_peaks_at_its_first_position() {
        // ReLU makes every value 0: the first position, in both paths.
        let case = Case {
            b: 2,
            h: 6,
            w: 6,
            c: 1,
            kh: 3,
            kw: 3,
            o: 3,
        };
        let x = Tensor::ones((2, 6, 6, 1), DType::F32, &Device::Cpu).unwrap();
        let w = (random(&[3, 3, 1, 3], 1, DType::F32).abs().unwrap() * -1.0).unwrap();
        let b = Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap();
        let peaks = conv_relu_peaks(&x, &w, &b).unwrap();
        for image in 0..case.b {
            for ch in 0..case.o {
                assert_eq!(peaks.at(image, ch), (0.0, (0, 0)));
            }
        }
    }

    #[test]
    fn peaks_refuse_nan_infinities_zero_channels_and_overflow() {
        let case = Case {
            b: 2,
            h: 8,
            w: 8,
            c: 2,
            kh: 3,
            kw: 3,
            o: 4,
        };
        let (x, w, b) = case.inputs(7, DType::F32, false);
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            for (x, w, b, part) in [
                (with_value(&x, 5, bad), w.clone(), b.clone(), "input"),
                (x.clone(), with_value(&w, 5, bad), b.clone(), "kernel"),
                (x.clone(), w.clone(), with_value(&b, 1, bad), "bias"),
            ] {
                let err = conv_relu_peaks(&x, &w, &b).unwrap_err().to_string();
                assert!(
                    err.contains(&format!("the {part} holds a NaN")),
                    "{bad} {part}: {err}"
                );
            }
        }
        let zeros = |s: &[usize]| Tensor::zeros(s, DType::F32, &Device::Cpu).unwrap();
        let err = conv_relu_peaks(&x, &zeros(&[3, 3, 2, 0]), &zeros(&[0])).unwrap_err();
        assert!(err.to_string().contains("at least 1"), "{err}");
        // Finite numbers whose sums overflow.
        let huge = (Tensor::ones((1, 4, 4, 1), DType::F32, &Device::Cpu).unwrap() * 3e38).unwrap();
        let w = (Tensor::ones((3, 3, 1, 1), DType::F32, &Device::Cpu).unwrap() * 3e38).unwrap();
        let err = conv_relu_peaks(&huge, &w, &zeros(&[1]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("overflowed"), "{err}");
        // More positions than an f32 tells apart: refused before any sum.
        let side = 4097; // 4097² > 2²⁴
        let err = conv_relu_peaks(
            &zeros(&[1, side, side, 1]),
            &zeros(&[1, 1, 1, 1]),
            &zeros(&[1]),
        );
        assert!(err.unwrap_err().to_string().contains("2^24"));
    }
}
