//! Adadelta against reference numbers.
//!
//! The numbers come from `tests/reference/adadelta.py`: the update of Keras
//! 2.0.0's `Adadelta.get_updates`, evaluated in float64 with plain Python, on
//! `L(w) = Σ k_i w_i² + w_i` from `w = [1, -2, 0.5]`, `k = [1, 2, 3]`, with
//! `lr = 1`, `rho = 0.95`, `eps = 1e-8`.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::Optimizer;
use filters_are_weights::optim::{Adadelta, AdadeltaConfig};

const REFERENCE: [[f64; 3]; 5] = [
    [9.9955278641e-01, -1.9995527864e+00, 4.9955278641e-01],
    [9.9909994140e-01, -1.9990999320e+00, 4.9910002369e-01],
    [9.9864333236e-01, -1.9986433007e+00, 4.9864360921e-01],
    [9.9818388466e-01, -1.9981838161e+00, 4.9818448428e-01],
    [9.9772214984e-01, -1.9977220286e+00, 4.9772321051e-01],
];

fn run(dtype: DType, tolerance: f64) {
    let dev = Device::Cpu;
    let w = Var::from_tensor(
        &Tensor::new(&[1.0f64, -2.0, 0.5], &dev)
            .unwrap()
            .to_dtype(dtype)
            .unwrap(),
    )
    .unwrap();
    let k = Tensor::new(&[1.0f64, 2.0, 3.0], &dev)
        .unwrap()
        .to_dtype(dtype)
        .unwrap();
    let mut opt = Adadelta::new(vec![w.clone()], AdadeltaConfig::default()).unwrap();
    for (step, expected) in REFERENCE.iter().enumerate() {
        let loss = ((w.as_tensor().sqr().unwrap() * &k).unwrap() + w.as_tensor())
            .unwrap()
            .sum_all()
            .unwrap();
        opt.backward_step(&loss).unwrap();
        let got = w
            .as_tensor()
            .to_dtype(DType::F64)
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        for (g, e) in got.iter().zip(expected) {
            assert!(
                (g - e).abs() < tolerance,
                "{dtype:?} step {}: {got:?} vs {expected:?}",
                step + 1
            );
        }
    }
}

#[test]
fn matches_keras_2_0_reference_in_f64() {
    run(DType::F64, 1e-10);
}

#[test]
fn matches_keras_2_0_reference_in_f32() {
    run(DType::F32, 2e-6);
}

#[test]
fn state_holds_no_autograd_graph() {
    // Gradients carry the graph that computed them; state built from them
    // without detaching would keep every step's graph alive.
    let w = Var::new(&[1f32, 2.], &Device::Cpu).unwrap();
    let mut opt = Adadelta::new(vec![w.clone()], AdadeltaConfig::default()).unwrap();
    for _ in 0..3 {
        let loss = w.as_tensor().sqr().unwrap().sum_all().unwrap();
        opt.backward_step(&loss).unwrap();
    }
    for (a, d) in opt.state().unwrap() {
        assert!(
            !a.track_op() && !d.track_op(),
            "optimizer state tracks an op"
        );
    }
    // A loss of something unrelated to w leaves w unchanged.
    let before = w.as_tensor().to_vec1::<f32>().unwrap();
    let other = Var::new(&[3f32], &Device::Cpu).unwrap();
    opt.backward_step(&other.as_tensor().sqr().unwrap().sum_all().unwrap())
        .unwrap();
    assert_eq!(w.as_tensor().to_vec1::<f32>().unwrap(), before);
}
