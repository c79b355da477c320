//! One training step on the CPU in buffers that stay from step to step: the
//! forward pass of [`MnistCnn::forward_t`], then its gradients, layer by
//! layer in reverse.
//!
//! candle's autograd ([`Tensor::backward`]) walks the graph the forward pass
//! recorded and sums each gradient into a buffer it has just zeroed, on one
//! thread; every step allocates all of them again, and the activations too,
//! and fresh memory from the kernel must be zeroed before use. On the CPU,
//! where the network's blocks run fused (`ops::fused`), [`FusedStep`] does
//! the same arithmetic into its own buffers:
//!
//! | layer | forward | backward (`g`: the gradient from above) |
//! |---|---|---|
//! | conv1 + ReLU | `c1 = conv_relu(x, k1, b1)` `[b, 26, 26, 32]` | `dk1, db1` (the images need no gradient) |
//! | conv2 + ReLU + pool | `p, won = conv_relu_pool(c1, k2, b2)` `[b, 12, 12, 64]` | `dk2, db2, dc1`: only each window's winner |
//! | dropout1, flatten | `h1 = p · m1` `[b, 9216]` | `dp = g · m1` |
//! | dense1 + ReLU | `a1 = relu(h1 k3 + b3)` `[b, 128]` | `g1 = g · [a1 > 0]`; `dk3 = h1ᵀ g1`, `db3 = Σ_rows g1`, `dh1 = g1 k3ᵀ` |
//! | dropout2 | `h2 = a1 · m2` `[b, 128]` | `da1 = g · m2` |
//! | dense2 | `logits = h2 k4 + b4` `[b, 10]` | `dk4 = h2ᵀ g`, `db4 = Σ_rows g`, `dh2 = g k4ᵀ` |
//!
//! The loss and its gradient with respect to the logits (1,280 numbers) stay
//! candle's ([`crate::train::loss`]). Each block runs the very kernel of its
//! candle operation, each product the very call to gemm that candle's
//! `matmul` makes, each sum in candle's order: the gradients are autograd's,
//! bit for bit (the tests below hold them to it), and autograd stays the
//! reference, and the way other devices and dtypes train.

use super::MnistCnn;
use crate::error::{Error, Result};
use crate::ops::{into, matmul_as_candle, relu_grad, Backend, Dims};
use candle_core::{CpuStorage, DType, Layout, Storage, Tensor, Var};
use rayon::prelude::*;

/// The buffers of one training step on the CPU (see the module docs): the
/// activations the backward pass needs, and the gradients, in the order of
/// [`super::PARAMETER_NAMES`]. They are sized by the first batch and kept.
#[derive(Default)]
pub(crate) struct FusedStep {
    /// The batch, `[b, 28, 28, 1]`, and the sizes of the two convolutions.
    input: Option<(Tensor, Dims, Dims)>,
    conv1: Vec<f32>,   // [b, 26, 26, 32]
    pooled: Vec<f32>,  // [b, 12, 12, 64]
    winners: Vec<u8>,  // [b, 12, 12, 64]: which position won each window
    mask1: Vec<f32>,   // [b, 9216]
    h1: Vec<f32>,      // [b, 9216]
    dense1: Vec<f32>,  // [b, 128], after the ReLU
    mask2: Vec<f32>,   // [b, 128]
    h2: Vec<f32>,      // [b, 128]
    logits: Vec<f32>,  // [b, 10]
    d_h2: Vec<f32>,    // [b, 128]
    d_h1: Vec<f32>,    // [b, 9216]
    d_conv1: Vec<f32>, // [b, 26, 26, 32]
    grads: [Vec<f32>; 8],
}

impl std::fmt::Debug for FusedStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let batch = self.input.as_ref().map(|(x, ..)| x.dims()[0]);
        f.debug_struct("FusedStep").field("batch", &batch).finish()
    }
}

impl FusedStep {
    /// Whether `model` trains this way: on the CPU's fused backend, in f32.
    pub(crate) fn fits(model: &MnistCnn) -> bool {
        model.backend == Backend::Fused && model.dtype() == DType::F32
    }

    /// The logits `[b, 10]` of images `[b, 1, 28, 28]`, in training
    /// (`train`: dropout draws its masks, as [`MnistCnn::forward_t`] does,
    /// and what the backward pass needs is kept) or not.
    pub(crate) fn forward(
        &mut self,
        model: &MnistCnn,
        images: &Tensor,
        train: bool,
    ) -> Result<Tensor> {
        self.input = None;
        let x = model.channels_last(images)?.contiguous()?; // [b, 28, 28, 1]
        let (b, h, w, c) = x.dims4()?;
        let kernel = |var: &Var| var.dims4(); // [kh, kw, in, out]
        let (kh, kw, _, o1) = kernel(model.conv1.weights().0)?;
        let d1 = Dims::new((b, h, w, c), (kh, kw, o1));
        let (kh, kw, _, o2) = kernel(model.conv2.weights().0)?;
        let d2 = Dims::new((b, d1.oh(), d1.ow(), o1), (kh, kw, o2));
        let pooled = b * (d2.oh() / 2) * (d2.ow() / 2) * o2;
        let hidden = model.dense1.weights().1.dim(0)?;
        let classes = model.dense2.weights().1.dim(0)?;
        with_weights(model, |[k1, b1, k2, b2, k3, b3, k4, b4]| {
            let (storage, layout) = x.storage_and_layout();
            let x = f32_slice(&storage, layout)?;
            let c1 = sized(&mut self.conv1, b * d1.oh() * d1.ow() * o1);
            into::conv_relu(x, k1, b1, d1, c1); // [b, 26, 26, 32]
            let p = (
                sized(&mut self.pooled, pooled),
                sized(&mut self.winners, pooled),
            );
            into::conv_relu_pool(&self.conv1, k2, b2, d2, p); // [b, 12, 12, 64]
            let mut h1 = &self.pooled[..]; // [b, 9216]: flattened, as it is in memory
            if train {
                model.dropout1.mask_into(b, sized(&mut self.mask1, pooled));
                times(h1, &self.mask1, sized(&mut self.h1, pooled));
                h1 = &self.h1;
            }
            let a1 = sized(&mut self.dense1, b * hidden);
            dense(h1, (k3, b3), true, a1); // [b, 128]
            let mut h2 = &self.dense1[..];
            if train {
                model
                    .dropout2
                    .mask_into(b, sized(&mut self.mask2, b * hidden));
                times(h2, &self.mask2, sized(&mut self.h2, b * hidden));
                h2 = &self.h2;
            }
            dense(h2, (k4, b4), false, sized(&mut self.logits, b * classes)); // [b, 10]
            Ok(())
        })?;
        if train {
            self.input = Some((x, d1, d2));
        }
        Ok(Tensor::from_slice(
            &self.logits,
            (b, classes),
            model.device(),
        )?)
    }

    /// The logits `[b, 10]` of images `[b, 1, 28, 28]` outside training,
    /// [`SCORING_IMAGES`] at a time: each image's logits depend on that
    /// image alone, so they are those of the whole batch at once (tested),
    /// and the buffers stay the size of a training batch.
    pub(crate) fn score(&mut self, model: &MnistCnn, images: &Tensor) -> Result<Tensor> {
        let b = images.dim(0)?;
        let mut logits = Vec::new();
        for start in (0..b).step_by(SCORING_IMAGES) {
            let part = images.narrow(0, start, SCORING_IMAGES.min(b - start))?;
            self.forward(model, &part, false)?;
            logits.extend_from_slice(&self.logits);
        }
        let classes = logits.len() / b.max(1);
        Ok(Tensor::from_vec(logits, (b, classes), model.device())?)
    }

    /// The gradient of the loss with respect to every weight, from its
    /// gradient `d_logits` `[b, 10]` with respect to the logits of the last
    /// [`FusedStep::forward`]: into [`FusedStep::gradients`].
    pub(crate) fn backward(&mut self, model: &MnistCnn, d_logits: &Tensor) -> Result<()> {
        let (x, d1, d2) = self.input.clone().ok_or_else(|| {
            Error::Internal("a backward pass with no forward pass in training".into())
        })?;
        let g = d_logits.contiguous()?;
        let (storage, layout) = g.storage_and_layout();
        let g = f32_slice(&storage, layout)?;
        let (storage, layout) = x.storage_and_layout();
        let x = f32_slice(&storage, layout)?;
        let grads = &mut self.grads;
        with_weights(model, |[k1, b1, k2, b2, k3, b3, k4, b4]| {
            let [gk1, gb1, gk2, gb2, gk3, gb3, gk4, gb4] = grads;
            let d_h2 = sized(&mut self.d_h2, self.h2.len());
            let d_h1 = sized(&mut self.d_h1, self.h1.len());
            // dense2: [128, 10], [10], and d_h2 [b, 128]
            dense_backward(
                &self.h2,
                g,
                (sized(gk4, k4.len()), sized(gb4, b4.len())),
                k4,
                d_h2,
            );
            times_in_place(d_h2, &self.mask2); // dropout2
            for (g, &y) in d_h2.iter_mut().zip(&self.dense1) {
                *g = relu_grad(y, *g); // dense1's ReLU
            }
            // dense1: [9216, 128], [128], and d_h1 [b, 9216]
            dense_backward(
                &self.h1,
                d_h2,
                (sized(gk3, k3.len()), sized(gb3, b3.len())),
                k3,
                d_h1,
            );
            times_in_place(d_h1, &self.mask1); // dropout1: the pooled output's gradient now
            let pooled = (&self.pooled[..], &self.winners[..]);
            let g2 = into::conv_relu_pool_weight_grad(&self.conv1, pooled, d_h1, d2);
            split(&g2, (sized(gk2, k2.len()), sized(gb2, b2.len())));
            let d_c1 = sized(&mut self.d_conv1, self.conv1.len()); // [b, 26, 26, 32]
            into::conv_relu_pool_input_grad(k2, pooled, d_h1, d2, d_c1);
            let g1 = into::conv_relu_weight_grad(x, &self.conv1, d_c1, d1);
            split(&g1, (sized(gk1, k1.len()), sized(gb1, b1.len())));
            Ok(())
        })
    }

    /// The gradients of the last [`FusedStep::backward`], in the order of
    /// [`super::PARAMETER_NAMES`].
    pub(crate) fn gradients(&mut self) -> &mut [Vec<f32>; 8] {
        &mut self.grads
    }
}

/// Images per forward pass when scoring (Keras' default training batch).
pub(crate) const SCORING_IMAGES: usize = 128;

/// `v` with exactly `n` entries, its memory kept from earlier steps (new
/// entries, where `v` grows, are zero).
fn sized<T: Clone + Default>(v: &mut Vec<T>, n: usize) -> &mut [T] {
    v.resize(n, T::default());
    v
}

/// Values per parallel task of the elementwise passes.
const CHUNK: usize = 1 << 14;

/// `out = x · mask`, elementwise, in parallel, as the dropout operation
/// computes it.
fn times(x: &[f32], mask: &[f32], out: &mut [f32]) {
    out.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK).zip(mask.par_chunks(CHUNK)))
        .for_each(|(out, (x, mask))| {
            for ((o, &v), &m) in out.iter_mut().zip(x).zip(mask) {
                *o = v * m;
            }
        });
}

/// `g = g · mask`, elementwise, in parallel: dropout's backward pass.
fn times_in_place(g: &mut [f32], mask: &[f32]) {
    g.par_chunks_mut(CHUNK)
        .zip(mask.par_chunks(CHUNK))
        .for_each(|(g, mask)| {
            for (g, &m) in g.iter_mut().zip(mask) {
                *g *= m;
            }
        });
}

/// `out = x · k + b` `[m, n]` (then ReLU where `relu`), for `x` `[m, kin]`,
/// `k` `[kin, n]`, `b` `[n]`: candle's `matmul`, then its `broadcast_add`.
fn dense(x: &[f32], (k, b): (&[f32], &[f32]), relu: bool, out: &mut [f32]) {
    let (n, kin) = (b.len(), k.len() / b.len());
    let m = x.len() / kin;
    matmul_as_candle(out, (x, 1, kin), (k, 1, n), (m, kin, n));
    for row in out.chunks_exact_mut(n) {
        for (v, &b) in row.iter_mut().zip(b) {
            *v += b;
            if relu {
                *v = if *v > 0.0 { *v } else { 0.0 }; // the reference ReLU: 0 for NaN too
            }
        }
    }
}

/// The gradients of `out = x · k + b` from `g` = ∂L/∂out `[m, n]`, as
/// candle's autograd computes them: `dk = xᵀ g`, `db = Σ_rows g` (rows in
/// order), `dx = g kᵀ`.
fn dense_backward(
    x: &[f32],
    g: &[f32],
    (dk, db): (&mut [f32], &mut [f32]),
    k: &[f32],
    dx: &mut [f32],
) {
    let (n, kin) = (db.len(), k.len() / db.len());
    let m = g.len() / n;
    // xᵀ is x's numbers with the strides swapped: column stride kin, row stride 1.
    matmul_as_candle(dk, (x, kin, 1), (g, 1, n), (kin, m, n));
    db.fill(0.0);
    for row in g.chunks_exact(n) {
        for (s, &v) in db.iter_mut().zip(row) {
            *s += v;
        }
    }
    // kᵀ likewise: column stride n, row stride 1.
    matmul_as_candle(dx, (g, 1, n), (k, n, 1), (m, n, kin));
}

/// Splits a `[kh·kw·c + 1, o]` gradient into the kernel's and the bias's.
fn split(g: &[f32], (dk, db): (&mut [f32], &mut [f32])) {
    let (k, b) = g.split_at(dk.len());
    dk.copy_from_slice(k);
    db.copy_from_slice(b);
}

/// The data of a contiguous f32 CPU tensor.
fn f32_slice<'a>(storage: &'a Storage, layout: &Layout) -> Result<&'a [f32]> {
    match (storage, layout.contiguous_offsets()) {
        (Storage::Cpu(CpuStorage::F32(v)), Some((start, end))) => Ok(&v[start..end]),
        _ => Err(Error::Internal(
            "the fused step needs contiguous f32 tensors on the CPU".into(),
        )),
    }
}

/// Runs `f` on the model's eight weights (in the order of
/// [`super::PARAMETER_NAMES`]), read while it runs.
fn with_weights<R>(model: &MnistCnn, f: impl FnOnce([&[f32]; 8]) -> Result<R>) -> Result<R> {
    let vars = model.vars();
    let guards: Vec<_> = vars.iter().map(|v| v.storage_and_layout()).collect();
    let slices = guards
        .iter()
        .map(|(s, l)| f32_slice(s, l))
        .collect::<Result<Vec<_>>>()?;
    let slices: [&[f32]; 8] = slices
        .try_into()
        .map_err(|_| Error::Internal("the model has 8 weights".into()))?;
    f(slices)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Adadelta, AdadeltaConfig};
    use crate::rng::Rng;
    use crate::train::loss;
    use candle_core::Device;
    use candle_nn::Optimizer;

    /// `b` pictures like MNIST's: mostly black, strokes in (0, 1]; labels 0..10.
    pub(super) fn batch(b: usize, seed: u64) -> (Tensor, Tensor) {
        let mut rng = Rng::new(seed);
        let pixels: Vec<f32> = (0..b * 784)
            .map(|_| match rng.next_f32() {
                v if v < 0.8 => 0.0,
                v => (v - 0.8) * 5.0,
            })
            .collect();
        let labels: Vec<u32> = (0..b).map(|_| rng.below(10) as u32).collect();
        let dev = &Device::Cpu;
        let images = Tensor::from_vec(pixels, (b, 1, 28, 28), dev).unwrap();
        (images, Tensor::from_vec(labels, b, dev).unwrap())
    }

    fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1().unwrap()
    }

    #[test]
    fn the_fused_step_gives_autograds_gradients_and_steps_bit_for_bit() {
        let dev = &Device::Cpu;
        // Two models with the same weights: one trained through candle's
        // autograd (the fused operations' own backward passes), one by the
        // fused step; three steps each on the same batches and masks.
        let (by_graph, by_step) = (
            MnistCnn::new(7, dev).unwrap(),
            MnistCnn::new(7, dev).unwrap(),
        );
        let config = AdadeltaConfig::default();
        let mut opt_graph = Adadelta::new(by_graph.vars(), config).unwrap();
        let mut opt_step = Adadelta::new(by_step.vars(), config).unwrap();
        let mut step = FusedStep::default();
        assert!(FusedStep::fits(&by_step));
        // 40 images, then 24: the buffers shrink and grow back to the batch.
        for (i, b) in [40, 24, 40].into_iter().enumerate() {
            let (images, labels) = batch(b, i as u64);
            by_graph.seed_dropout(Rng::new(100 + i as u64));
            by_step.seed_dropout(Rng::new(100 + i as u64));

            let logits = by_graph.forward_t(&images, true).unwrap();
            let grads = loss(&logits, &labels).unwrap().backward().unwrap();

            let logits_var =
                Var::from_tensor(&step.forward(&by_step, &images, true).unwrap()).unwrap();
            assert_eq!(
                values(&logits),
                values(logits_var.as_tensor()),
                "logits, step {i}"
            );
            let step_loss = loss(logits_var.as_tensor(), &labels).unwrap();
            let d_logits = step_loss.backward().unwrap();
            step.backward(&by_step, d_logits.get(logits_var.as_tensor()).unwrap())
                .unwrap();

            for (n, (var, mine)) in by_graph
                .vars()
                .iter()
                .zip(step.gradients().iter())
                .enumerate()
            {
                let reference = values(grads.get(var.as_tensor()).unwrap());
                let name = crate::model::PARAMETER_NAMES[n];
                assert_eq!(reference.len(), mine.len(), "{name}");
                let differ = reference
                    .iter()
                    .zip(mine)
                    .filter(|(a, b)| a.to_bits() != b.to_bits())
                    .count();
                assert_eq!(differ, 0, "{name}: {differ} gradients differ at step {i}");
            }
            // Outside training (no dropout), as the test set is scored.
            let plain = by_graph.forward_t(&images, false).unwrap();
            let scored = step.forward(&by_step, &images, false).unwrap();
            assert_eq!(
                values(&plain),
                values(&scored),
                "logits outside training, step {i}"
            );
            assert!(
                step.backward(&by_step, &plain).is_err(),
                "no backward after scoring"
            );

            opt_graph.step(&grads).unwrap();
            opt_step.step_from(&step.gradients()[..]).unwrap();
            for (a, b) in by_graph.vars().iter().zip(by_step.vars()) {
                assert!(values(a) == values(&b), "weights differ after step {i}");
            }
        }
    }

    #[test]
    fn scoring_in_parts_gives_the_logits_of_the_whole_batch() {
        let model = MnistCnn::new(3, &Device::Cpu).unwrap();
        let (images, _) = batch(1000, 5);
        let mut step = FusedStep::default();
        let whole = values(&step.forward(&model, &images, false).unwrap());
        let parts = values(&step.score(&model, &images).unwrap());
        let differ = whole
            .iter()
            .zip(&parts)
            .filter(|(a, b)| a.to_bits() != b.to_bits())
            .count();
        assert_eq!((whole.len(), differ), (10_000, 0), "logits differ");
    }
}
