//! Beyond the post: nearest classic kernels, feature maps, predictions.

use candle_core::{Device, Tensor};
use filters_are_weights::analysis::{
    centred_cosine, classic_filters, feature_maps, nearest_classic, Predictions,
};
use filters_are_weights::kernels::{Kernel, CLASSIC};

#[test]
fn centred_cosine_ignores_scale_and_offset_but_not_sign() {
    let a = [1f32, 0., -1., 2., 0., -2., 1., 0., -1.];
    let scaled: Vec<f32> = a.iter().map(|v| 3.0 * v + 5.0).collect();
    assert!((centred_cosine(&a, &scaled) - 1.0).abs() < 1e-6);
    let flipped: Vec<f32> = a.iter().map(|v| -v).collect();
    assert!((centred_cosine(&a, &flipped) + 1.0).abs() < 1e-6);
    // Left sobel against top sobel: perpendicular edges, no resemblance.
    let top = Kernel::by_name("top sobel").unwrap().weights.concat();
    assert!(centred_cosine(&a, &top).abs() < 1e-6);
    assert_eq!(centred_cosine(&a, &[2.0; 9]), 0.0);
}

#[test]
fn each_classic_kernel_is_its_own_nearest() {
    // Noise-free classic kernels (identity excepted) find themselves with score 1.
    let matches = nearest_classic(&classic_filters().unwrap()).unwrap();
    for (m, k) in matches.iter().zip(CLASSIC.iter()) {
        if k.name == "identity" {
            // Centred, identity is outline / 9.
            assert_eq!(m.kernel.name, "outline");
        } else {
            assert_eq!(m.kernel.name, k.name);
        }
        assert!((m.score - 1.0).abs() < 1e-5, "{}: {}", k.name, m.score);
    }
    // A slightly perturbed left sobel is still nearest to left sobel.
    let mut v = Kernel::by_name("left sobel").unwrap().weights.concat();
    v[4] += 0.3;
    v[0] -= 0.2;
    let t = Tensor::from_vec(v, (1, 1, 3, 3), &Device::Cpu).unwrap();
    let m = &nearest_classic(&t).unwrap()[0];
    assert_eq!(m.kernel.name, "left sobel");
    assert!(m.score > 0.9 && m.score < 1.0, "{}", m.score);
}

#[test]
fn feature_maps_equal_applying_each_kernel() {
    let picture = Tensor::rand(0f32, 1., (9, 7), &Device::Cpu).unwrap();
    let maps = feature_maps(&picture, &classic_filters().unwrap()).unwrap();
    assert_eq!(maps.dims(), &[9, 7, 5]);
    for (i, k) in CLASSIC.iter().enumerate() {
        let one = k.filter(&picture).unwrap().flatten_all().unwrap();
        let map = maps.get(i).unwrap().flatten_all().unwrap();
        let (one, map) = (one.to_vec1::<f32>().unwrap(), map.to_vec1::<f32>().unwrap());
        for (a, b) in map.iter().zip(&one) {
            assert!((a - b).abs() < 1e-5, "{}: {a} vs {b}", k.name);
        }
    }
}

#[test]
fn predictions_count_mistakes_and_confusions() {
    let p = Predictions {
        labels: vec![1, 2, 3, 3, 7],
        predicted: vec![1, 7, 3, 8, 7],
        dataset: filters_are_weights::data::Dataset::Mnist,
    };
    assert_eq!(p.mistakes(), vec![1, 3]);
    assert!((p.accuracy() - 0.6).abs() < 1e-6);
    let m = p.confusion_matrix();
    assert_eq!(
        (m[1][1], m[2][7], m[3][3], m[3][8], m[7][7]),
        (1, 1, 1, 1, 1)
    );
    assert_eq!(m.iter().flatten().sum::<usize>(), 5);
}

#[test]
fn resemblance_summarises_the_nearest_matches() {
    // The classic kernels resemble themselves perfectly.
    let (mean, close) =
        filters_are_weights::analysis::resemblance(&classic_filters().unwrap(), 0.8).unwrap();
    assert!((mean - 1.0).abs() < 1e-5, "{mean}");
    assert_eq!(close, 9);
    // Constant filters resemble nothing.
    let flat = Tensor::ones((4, 1, 3, 3), candle_core::DType::F32, &Device::Cpu).unwrap();
    assert_eq!(
        filters_are_weights::analysis::resemblance(&flat, 0.8).unwrap(),
        (0.0, 0)
    );
}
