//! The second block fused: convolution, bias, ReLU and 2×2 max-pooling,
//! forward (Winograd's F(2×2, 3×3), pooled as computed) and the sparse
//! backward pass (only each window's winner gets a gradient).

use super::matmul::matmul;
use super::sums::gather_axpy;
use super::*;
use crate::ops::reference::relu_grad;
use crate::simd::wide;

/// Which of the four positions of each 2×2 window won the max-pool:
/// `2·dy + dx`, one byte per output value.
type Winners = Arc<Mutex<Vec<u8>>>;

pub(super) struct ConvReluPool {
    pub(super) winners: Winners,
}

impl ConvReluPool {
    /// Writes every entry of `y` `[b, oh / 2, ow / 2, o]` and of `won`
    /// (its windows' winners).
    pub(super) fn forward_into<T: WithDType>(
        x: &[T],
        w: &[T],
        bias: &[T],
        d: Dims,
        y: &mut [T],
        won: &mut [u8],
    ) {
        let (oh, ow, o) = (d.oh(), d.ow(), d.o);
        let (ph, pw) = (oh / 2, ow / 2);
        assert!(y.len() == d.b * ph * pw * o && won.len() == y.len());
        let outputs = y
            .par_chunks_mut(ph * pw * o)
            .zip(won.par_chunks_mut(ph * pw * o))
            .enumerate()
            .with_min_len(MIN_IMAGES_PER_TASK);
        if d.kh == 3 && d.kw == 3 {
            let u = super::winograd::transform_kernel(w, d.c, o);
            outputs.for_each_init(
                || super::winograd::Scratch::new(ph * pw, d.c, o),
                |scratch, (n, (y, won))| {
                    let img = &x[n * d.image()..(n + 1) * d.image()];
                    wide!({
                        let dims = (d.h, d.w, d.c);
                        super::winograd::conv_blocks(img, dims, &u, o, scratch, |t, z| {
                            pool_window(z, bias, &mut y[t * o..], &mut won[t * o..])
                        })
                    })
                },
            );
            return;
        }
        // Row `i·w + j` of z is output pixel (i, j); rows with j >= ow are
        // computed and ignored. For a fixed kernel row ky, the patches of all
        // pixels are overlapping runs of kw·c inputs, `c` apart: the matrix
        // product reads them in place, without an im2col copy.
        let rows = (oh - 1) * d.w + ow;
        let run = d.kw * d.c;
        outputs.for_each_init(
            || vec![T::zero(); rows * o],
            |z, (n, (y, won))| {
                let img = &x[n * d.image()..(n + 1) * d.image()];
                wide!({
                    for ky in 0..d.kh {
                        let lhs = &img[ky * d.w * d.c..];
                        let rhs = &w[ky * run * o..(ky + 1) * run * o];
                        matmul(z, (lhs, d.c), rhs, (rows, run, o), ky > 0); // [rows, o]
                    }
                    for p in 0..ph {
                        for q in 0..pw {
                            let at = |dy: usize, dx: usize| {
                                let i = ((2 * p + dy) * d.w + 2 * q + dx) * o;
                                &z[i..i + o]
                            };
                            let out = (p * pw + q) * o;
                            let corners = [at(0, 0), at(0, 1), at(1, 0), at(1, 1)];
                            pool_window(corners, bias, &mut y[out..], &mut won[out..]);
                        }
                    }
                })
            },
        );
    }

    /// `[kh·kw·c + 1, o]`: the kernel's gradient, then the bias's.
    pub(super) fn weight_grad<T: WithDType>(
        x: &[T],
        y: &[T],
        dy: &[T],
        won: &[u8],
        d: Dims,
    ) -> Vec<T> {
        let (o, patch, run) = (d.o, d.patch(), d.kw * d.c);
        let (ph, pw) = (d.oh() / 2, d.ow() / 2);
        let (windows, per_image) = (ph * pw, ph * pw * o);
        // Accumulated as [o, patch] so each channel's sum is contiguous.
        let t = d.sum_over_images(
            o * patch + o,
            // Per channel, the windows that pass a gradient: (patch offset in x, g).
            || (vec![(0, T::zero()); o * windows], vec![0usize; o]),
            |n, acc, (lists, counts)| {
                let img = &x[n * d.image()..(n + 1) * d.image()];
                let (acc, db) = acc.split_at_mut(o * patch);
                wide!({
                    counts.fill(0);
                    for p in 0..ph {
                        for q in 0..pw {
                            let at = n * per_image + (p * pw + q) * o;
                            for ch in 0..o {
                                let g = relu_grad(y[at + ch], dy[at + ch]);
                                let k = won[at + ch] as usize;
                                let (i, j) = (2 * p + k / 2, 2 * q + k % 2);
                                // Written always, kept only if g != 0: no branch to mispredict.
                                lists[ch * windows + counts[ch]] = ((i * d.w + j) * d.c, g);
                                counts[ch] += (g != T::zero()) as usize;
                            }
                        }
                    }
                    for ch in 0..o {
                        let entries = &lists[ch * windows..ch * windows + counts[ch]];
                        for &(_, g) in entries {
                            db[ch] += g;
                        }
                        for ky in 0..d.kh {
                            let dst = ch * patch + ky * run;
                            gather_axpy(&mut acc[dst..dst + run], entries, img, ky * d.w * d.c);
                        }
                    }
                })
            },
        );
        let mut out = vec![T::zero(); (patch + 1) * o];
        for ch in 0..o {
            for k in 0..patch {
                out[k * o + ch] = t[ch * patch + k];
            }
            out[patch * o + ch] = t[o * patch + ch];
        }
        out
    }

    /// Writes the input's gradient `[b, h, w, c]` into every entry of `dx`.
    pub(super) fn input_grad_into<T: WithDType>(
        w: &[T],
        y: &[T],
        dy: &[T],
        won: &[u8],
        d: Dims,
        dx: &mut [T],
    ) {
        let (o, patch, run) = (d.o, d.patch(), d.kw * d.c);
        let (ph, pw) = (d.oh() / 2, d.ow() / 2);
        let per_image = ph * pw * o;
        let mut wt = vec![T::zero(); o * patch]; // [o, patch]
        for k in 0..patch {
            for ch in 0..o {
                wt[ch * patch + k] = w[k * o + ch];
            }
        }
        assert_eq!(dx.len(), d.b * d.image());
        dx.par_chunks_mut(d.image())
            .enumerate()
            .with_min_len(MIN_IMAGES_PER_TASK)
            .for_each_init(
                // Per corner of a window, the channels it won with a gradient: (row of wt, g).
                || vec![(0, T::zero()); 4 * o],
                |lists, (n, img)| {
                    img.fill(T::zero()); // zeroed here, while in the cache
                    wide!({
                        for p in 0..ph {
                            for q in 0..pw {
                                let at = n * per_image + (p * pw + q) * o;
                                let mut counts = [0usize; 4];
                                for ch in 0..o {
                                    let g = relu_grad(y[at + ch], dy[at + ch]);
                                    let k = won[at + ch] as usize;
                                    lists[k * o + counts[k]] = (ch * patch, g);
                                    counts[k] += (g != T::zero()) as usize;
                                }
                                for (k, &count) in counts.iter().enumerate() {
                                    if count == 0 {
                                        continue;
                                    }
                                    let entries = &lists[k * o..k * o + count];
                                    let (i, j) = (2 * p + k / 2, 2 * q + k % 2);
                                    for ky in 0..d.kh {
                                        let dst = ((i + ky) * d.w + j) * d.c;
                                        gather_axpy(
                                            &mut img[dst..dst + run],
                                            entries,
                                            &wt,
                                            ky * run,
                                        );
                                    }
                                }
                            }
                        }
                    })
                },
            );
    }
}

/// One 2×2 window of the pooling: `z` holds the `o` convolution outputs of
/// each position, in the order (0, 0), (0, 1), (1, 0), (1, 1). Writes
/// `max(0, max(z) + bias)` to `y[..o]` and the winning position (the first
/// one, if several tie; a NaN ranks above every number, and stays NaN) to
/// `won[..o]`.
#[inline(always)]
fn pool_window<T: WithDType>(z: [&[T]; 4], bias: &[T], y: &mut [T], won: &mut [u8]) {
    for ch in 0..bias.len() {
        let mut best = z[0][ch];
        let mut arg = 0u8;
        for (k, zk) in z.iter().enumerate().skip(1) {
            if crate::ops::ranks_above(zk[ch], best) {
                best = zk[ch];
                arg = k as u8;
            }
        }
        let v = best + bias[ch];
        y[ch] = if v < T::zero() { T::zero() } else { v };
        won[ch] = arg;
    }
}

impl CustomOp3 for ConvReluPool {
    fn name(&self) -> &'static str {
        "conv-relu-pool"
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
        let winners: Vec<u8>;
        let out = float_dispatch!(self.name(), [(s1, l1) => x, (s2, l2) => w, (s3, l3) => b], {
            let mut y = zeros(d.b * (d.oh() / 2) * (d.ow() / 2) * d.o);
            let mut won = vec![0u8; y.len()];
            Self::forward_into(x, w, b, d, &mut y, &mut won);
            winners = won;
            y
        });
        *self.winners.lock().expect("winners lock") = winners;
        Ok((out, Shape::from((d.b, d.oh() / 2, d.ow() / 2, d.o))))
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
        let grads = |part| PoolGrad {
            part,
            dims: d,
            winners: self.winners.clone(),
        };
        // Fixed weights (an input being optimised) need no gradient.
        let (dw, db) = if w.track_op() || b.track_op() {
            let g = x.apply_op3_no_bwd(y, &dy, &grads(Part::Weights))?;
            let (dw, db) = split_weight_grad(g, d)?;
            (Some(dw), Some(db))
        } else {
            (None, None)
        };
        let dx = if x.track_op() {
            Some(w.apply_op3_no_bwd(y, &dy, &grads(Part::Input))?)
        } else {
            None
        };
        Ok((dx, dw, db))
    }
}

#[derive(Clone, Copy)]
enum Part {
    /// `(x, y, dy)` to `[kh·kw·c + 1, o]`.
    Weights,
    /// `(w, y, dy)` to `[b, h, w, c]`.
    Input,
}

/// One half of [`ConvReluPool`]'s backward pass.
struct PoolGrad {
    part: Part,
    dims: Dims,
    pub(super) winners: Winners,
}

impl CustomOp3 for PoolGrad {
    fn name(&self) -> &'static str {
        "conv-relu-pool-grad"
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
        let d = self.dims;
        let won = self.winners.lock().expect("winners lock");
        let pooled = (d.b, d.oh() / 2, d.ow() / 2, d.o);
        if won.len() != d.b * pooled.1 * pooled.2 * d.o || l3.shape().dims4()? != pooled {
            bail!(
                "conv-relu-pool backward: gradient {:?} does not fit the forward pass",
                l3.shape()
            )
        }
        let (out, shape) = match self.part {
            Part::Weights => (
                float_dispatch!(self.name(), [(s1, l1) => x, (s2, l2) => y, (s3, l3) => dy], {
                    ConvReluPool::weight_grad(x, y, dy, &won, d)
                }),
                Shape::from((d.patch() + 1, d.o)),
            ),
            Part::Input => (
                float_dispatch!(self.name(), [(s1, l1) => w, (s2, l2) => y, (s3, l3) => dy], {
                    let mut dx = zeros(d.b * d.image());
                    ConvReluPool::input_grad_into(w, y, dy, &won, d, &mut dx);
                    dx
                }),
                Shape::from((d.b, d.h, d.w, d.c)),
            ),
        };
        Ok((out, shape))
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::conformance::{check_block, check_block_non_finite, Block, Case};
    use crate::rng::Rng;
    use candle_core::{DType, Device, Tensor};

    #[test]
    fn conv_relu_pool_conforms_over_the_grid_in_f32_and_f64() {
        let cases = Case::grid(Block::ConvReluPool.min_out());
        assert!(
            cases.iter().any(|c| (c.kh, c.kw) == (3, 3)),
            "Winograd's branch"
        );
        assert!(
            cases.iter().any(|c| (c.kh, c.kw) != (3, 3)),
            "the matrix product's"
        );
        assert!(
            cases.iter().any(|c| (c.h - c.kh + 1) % 2 == 1),
            "an odd output"
        );
        for (i, case) in cases.iter().enumerate() {
            check_block(Block::ConvReluPool, case, DType::F32, i as u64);
        }
        for (i, case) in cases.iter().enumerate().step_by(7) {
            check_block(Block::ConvReluPool, case, DType::F64, i as u64);
        }
    }

    #[test]
    fn conv_relu_pool_equals_its_layers_on_random_cases() {
        let mut rng = Rng::new(2018);
        for seed in 0..48 {
            let case = Case::random(&mut rng, Block::ConvReluPool.min_out());
            check_block(Block::ConvReluPool, &case, DType::F32, 2000 + seed);
        }
    }

    #[test]
    fn conv_relu_pool_keeps_nan_and_infinities_where_its_layers_do() {
        for (i, case) in Case::grid(2).iter().enumerate().step_by(11) {
            check_block_non_finite(Block::ConvReluPool, case, i as u64);
        }
    }

    #[test]
    fn conv_relu_pool_refuses_an_output_smaller_than_its_window() {
        let t = |shape: &[usize]| Tensor::zeros(shape, DType::F32, &Device::Cpu).unwrap();
        let err = crate::ops::conv_relu_pool(&t(&[1, 3, 5, 1]), &t(&[3, 3, 1, 2]), &t(&[2]));
        assert!(err
            .unwrap_err()
            .to_string()
            .contains("smaller than the 2x2 window"));
        let err = crate::ops::conv_relu_pool(&t(&[1, 5, 5, 1]), &t(&[3, 3, 1, 0]), &t(&[0]));
        assert!(err.unwrap_err().to_string().contains("at least 1"));
    }
}
