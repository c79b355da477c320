//! A first layer chosen by hand: 32 filters built from setosa's nine
//! kernels, one for each of the network's 32 places.
//!
//! The rule, in three parts:
//!
//! * **The two directional kernels in all eight directions** (16). A 3×3
//!   kernel turns by 45° when the eight numbers of its outer ring move one
//!   place round the centre. Top sobel turned step by step gives the eight
//!   compass sobels: setosa's top, right, bottom and left sobels and the four
//!   diagonals between them. setosa's emboss (bright towards the bottom right)
//!   turned the same way gives eight embosses.
//! * **The embosses negated** (8). A sobel's negative is itself turned by
//!   180°, so it is in the bank already; emboss keeps +1 at its centre, so its
//!   negative is a new kernel: the picture darkened, the edges reversed.
//! * **The four symmetric kernels and their negatives** (8): outline,
//!   sharpen, blur and identity. The network's ReLU keeps only the positive
//!   side of each filter's output, and a negative sees the other side: dark
//!   spots instead of bright ones.
//!
//! Identity is in the bank though [`crate::analysis::nearest_classic`] leaves
//! it out (centred, it is outline divided by 9): as a filter it passes the
//! picture itself on to the next layer, which a person designing the layer
//! might well want.
//!
//! ```
//! use filters_are_weights::kernels::{hand_chosen, Kernel};
//! let bank = hand_chosen();
//! assert_eq!(bank.len(), 32);
//! assert_eq!(bank[2], Kernel::by_name("right sobel")?); // top sobel turned by 90°
//! assert_eq!(bank[24].name, "outline");
//! # Ok::<(), filters_are_weights::Error>(())
//! ```

use super::{Kernel, CLASSIC};
use crate::error::Result;
use candle_core::{Device, Tensor};

/// The eight directions, clockwise from the top, 45° apart.
const SOBELS: [&str; 8] = [
    "top sobel",
    "top-right sobel",
    "right sobel",
    "bottom-right sobel",
    "bottom sobel",
    "bottom-left sobel",
    "left sobel",
    "top-left sobel",
];
const EMBOSSES: [&str; 8] = [
    "top emboss",
    "top-right emboss",
    "right emboss",
    "emboss", // setosa's, bright towards the bottom right
    "bottom emboss",
    "bottom-left emboss",
    "left emboss",
    "top-left emboss",
];
const NEGATIVE_EMBOSSES: [&str; 8] = [
    "negative top emboss",
    "negative top-right emboss",
    "negative right emboss",
    "negative emboss",
    "negative bottom emboss",
    "negative bottom-left emboss",
    "negative left emboss",
    "negative top-left emboss",
];
const SYMMETRIC: [&str; 4] = ["outline", "sharpen", "blur", "identity"];
const NEGATIVE_SYMMETRIC: [&str; 4] = [
    "negative outline",
    "negative sharpen",
    "negative blur",
    "negative identity",
];

/// The outer ring of a 3×3 kernel, clockwise from the top-left corner.
const RING: [(usize, usize); 8] = [
    (0, 0),
    (0, 1),
    (0, 2),
    (1, 2),
    (2, 2),
    (2, 1),
    (2, 0),
    (1, 0),
];

/// `weights` turned clockwise by `steps` × 45°: each number of the outer
/// ring moves `steps` places round the centre, which stays.
pub fn turned(weights: &[[f32; 3]; 3], steps: usize) -> [[f32; 3]; 3] {
    let mut out = *weights;
    for (i, &(r, c)) in RING.iter().enumerate() {
        let (tr, tc) = RING[(i + steps) % 8];
        out[tr][tc] = weights[r][c];
    }
    out
}

fn negated(weights: &[[f32; 3]; 3]) -> [[f32; 3]; 3] {
    weights.map(|row| row.map(|v| -v))
}

fn classic(name: &str) -> [[f32; 3]; 3] {
    CLASSIC
        .iter()
        .find(|k| k.name == name)
        .expect("a classic kernel")
        .weights
}

/// The 32 hand-chosen filters, in this order: the eight sobels (from the
/// top, clockwise), the eight embosses, the eight negated embosses, then
/// outline, sharpen, blur, identity and their four negatives. Their numbers
/// are setosa's; see [`scaled_to`] to give them the size of the filters they
/// replace.
pub fn hand_chosen() -> Vec<Kernel> {
    let top_sobel = classic("top sobel");
    // setosa's emboss points to the bottom right, three steps from the top.
    let top_emboss = turned(&classic("emboss"), 8 - 3);
    let mut bank = Vec::with_capacity(32);
    for (d, name) in SOBELS.into_iter().enumerate() {
        bank.push(Kernel::new(name, turned(&top_sobel, d)));
    }
    for (d, name) in EMBOSSES.into_iter().enumerate() {
        bank.push(Kernel::new(name, turned(&top_emboss, d)));
    }
    for (d, name) in NEGATIVE_EMBOSSES.into_iter().enumerate() {
        bank.push(Kernel::new(name, negated(&turned(&top_emboss, d))));
    }
    for name in SYMMETRIC {
        bank.push(Kernel::new(name, classic(name)));
    }
    for (name, of) in NEGATIVE_SYMMETRIC.into_iter().zip(SYMMETRIC) {
        bank.push(Kernel::new(name, negated(&classic(of))));
    }
    bank
}

/// The Euclidean length of each filter of `values` (nine numbers a filter,
/// row-major): the size [`scaled_to`] sets.
pub fn filter_lengths(values: &[f32]) -> Vec<f32> {
    let length = |f: &[f32]| f.iter().map(|v| v * v).sum::<f32>().sqrt();
    values.chunks(9).map(length).collect()
}

/// `kernels`, each multiplied so that its nine numbers have Euclidean
/// length `norm` (the pattern kept, the size chosen).
pub fn scaled_to(kernels: &[Kernel], norm: f32) -> Vec<Kernel> {
    kernels
        .iter()
        .map(|k| {
            let length = filter_lengths(&k.weights.concat())[0];
            let factor = if length > 0.0 { norm / length } else { 0.0 };
            Kernel::new(k.name, k.weights.map(|row| row.map(|v| v * factor)))
        })
        .collect()
}

/// `kernel` scaled to the length of filter `i` of `filters` (nine numbers
/// a filter, read as [`filter_lengths`] reads them), or to the filters'
/// mean length where filter `i` is all zeros: a classic kernel put in place
/// of one filter of a layer keeps the size of input the next layer expects,
/// as the hand-chosen bank does (`experiment::hand_chosen_filters` scales
/// all 32 to the mean).
///
/// ```
/// use filters_are_weights::kernels::{filter_lengths, scaled_like, Kernel};
/// let filters = [[0.1f32; 9], [0.0; 9]].concat();
/// let sobel = Kernel::by_name("top sobel").unwrap();
/// let own = scaled_like(&sobel, &filters, 0);
/// assert!((filter_lengths(&own.weights.concat())[0] - 0.3).abs() < 1e-6);
/// // Filter 1 is all zeros: the mean length, (0.3 + 0) / 2.
/// let mean = scaled_like(&sobel, &filters, 1);
/// assert!((filter_lengths(&mean.weights.concat())[0] - 0.15).abs() < 1e-6);
/// ```
pub fn scaled_like(kernel: &Kernel, filters: &[f32], i: usize) -> Kernel {
    let lengths = filter_lengths(filters);
    let mean = lengths.iter().sum::<f32>() / lengths.len().max(1) as f32;
    let own = lengths.get(i).copied().unwrap_or(0.0);
    let norm = if own > 1e-6 { own } else { mean };
    scaled_to(std::slice::from_ref(kernel), norm).remove(0)
}

/// `kernels` as first-layer filters `[n, 1, 3, 3]` (filter, channel, row,
/// column), on the CPU.
pub fn as_filters(kernels: &[Kernel]) -> Result<Tensor> {
    let values: Vec<f32> = kernels.iter().flat_map(|k| k.weights.concat()).collect();
    Ok(Tensor::from_vec(
        values,
        (kernels.len(), 1, 3, 3),
        &Device::Cpu,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turning_eight_times_is_the_identity_and_twice_a_quarter_turn() {
        let emboss = classic("emboss");
        assert_eq!(turned(&emboss, 8), emboss);
        // A quarter turn clockwise: row r, column c goes to row c, column 2 - r.
        let quarter = turned(&emboss, 2);
        for r in 0..3 {
            for c in 0..3 {
                assert_eq!(quarter[c][2 - r], emboss[r][c]);
            }
        }
    }

    #[test]
    fn the_bank_holds_setosas_kernels_unchanged_and_no_kernel_twice() {
        let bank = hand_chosen();
        for classic in &CLASSIC {
            let found = bank.iter().find(|k| k.name == classic.name);
            assert_eq!(found, Some(classic), "{}", classic.name);
        }
        for (i, a) in bank.iter().enumerate() {
            for b in &bank[i + 1..] {
                assert_ne!(a.weights, b.weights, "{} and {}", a.name, b.name);
                assert_ne!(a.name, b.name);
            }
        }
        // A sobel's negative is the sobel turned by 180°: top is -bottom.
        assert_eq!(bank[0].weights, negated(&bank[4].weights));
        assert_eq!(bank[16].weights, negated(&bank[8].weights));
    }

    #[test]
    fn scaling_keeps_the_pattern_and_sets_the_length() {
        let length = |w: &[[f32; 3]; 3]| w.iter().flatten().map(|v| v * v).sum::<f32>().sqrt();
        for (k, original) in scaled_to(&hand_chosen(), 0.25).iter().zip(hand_chosen()) {
            assert_eq!(k.name, original.name);
            assert!((length(&k.weights) - 0.25).abs() < 1e-6, "{}", k.name);
            let factor = 0.25 / length(&original.weights);
            for (v, o) in k
                .weights
                .iter()
                .flatten()
                .zip(original.weights.iter().flatten())
            {
                assert!((v - o * factor).abs() < 1e-6, "{}", k.name);
            }
        }
    }
}
