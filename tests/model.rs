//! Keras' mnist_cnn: its size, shapes, initialisation and checkpoints.

use candle_core::{DType, Device, Tensor};
use filters_are_weights::model::{MnistCnn, PARAMETER_NAMES};

#[test]
fn it_has_kerass_parameter_count_and_shapes() {
    let m = MnistCnn::new(0, &Device::Cpu).unwrap();
    // Keras' model.summary(): 320 + 18,496 + 1,179,776 + 1,290.
    assert_eq!(m.parameter_count(), 1_199_882);
    let x = Tensor::rand(0f32, 1., (3, 1, 28, 28), &Device::Cpu).unwrap();
    assert_eq!(m.forward_t(&x, false).unwrap().dims(), &[3, 10]);
    assert_eq!(m.conv1_filters().unwrap().dims(), &[32, 1, 3, 3]);
    assert_eq!(m.predict(&x).unwrap().dims(), &[3]);
}

#[test]
fn kernels_start_glorot_uniform_and_biases_zero() {
    let m = MnistCnn::new(5, &Device::Cpu).unwrap();
    let limits = [
        (6.0f32 / (9. + 288.)).sqrt(),
        (6.0f32 / (288. + 576.)).sqrt(),
        (6.0f32 / (9216. + 128.)).sqrt(),
        (6.0f32 / (128. + 10.)).sqrt(),
    ];
    for (i, limit) in limits.iter().enumerate() {
        let k = m.vars()[2 * i]
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let max = k.iter().fold(0f32, |a, v| a.max(v.abs()));
        assert!(
            max <= *limit && max > 0.9 * limit,
            "layer {i}: max {max}, limit {limit}"
        );
        let mean = k.iter().sum::<f32>() / k.len() as f32;
        assert!(mean.abs() < limit / 5.0, "layer {i}: mean {mean}");
        let b = m.vars()[2 * i + 1]
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert!(b.iter().all(|&v| v == 0.0));
    }
    let other = MnistCnn::new(6, &Device::Cpu).unwrap();
    assert_ne!(
        m.conv1_filter_values().unwrap(),
        other.conv1_filter_values().unwrap()
    );
}

#[test]
fn conv1_filters_are_the_first_kernel_transposed() {
    let m = MnistCnn::new(1, &Device::Cpu).unwrap();
    let k = m.vars()[0].as_tensor().clone(); // [3, 3, 1, 32]
    let f = m.conv1_filters().unwrap(); // [32, 1, 3, 3]
    for (o, r, c) in [(0, 0, 0), (5, 1, 2), (31, 2, 1)] {
        let a = k
            .get(r)
            .unwrap()
            .get(c)
            .unwrap()
            .get(0)
            .unwrap()
            .get(o)
            .unwrap();
        let b = f
            .get(o)
            .unwrap()
            .get(0)
            .unwrap()
            .get(r)
            .unwrap()
            .get(c)
            .unwrap();
        assert_eq!(a.to_scalar::<f32>().unwrap(), b.to_scalar::<f32>().unwrap());
    }
}

#[test]
fn dropout_only_in_training() {
    let m = MnistCnn::new(2, &Device::Cpu).unwrap();
    let x = Tensor::rand(0f32, 1., (4, 1, 28, 28), &Device::Cpu).unwrap();
    let a = m.forward_t(&x, false).unwrap().to_vec2::<f32>().unwrap();
    let b = m.forward_t(&x, false).unwrap().to_vec2::<f32>().unwrap();
    assert_eq!(a, b);
    m.seed_dropout(filters_are_weights::rng::Rng::new(1));
    let c = m.forward_t(&x, true).unwrap().to_vec2::<f32>().unwrap();
    assert_ne!(a, c);
    // The same stream, the same masks: a training pass can be repeated.
    m.seed_dropout(filters_are_weights::rng::Rng::new(1));
    let d = m.forward_t(&x, true).unwrap().to_vec2::<f32>().unwrap();
    assert_eq!(c, d);
}

#[test]
fn fused_forward_gives_the_logits_of_the_layer_by_layer_one() {
    // forward_t() fuses conv2, its ReLU and the pooling; activations() runs
    // each layer on its own (to show them). Both must end with the same logits.
    let m = MnistCnn::new(4, &Device::Cpu).unwrap();
    let x = Tensor::rand(0f32, 1., (3, 1, 28, 28), &Device::Cpu).unwrap();
    let fused = m.forward_t(&x, false).unwrap().flatten_all().unwrap();
    let layers = m.activations(&x).unwrap();
    let (name, last) = layers.last().unwrap();
    assert!(name.contains("logits"));
    let diff = (fused - last.flatten_all().unwrap()).unwrap();
    let max = diff
        .abs()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(
        max < 1e-5,
        "fused and layer-by-layer logits differ by {max}"
    );
}

#[test]
fn save_and_load_round_trip_and_bad_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let m = MnistCnn::new(3, &Device::Cpu).unwrap();
    m.save(&path).unwrap();
    let back = MnistCnn::load(&path, &Device::Cpu).unwrap();
    let x = Tensor::rand(0f32, 1., (2, 1, 28, 28), &Device::Cpu).unwrap();
    assert_eq!(
        m.forward_t(&x, false).unwrap().to_vec2::<f32>().unwrap(),
        back.forward_t(&x, false).unwrap().to_vec2::<f32>().unwrap()
    );

    // A checkpoint of another shape.
    let mut tensors = m.named_tensors();
    tensors.insert(
        PARAMETER_NAMES[0].to_string(),
        Tensor::zeros((5, 5, 1, 32), DType::F32, &Device::Cpu).unwrap(),
    );
    let other = dir.path().join("other.safetensors");
    candle_core::safetensors::save(&tensors, &other).unwrap();
    let msg = MnistCnn::load(&other, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("other.safetensors")
            && msg.contains("conv1.kernel")
            && msg.contains("[5, 5, 1, 32]"),
        "{msg}"
    );

    // Not a safetensors file; a missing file.
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"hello").unwrap();
    let msg = MnistCnn::load(&junk, &Device::Cpu).unwrap_err().to_string();
    assert!(
        msg.contains("junk.safetensors") && msg.contains("not a readable safetensors"),
        "{msg}"
    );
    let msg = MnistCnn::load(dir.path().join("none"), &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("no such file"), "{msg}");
}

#[test]
fn summary_lists_each_layer_with_shape_and_parameters() {
    let m = MnistCnn::new(0, &Device::Cpu).unwrap();
    let s = m.summary().unwrap();
    for expected in [
        "conv1 3x3 + relu       [26, 26, 32]              320",
        "conv2 3x3 + relu       [24, 24, 64]            18496",
        "max-pool 2x2           [12, 12, 64]                0",
        "flatten                [9216]                      0",
        "dense1 + relu          [128]                 1179776",
        "dense2 (logits)        [10]                     1290",
        "total                                        1199882",
    ] {
        assert!(s.contains(expected), "missing {expected:?} in\n{s}");
    }
}
