//! The conformance harness the kernels' own tests call (each kernel's file
//! ends with a `mod tests` that runs it on that kernel): a grid of shapes
//! (batch 1 and odd batches, batches past a parallel task and a partial sum,
//! tiny, odd and MNIST-sized images, one to five input channels, output
//! channels on both sides of a vector block, every kernel branch), random
//! cases from a seed for the property tests, and the checks: a fast kernel
//! against its reference layers and against the generic path, values and
//! every gradient, in f32 and f64, and with NaN and infinities in the input.

use super::{generic, reference};
use crate::rng::Rng;
use candle_core::{DType, Device, Result, Tensor, Var};

/// One convolution's sizes: input `[b, h, w, c]`, kernel `[kh, kw, c, o]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Case {
    pub(crate) b: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) c: usize,
    pub(crate) kh: usize,
    pub(crate) kw: usize,
    pub(crate) o: usize,
}

/// Batches: one image; odd; past `MIN_IMAGES_PER_TASK` (16); past
/// `IMAGES_PER_PARTIAL` (32).
const BATCHES: [usize; 4] = [1, 3, 17, 37];
/// Kernels: Winograd's 3×3, and the direct or matrix-product branches.
const KERNELS: [(usize, usize); 5] = [(3, 3), (2, 2), (1, 1), (3, 2), (1, 3)];
/// Output channels: one; fewer than a vector block; past one (16) and two.
const OUTPUTS: [usize; 4] = [1, 3, 17, 33];
/// Input channels.
const INPUTS: [usize; 3] = [1, 2, 5];

impl Case {
    /// The grid: every kernel, input and output channel count over images
    /// from the smallest the block takes (`min_out`: the output's least
    /// side) to MNIST's, the batch cycling through [`BATCHES`].
    pub(crate) fn grid(min_out: usize) -> Vec<Case> {
        let mut cases = Vec::new();
        for (i, &(kh, kw)) in KERNELS.iter().enumerate() {
            // Output sides: the least, odd, even, and conv1's and conv2's.
            let sides = [
                (min_out, min_out),
                (min_out + 1, min_out + 2),
                (5, 7),
                (8, 8),
                (26, 26),
            ];
            for (j, &(oh, ow)) in sides.iter().enumerate() {
                for (k, &c) in INPUTS.iter().enumerate() {
                    for (l, &o) in OUTPUTS.iter().enumerate() {
                        // MNIST-sized only with few channels: the grid stays fast.
                        if oh == 26 && c * o > 40 {
                            continue;
                        }
                        let b = BATCHES[(i + j + k + l) % BATCHES.len()];
                        let b = if oh == 26 { b.min(3) } else { b };
                        let (h, w) = (oh + kh - 1, ow + kw - 1);
                        cases.push(Case {
                            b,
                            h,
                            w,
                            c,
                            kh,
                            kw,
                            o,
                        });
                    }
                }
            }
        }
        cases
    }

    /// A random case (for the property tests): any kernel of [`KERNELS`],
    /// outputs of `min_out..min_out + 9` a side, 1..=4 input and 1..=40
    /// output channels, 1..=40 images.
    pub(crate) fn random(rng: &mut Rng, min_out: usize) -> Case {
        let (kh, kw) = KERNELS[rng.below(KERNELS.len())];
        let (oh, ow) = (min_out + rng.below(9), min_out + rng.below(9));
        Case {
            b: 1 + rng.below(40),
            h: oh + kh - 1,
            w: ow + kw - 1,
            c: 1 + rng.below(4),
            kh,
            kw,
            o: 1 + rng.below(40),
        }
    }

    /// Random `(x, w, b)` for this case: `x` like MNIST (values in 0..1,
    /// most exactly 0) when `sparse`, else in -1..1; the weights small.
    pub(crate) fn inputs(&self, seed: u64, dtype: DType, sparse: bool) -> (Tensor, Tensor, Tensor) {
        let x = random(&[self.b, self.h, self.w, self.c], seed, dtype);
        let x = if sparse {
            (x.relu().unwrap() * 2.0).unwrap().clamp(0.0, 1.0).unwrap()
        } else {
            x
        };
        let w = (random(&[self.kh, self.kw, self.c, self.o], seed + 1, dtype) * 0.5).unwrap();
        let b = (random(&[self.o], seed + 2, dtype) * 0.1).unwrap();
        (x, w, b)
    }
}

/// Values uniform in -1..1, of `dtype`, from `seed`.
pub(crate) fn random(shape: &[usize], seed: u64, dtype: DType) -> Tensor {
    let mut rng = Rng::new(seed);
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|_| rng.uniform(-1.0, 1.0) as f64).collect();
    Tensor::from_vec(v, shape, &Device::Cpu)
        .and_then(|t| t.to_dtype(dtype))
        .unwrap()
}

/// The values of `t`, as f64.
pub(crate) fn values(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64)
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.to_vec1::<f64>())
        .unwrap()
}

/// `a` (a fast kernel's) against `b` (its reference's): the same shape;
/// where `b` is finite, within `tol` of `b`'s largest magnitude; where `b`
/// is NaN or infinite, `a` is too (when `spread`, `a` may also be
/// non-finite where `b` is finite: Winograd spreads a NaN over its tile).
pub(crate) fn assert_conforms(a: &Tensor, b: &Tensor, tol: f64, spread: bool, what: &str) {
    assert_eq!(a.dims(), b.dims(), "{what}: shapes");
    let (a, b) = (values(a), values(b));
    let scale = b
        .iter()
        .filter(|v| v.is_finite())
        .fold(0f64, |m, v| m.max(v.abs()))
        .max(1e-30);
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        if !y.is_finite() {
            assert!(
                !x.is_finite(),
                "{what}[{i}]: {x} where the reference has {y}"
            );
            if y.is_infinite() && x.is_infinite() {
                assert_eq!(x, y, "{what}[{i}]: infinities of other signs");
            }
        } else if !x.is_finite() {
            assert!(spread, "{what}[{i}]: {x} where the reference has {y}");
        } else {
            assert!(
                (x - y).abs() <= tol * scale,
                "{what}[{i}]: {x} vs {y} (scale {scale}, tolerance {tol})"
            );
        }
    }
}

/// The tolerance of a fast kernel against its reference, relative to the
/// largest value: the sums are the same, added in another order.
pub(crate) fn tolerance(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => 1e-12,
        _ => 2e-5,
    }
}

/// Which fused block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Block {
    /// Convolution, bias, ReLU.
    ConvRelu,
    /// Convolution, bias, ReLU, 2×2 max-pooling.
    ConvReluPool,
}

impl Block {
    /// The fused kernel.
    fn fused(self, x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
        match self {
            Block::ConvRelu => super::fused::conv_relu(x, w, b),
            Block::ConvReluPool => super::fused::conv_relu_pool(x, w, b),
        }
    }

    /// The reference: the plain layers one after the other.
    fn reference(self, x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
        let y = reference::relu(&reference::conv2d_with_bias(x, w, Some(b))?)?;
        match self {
            Block::ConvRelu => Ok(y),
            Block::ConvReluPool => reference::max_pool2x2(&y),
        }
    }

    /// The generic path (candle's operations, any device).
    fn generic(self, x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
        match self {
            Block::ConvRelu => generic::conv_relu(x, w, b),
            Block::ConvReluPool => generic::conv_relu_pool(x, w, b),
        }
    }

    /// The least output side the block takes.
    pub(crate) fn min_out(self) -> usize {
        match self {
            Block::ConvRelu => 1,
            Block::ConvReluPool => 2,
        }
    }

    /// Whether the fused kernel may spread a non-finite value (Winograd).
    fn spreads(self, case: &Case) -> bool {
        self == Block::ConvReluPool && case.kh == 3 && case.kw == 3
    }
}

/// `f(x, w, b)` and the gradients of `Σ f · probe` with respect to each.
fn with_gradients(
    f: impl Fn(&Tensor, &Tensor, &Tensor) -> Result<Tensor>,
    (x, w, b): (&Tensor, &Tensor, &Tensor),
    probe_seed: u64,
) -> (Tensor, Vec<Tensor>) {
    let vars: Vec<Var> = [x, w, b]
        .iter()
        .map(|t| Var::from_tensor(t).unwrap())
        .collect();
    let y = f(
        vars[0].as_tensor(),
        vars[1].as_tensor(),
        vars[2].as_tensor(),
    )
    .unwrap();
    let probe = random(y.dims(), probe_seed, y.dtype());
    let grads = (&y * &probe)
        .and_then(|t| t.sum_all())
        .and_then(|t| t.backward())
        .unwrap();
    let grads = vars
        .iter()
        .map(|v| grads.get(v.as_tensor()).expect("a gradient").clone())
        .collect();
    (y, grads)
}

/// `block`'s fused kernel against its reference layers and the generic
/// path on `case`: values and the three gradients (input, kernel, bias).
pub(crate) fn check_block(block: Block, case: &Case, dtype: DType, seed: u64) {
    let sparse = seed % 2 == 0;
    let (x, w, b) = case.inputs(seed, dtype, sparse);
    let tol = tolerance(dtype);
    let what = |path: &str, part: &str| format!("{block:?} {case:?} {dtype:?} {path}: {part}");
    let (y, g) = with_gradients(|x, w, b| block.fused(x, w, b), (&x, &w, &b), seed + 3);
    for (path, f) in [
        (
            "reference",
            Block::reference as fn(Block, &Tensor, &Tensor, &Tensor) -> Result<Tensor>,
        ),
        ("generic", Block::generic),
    ] {
        let (ry, rg) = with_gradients(|x, w, b| f(block, x, w, b), (&x, &w, &b), seed + 3);
        assert_conforms(&y, &ry, tol, false, &what(path, "values"));
        for (part, (a, r)) in ["dx", "dw", "db"].iter().zip(g.iter().zip(&rg)) {
            assert_conforms(a, r, tol, false, &what(path, part));
        }
    }
}

/// `block` on inputs holding NaN, +∞ and −∞ (in the image, or in one
/// weight): never a clean number where the reference has none, and where
/// both are finite the same; the generic path likewise.
pub(crate) fn check_block_non_finite(block: Block, case: &Case, seed: u64) {
    let (x, w, b) = case.inputs(seed, DType::F32, false);
    let mut rng = Rng::new(seed);
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        // The first value (in every output's reach) and one anywhere.
        for (in_weights, first) in [(false, true), (false, false), (true, true), (true, false)] {
            let at = |t: &Tensor, rng: &mut Rng| if first { 0 } else { rng.below(t.elem_count()) };
            let (x, w) = if in_weights {
                (x.clone(), with_value(&w, at(&w, &mut rng), bad))
            } else {
                (with_value(&x, at(&x, &mut rng), bad), w.clone())
            };
            let part = ["image", "weights"][in_weights as usize];
            let what = format!("{block:?} {case:?} {bad} in the {part} (first: {first})");
            let reference = block.reference(&x, &w, &b).unwrap();
            let fused = block.fused(&x, &w, &b).unwrap();
            let generic = block.generic(&x, &w, &b).unwrap();
            let tol = tolerance(DType::F32);
            let spread = block.spreads(case);
            assert_conforms(&fused, &reference, tol, spread, &format!("{what}: fused"));
            assert_conforms(
                &generic,
                &reference,
                tol,
                false,
                &format!("{what}: generic"),
            );
            if bad.is_nan() && first {
                assert!(
                    values(&fused).iter().any(|v| v.is_nan()),
                    "{what}: the NaN was hidden"
                );
            }
        }
    }
}

/// `t` (f32) with its `at`-th value (flat) set to `v`.
pub(crate) fn with_value(t: &Tensor, at: usize, v: f32) -> Tensor {
    let mut all: Vec<f32> = t.flatten_all().and_then(|t| t.to_vec1()).unwrap();
    all[at] = v;
    Tensor::from_vec(all, t.dims(), t.device()).unwrap()
}
