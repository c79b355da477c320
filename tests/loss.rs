//! The loss against Keras 2's categorical cross-entropy, on a softmax output:
//!
//! ```python
//! output /= reduce_sum(output, axis=-1, keepdims=True)
//! output = clip_by_value(output, 1e-7, 1. - 1e-7)
//! return -reduce_sum(target * log(output), axis=-1)   # then the batch mean
//! ```
//!
//! The expected numbers were worked out with that formula in numpy, in
//! float32 as TensorFlow computes it (softmax as `exp(z - max) / sum`).

use candle_core::{Device, Tensor, Var};
use filters_are_weights::train::loss;

/// Three examples, all of class 0: an ordinary one, one the model is sure of
/// (p = 1 in float32, clipped to 1 - 1e-7) and one it gets hopelessly wrong
/// (p = 2.3e-10, clipped to 1e-7).
fn logits() -> Var {
    let mut rows = vec![2.0f32, 1.0, 0.5, 0., 0., 0., 0., 0., 0., -1.0];
    rows.extend([30.0f32, 0., 0., 0., 0., 0., 0., 0., 0., 0.]);
    rows.extend([-20.0f32, 0., 0., 0., 0., 0., 0., 0., 0., 0.]);
    Var::from_tensor(&Tensor::from_vec(rows, (3, 10), &Device::Cpu).unwrap()).unwrap()
}

fn labels() -> Tensor {
    Tensor::new(&[0u8, 0, 0], &Device::Cpu).unwrap()
}

#[test]
fn the_loss_is_kerass_clipped_cross_entropy() {
    let value = loss(logits().as_tensor(), &labels())
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    // Per example: 0.89723355, -log(1 - 1e-7) = 1.1920930e-07, -log(1e-7) = 16.118095.
    let expected = 5.6717763f32;
    assert!(
        (value - expected).abs() < 2e-6,
        "loss {value}, Keras' formula {expected}"
    );
    // Unclipped, the third example alone would cost -log(2.3e-10) = 22.2.
    assert!(value < 6.0);
}

#[test]
fn no_gradient_flows_past_the_clip() {
    let z = logits();
    let grads = loss(z.as_tensor(), &labels()).unwrap().backward().unwrap();
    let g = grads.get(z.as_tensor()).unwrap().to_vec2::<f32>().unwrap();
    // Inside the clip: (p - onehot) / batch, p from numpy as above.
    let expected = [
        -0.19743466f32,
        0.04999432,
        0.03032309,
        0.01839188,
        0.01839188,
        0.01839188,
        0.01839188,
        0.01839188,
        0.01839188,
        0.006766,
    ];
    for (got, want) in g[0].iter().zip(expected) {
        assert!((got - want).abs() < 1e-6, "{:?} vs {expected:?}", g[0]);
    }
    // Past the clip, above and below: nothing.
    assert!(g[1].iter().all(|&v| v == 0.0), "{:?}", g[1]);
    assert!(g[2].iter().all(|&v| v == 0.0), "{:?}", g[2]);
}

#[test]
fn a_nan_in_the_logits_makes_the_loss_nan() {
    // The clip must not hide a diverged model (training stops on a NaN loss).
    let mut rows = vec![0f32; 20];
    rows[3] = f32::NAN;
    let z = Tensor::from_vec(rows, (2, 10), &Device::Cpu).unwrap();
    let labels = Tensor::new(&[1u8, 2], &Device::Cpu).unwrap();
    let value = loss(&z, &labels).unwrap().to_scalar::<f32>().unwrap();
    assert!(value.is_nan(), "{value}");
}
