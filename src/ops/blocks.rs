//! The network's two convolution blocks, each fused into one operation with
//! its own backward pass, for training on a CPU.
//!
//! * [`conv_relu`]: convolution, bias and ReLU (the first layer):
//!
//!   `y[n, i, j, o] = max(0, b[o] + Σ_{ky, kx, c} x[n, i + ky, j + kx, c] · w[ky, kx, c, o])`
//!
//!   computed directly, pixel by pixel (with one input channel a patch has
//!   only nine entries, too few for a matrix product to pay). Its weight
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
//! On other devices both run [`super::generic`].
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

use super::simd::{add_assign, gather_axpy, wide};
use super::{contiguous_slice, relu_grad, Col2Im};
use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor, WithDType};
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

/// Images per partial sum of a weight gradient. Partial sums are added in a
/// fixed order, so the result does not depend on how threads share the work.
const IMAGES_PER_PARTIAL: usize = 32;

/// Fewest images per parallel task: each task sets up its scratch buffers
/// once, so tasks should not be too small.
const MIN_IMAGES_PER_TASK: usize = 16;

/// Convolution, bias and ReLU in one operation (see the module docs).
pub fn conv_relu(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    if !x.device().is_cpu() {
        return super::generic::conv_relu(x, w, b);
    }
    Dims::of(x, w, b)?;
    x.contiguous()?
        .apply_op3(&w.contiguous()?, &b.contiguous()?, ConvRelu)
}

/// Convolution, bias, ReLU and 2×2 max-pooling in one operation (see the
/// module docs).
pub fn conv_relu_pool(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    if !x.device().is_cpu() {
        return super::generic::conv_relu_pool(x, w, b);
    }
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

/// The sizes of one convolution.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Dims {
    b: usize,
    h: usize,
    w: usize,
    c: usize,
    kh: usize,
    kw: usize,
    o: usize,
}

impl Dims {
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

    fn oh(&self) -> usize {
        self.h - self.kh + 1
    }

    fn ow(&self) -> usize {
        self.w - self.kw + 1
    }

    /// Entries of one patch, `kh·kw·c`.
    fn patch(&self) -> usize {
        self.kh * self.kw * self.c
    }

    fn image(&self) -> usize {
        self.h * self.w * self.c
    }

    /// Lists the non-zero inputs of patch `(i, j)` of `img` in `taps` as
    /// `(k·o, value)` for kernel entry `k`, and returns how many there are.
    #[inline(always)]
    fn patch_taps<T: WithDType>(
        &self,
        img: &[T],
        i: usize,
        j: usize,
        taps: &mut [(usize, T)],
    ) -> usize {
        let mut count = 0;
        for ky in 0..self.kh {
            let src = ((i + ky) * self.w + j) * self.c;
            for (t, &v) in img[src..src + self.kw * self.c].iter().enumerate() {
                // Written always, kept only if v != 0: no branch to mispredict.
                taps[count] = (((ky * self.kw) * self.c + t) * self.o, v);
                count += (v != T::zero()) as usize;
            }
        }
        count
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

/// Applies a generic CPU kernel to three f32 or three f64 storages.
macro_rules! float_dispatch3 {
    ($s:expr, $name:expr, |$a:ident, $b:ident, $c:ident| $body:expr) => {
        match $s {
            ((CpuStorage::F32(x), l1), (CpuStorage::F32(y), l2), (CpuStorage::F32(z), l3)) => {
                let ($a, $b, $c) = (
                    contiguous_slice(x, l1, $name)?,
                    contiguous_slice(y, l2, $name)?,
                    contiguous_slice(z, l3, $name)?,
                );
                CpuStorage::F32($body)
            }
            ((CpuStorage::F64(x), l1), (CpuStorage::F64(y), l2), (CpuStorage::F64(z), l3)) => {
                let ($a, $b, $c) = (
                    contiguous_slice(x, l1, $name)?,
                    contiguous_slice(y, l2, $name)?,
                    contiguous_slice(z, l3, $name)?,
                );
                CpuStorage::F64($body)
            }
            _ => bail!("{}: inputs must all be f32 or all f64", $name),
        }
    };
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

struct ConvRelu;

impl ConvRelu {
    fn forward<T: WithDType>(x: &[T], w: &[T], bias: &[T], d: Dims) -> Vec<T> {
        let (oh, ow, o, patch) = (d.oh(), d.ow(), d.o, d.patch());
        let mut y = vec![T::zero(); d.b * oh * ow * o];
        y.par_chunks_mut(oh * ow * o)
            .enumerate()
            .with_min_len(MIN_IMAGES_PER_TASK)
            .for_each_init(
                // The patch's non-zero inputs: (row of w, value).
                || vec![(0, T::zero()); patch],
                |taps, (n, out)| {
                    let img = &x[n * d.image()..(n + 1) * d.image()];
                    wide(|| {
                        for (p, acc) in out.chunks_exact_mut(o).enumerate() {
                            let count = d.patch_taps(img, p / ow, p % ow, taps);
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
        y
    }

    /// `[kh·kw·c + 1, o]`: the kernel's gradient, then the bias's.
    fn weight_grad<T: WithDType>(x: &[T], y: &[T], dy: &[T], d: Dims) -> Vec<T> {
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
            wide(|| {
                for ((g, &y), &dy) in g.iter_mut().zip(y).zip(dy) {
                    *g = relu_grad(y, dy);
                }
                counts.fill(0);
                for p in 0..pixels {
                    let count = d.patch_taps(img, p / ow, p % ow, taps);
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
        let out = float_dispatch3!(((s1, l1), (s2, l2), (s3, l3)), self.name(), |x, w, b| {
            Self::forward(x, w, b, d)
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
            let gz = y.apply_op2_no_bwd(&dy, &super::ReluGrad)?;
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
        let out = float_dispatch3!(((s1, l1), (s2, l2), (s3, l3)), self.name(), |x, y, dy| {
            ConvRelu::weight_grad(x, y, dy, d)
        });
        Ok((out, Shape::from((d.patch() + 1, d.o))))
    }
}

/// Which of the four positions of each 2×2 window won the max-pool:
/// `2·dy + dx`, one byte per output value.
type Winners = Arc<Mutex<Vec<u8>>>;

struct ConvReluPool {
    winners: Winners,
}

impl ConvReluPool {
    fn forward<T: WithDType>(x: &[T], w: &[T], bias: &[T], d: Dims) -> (Vec<T>, Vec<u8>) {
        let (oh, ow, o) = (d.oh(), d.ow(), d.o);
        let (ph, pw) = (oh / 2, ow / 2);
        let mut y = vec![T::zero(); d.b * ph * pw * o];
        let mut won = vec![0u8; d.b * ph * pw * o];
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
                    wide(|| {
                        let dims = (d.h, d.w, d.c);
                        super::winograd::conv_blocks(img, dims, &u, o, scratch, |t, z| {
                            pool_window(z, bias, &mut y[t * o..], &mut won[t * o..])
                        })
                    })
                },
            );
            return (y, won);
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
                wide(|| {
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
        (y, won)
    }

    /// `[kh·kw·c + 1, o]`: the kernel's gradient, then the bias's.
    fn weight_grad<T: WithDType>(x: &[T], y: &[T], dy: &[T], won: &[u8], d: Dims) -> Vec<T> {
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
                wide(|| {
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

    /// `[b, h, w, c]`: the input's gradient.
    fn input_grad<T: WithDType>(w: &[T], y: &[T], dy: &[T], won: &[u8], d: Dims) -> Vec<T> {
        let (o, patch, run) = (d.o, d.patch(), d.kw * d.c);
        let (ph, pw) = (d.oh() / 2, d.ow() / 2);
        let per_image = ph * pw * o;
        let mut wt = vec![T::zero(); o * patch]; // [o, patch]
        for k in 0..patch {
            for ch in 0..o {
                wt[ch * patch + k] = w[k * o + ch];
            }
        }
        let mut dx = vec![T::zero(); d.b * d.image()];
        dx.par_chunks_mut(d.image())
            .enumerate()
            .with_min_len(MIN_IMAGES_PER_TASK)
            .for_each_init(
                // Per corner of a window, the channels it won with a gradient: (row of wt, g).
                || vec![(0, T::zero()); 4 * o],
                |lists, (n, img)| {
                    wide(|| {
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
        dx
    }
}

/// One 2×2 window of the pooling: `z` holds the `o` convolution outputs of
/// each position, in the order (0, 0), (0, 1), (1, 0), (1, 1). Writes
/// `max(0, max(z) + bias)` to `y[..o]` and the winning position (the first
/// one, if several tie) to `won[..o]`.
#[inline(always)]
fn pool_window<T: WithDType>(z: [&[T]; 4], bias: &[T], y: &mut [T], won: &mut [u8]) {
    for ch in 0..bias.len() {
        let mut best = z[0][ch];
        let mut arg = 0u8;
        for (k, zk) in z.iter().enumerate().skip(1) {
            if zk[ch] > best {
                best = zk[ch];
                arg = k as u8;
            }
        }
        let v = best + bias[ch];
        y[ch] = if v > T::zero() { v } else { T::zero() };
        won[ch] = arg;
    }
}

/// `dst (+)= a · b` for `b` row-major `[k, n]` and `a` `[m, k]` whose rows
/// start `a_rs` entries apart (they may overlap), on this thread; with
/// `accumulate` the product is added to `dst`, otherwise it replaces it.
pub(super) fn matmul<T: WithDType>(
    dst: &mut [T],
    (a, a_rs): (&[T], usize),
    b: &[T],
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
) {
    assert!(m > 0 && dst.len() >= m * n && b.len() >= k * n);
    assert!(a.len() >= (m - 1) * a_rs + k);
    // SAFETY: every entry the strides reach lies inside the three slices
    // (checked above); dst does not overlap the inputs (it is borrowed mutably).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            1,
            a_rs as isize,
            b.as_ptr(),
            1,
            n as isize,
            T::one(),
            T::one(),
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
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
        let out = float_dispatch3!(((s1, l1), (s2, l2), (s3, l3)), self.name(), |x, w, b| {
            let (y, won) = Self::forward(x, w, b, d);
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
        let g = x.apply_op3_no_bwd(y, &dy, &grads(Part::Weights))?;
        let (dw, db) = split_weight_grad(g, d)?;
        let dx = if x.track_op() {
            Some(w.apply_op3_no_bwd(y, &dy, &grads(Part::Input))?)
        } else {
            None
        };
        Ok((dx, Some(dw), Some(db)))
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
    winners: Winners,
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
                float_dispatch3!(((s1, l1), (s2, l2), (s3, l3)), self.name(), |x, y, dy| {
                    ConvReluPool::weight_grad(x, y, dy, &won, d)
                }),
                Shape::from((d.patch() + 1, d.o)),
            ),
            Part::Input => (
                float_dispatch3!(((s1, l1), (s2, l2), (s3, l3)), self.name(), |w, y, dy| {
                    ConvReluPool::input_grad(w, y, dy, &won, d)
                }),
                Shape::from((d.b, d.h, d.w, d.c)),
            ),
        };
        Ok((out, shape))
    }
}
