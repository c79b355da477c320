//! The two paths of the layers against each other, on the CPU: the fused
//! operations this machine trains with, and the generic ones (candle's
//! tensor operations with Keras' gradients) that other devices run, forced
//! here with `Backend::Generic`. Also the fused gradients on big batches
//! over several threads, a non-square kernel, and dropout (its statistics,
//! and the parallel mask product against candle's `mul`).

use candle_core::{DType, Device, Tensor, Var};
use filters_are_weights::model::MnistCnn;
use filters_are_weights::ops::{self, generic, Backend};
use filters_are_weights::rng::Rng;

fn random(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = Rng::new(seed);
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|_| rng.uniform(-1.0, 1.0) as f64).collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

/// Like an MNIST batch: values in 0..1, mostly exactly 0 (black).
fn sparse_images(shape: &[usize], seed: u64) -> Tensor {
    let t = random(shape, seed);
    (t.relu().unwrap() * 2.0).unwrap().clamp(0.0, 1.0).unwrap()
}

fn values(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap()
}

fn assert_close(a: &Tensor, b: &Tensor, tol: f64, what: &str) {
    assert_eq!(a.dims(), b.dims(), "{what}: shapes");
    let (a, b) = (values(a), values(b));
    let scale = b.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-30);
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(
            (x - y).abs() <= tol * scale,
            "{what}[{i}]: {x} vs {y} (scale {scale})"
        );
    }
}

/// Gradients of `sum(f(vars) * probe)` for each of `vars`.
fn gradients(vars: &[Var], out: &Tensor, probe: &Tensor) -> Vec<Tensor> {
    let grads = (out * probe)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    vars.iter()
        .map(|v| grads.get(v.as_tensor()).expect("a gradient").clone())
        .collect()
}

#[test]
fn generic_layers_give_the_fused_values_and_gradients_ties_included() {
    // Input with many zeros after the ReLU: pooling windows full of ties.
    for (b, h, w, c, o, (kh, kw)) in [(2, 9, 8, 3, 4, (3, 3)), (3, 8, 9, 2, 5, (2, 3))] {
        let x = Var::from_tensor(&random(&[b, h, w, c], 1)).unwrap();
        let k = Var::from_tensor(&random(&[kh, kw, c, o], 2)).unwrap();
        let bias = Var::from_tensor(&(random(&[o], 3) - 1.0).unwrap()).unwrap();
        let vars = [x.clone(), k.clone(), bias.clone()];
        let (xt, kt, bt) = (x.as_tensor(), k.as_tensor(), bias.as_tensor());
        let fused = ops::conv_relu_pool(xt, kt, bt).unwrap();
        let plain = generic::conv_relu_pool(xt, kt, bt).unwrap();
        assert_close(&plain, &fused, 1e-12, "conv_relu_pool values");
        let zeros = values(&fused).iter().filter(|&&v| v == 0.0).count();
        assert!(zeros > 0, "no ReLU zeros, so no ties were tested");
        let probe = random(fused.dims(), 4);
        let gf = gradients(&vars, &fused, &probe);
        let gp = gradients(&vars, &plain, &probe);
        for (i, (f, p)) in gf.iter().zip(&gp).enumerate() {
            assert_close(p, f, 1e-12, &format!("conv_relu_pool gradient {i}"));
        }
        let fused = ops::conv_relu(xt, kt, bt).unwrap();
        let plain = generic::conv_relu(xt, kt, bt).unwrap();
        assert_close(&plain, &fused, 1e-12, "conv_relu values");
        let probe = random(fused.dims(), 5);
        let gf = gradients(&vars, &fused, &probe);
        let gp = gradients(&vars, &plain, &probe);
        for (i, (f, p)) in gf.iter().zip(&gp).enumerate() {
            assert_close(p, f, 1e-12, &format!("conv_relu gradient {i}"));
        }
    }
}

#[test]
fn generic_pooling_follows_keras_where_candle_alone_does_not() {
    // A constant input: every window a four-way tie. Keras: the first one.
    let x =
        Var::from_tensor(&Tensor::ones((1, 4, 4, 1), DType::F64, &Device::Cpu).unwrap()).unwrap();
    let y = generic::max_pool2x2(x.as_tensor()).unwrap();
    let g = y.sum_all().unwrap().backward().unwrap();
    #[rustfmt::skip]
    let expected = [1., 0., 1., 0.,
                    0., 0., 0., 0.,
                    1., 0., 1., 0.,
                    0., 0., 0., 0.];
    assert_eq!(values(g.get(x.as_tensor()).unwrap()), expected);
    // candle's own max gives every tied input the whole gradient.
    let candle = x
        .as_tensor()
        .reshape((1, 2, 2, 2, 2, 1))
        .unwrap()
        .max(4)
        .unwrap()
        .max(2)
        .unwrap();
    let g = candle.sum_all().unwrap().backward().unwrap();
    assert_eq!(values(g.get(x.as_tensor()).unwrap()), vec![1.0; 16]);
    // ReLU at exactly 0: tests/gradients.rs, for both paths.
}

#[test]
fn the_generic_model_gives_the_fused_models_logits_and_gradients() {
    let fused = MnistCnn::new(7, &Device::Cpu)
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap();
    let generic = fused.clone().with_backend(Backend::Generic).unwrap();
    assert_eq!(generic.backend(), Backend::Generic);
    let x = sparse_images(&[8, 1, 28, 28], 8);
    let labels = Tensor::new(&[0u8, 1, 2, 3, 4, 5, 6, 7], &Device::Cpu).unwrap();
    let run = |m: &MnistCnn| {
        // Training mode: the same dropout masks from the same seed.
        m.seed_dropout(Rng::new(9));
        let logits = m.forward_t(&x, true).unwrap();
        let loss = filters_are_weights::train::loss(&logits, &labels).unwrap();
        let grads = loss.backward().unwrap();
        let g: Vec<Tensor> = m
            .vars()
            .iter()
            .map(|v| grads.get(v.as_tensor()).unwrap().clone())
            .collect();
        (logits, g)
    };
    let (lf, gf) = run(&fused);
    let (lg, gg) = run(&generic);
    assert_close(&lg, &lf, 1e-12, "logits");
    for (i, (g, f)) in gg.iter().zip(&gf).enumerate() {
        assert_close(g, f, 1e-10, &format!("gradient of weight {i}"));
    }
}

#[test]
fn fused_gradients_equal_the_unfused_ones_on_64_images_over_several_threads() {
    // The partial sums over images and threads, at the network's own shapes.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap();
    pool.install(|| {
        let x = Var::from_tensor(&sparse_images(&[64, 26, 26, 32], 11)).unwrap();
        let k = Var::from_tensor(&(random(&[3, 3, 32, 64], 12) * 0.1).unwrap()).unwrap();
        let bias = Var::from_tensor(&(random(&[64], 13) * 0.1).unwrap()).unwrap();
        let vars = [x.clone(), k.clone(), bias.clone()];
        let (xt, kt, bt) = (x.as_tensor(), k.as_tensor(), bias.as_tensor());
        let fused = ops::conv_relu_pool(xt, kt, bt).unwrap();
        let plain = ops::max_pool2x2(
            &ops::relu(&ops::conv2d_with_bias(xt, kt, Some(bt)).unwrap()).unwrap(),
        )
        .unwrap();
        assert_close(&fused, &plain, 1e-12, "values");
        let probe = random(fused.dims(), 14);
        let gf = gradients(&vars, &fused, &probe);
        let gp = gradients(&vars, &plain, &probe);
        for (i, (f, p)) in gf.iter().zip(&gp).enumerate() {
            assert_close(f, p, 1e-11, &format!("gradient {i}"));
        }
        // The first layer's block on 64 digits: the filters' gradient.
        let images = sparse_images(&[64, 28, 28, 1], 15);
        let k1 = Var::from_tensor(&random(&[3, 3, 1, 32], 16)).unwrap();
        let b1 = Var::from_tensor(&(random(&[32], 17) * 0.1).unwrap()).unwrap();
        let fused = ops::conv_relu(&images, k1.as_tensor(), b1.as_tensor()).unwrap();
        let plain = generic::conv_relu(&images, k1.as_tensor(), b1.as_tensor()).unwrap();
        let probe = random(fused.dims(), 18);
        let vars = [k1.clone(), b1.clone()];
        let gf = gradients(&vars, &fused, &probe);
        let gp = gradients(&vars, &plain, &probe);
        for (i, (f, p)) in gf.iter().zip(&gp).enumerate() {
            assert_close(f, p, 1e-11, &format!("conv1 gradient {i}"));
        }
    });
}

#[test]
fn a_non_square_kernel_in_the_fused_blocks() {
    // 2x3 and 3x2 kernels take the matrix-product path (Winograd is 3x3 only).
    for (kh, kw) in [(2, 3), (3, 2)] {
        let x = Var::from_tensor(&random(&[3, 8, 9, 2], 21)).unwrap();
        let k = Var::from_tensor(&random(&[kh, kw, 2, 3], 22)).unwrap();
        let bias = Var::from_tensor(&(random(&[3], 23) * 0.3).unwrap()).unwrap();
        let vars = [x.clone(), k.clone(), bias.clone()];
        let (xt, kt, bt) = (x.as_tensor(), k.as_tensor(), bias.as_tensor());
        let fused = ops::conv_relu_pool(xt, kt, bt).unwrap();
        let (oh, ow) = (8 - kh + 1, 9 - kw + 1);
        assert_eq!(fused.dims(), &[3, oh / 2, ow / 2, 3]);
        let plain = generic::conv_relu_pool(xt, kt, bt).unwrap();
        assert_close(&fused, &plain, 1e-12, "values");
        let probe = random(fused.dims(), 24);
        let gf = gradients(&vars, &fused, &probe);
        let gp = gradients(&vars, &plain, &probe);
        for (i, (f, p)) in gf.iter().zip(&gp).enumerate() {
            assert_close(f, p, 1e-12, &format!("{kh}x{kw} gradient {i}"));
        }
    }
}

#[test]
fn dropout_keeps_about_one_minus_p_and_scales_by_its_inverse() {
    use filters_are_weights::model::dropout;
    let n = 64 * 9216;
    let x = Tensor::ones((64, 9216), DType::F32, &Device::Cpu).unwrap();
    for p in [0.25f32, 0.5] {
        let y = dropout(&x, p, &mut Rng::new(42)).unwrap();
        let v = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let kept = v.iter().filter(|&&a| a != 0.0).count();
        // A kept unit is scaled by 1 / (1 - p), so the mean stays 1.
        let scale = 1.0 / (1.0 - p);
        assert!(
            v.iter().all(|&a| a == 0.0 || a == scale),
            "p {p}: other values"
        );
        // Binomial(n, 1 - p): within 5 standard deviations.
        let expected = n as f64 * (1.0 - p as f64);
        let sd = (n as f64 * p as f64 * (1.0 - p as f64)).sqrt();
        assert!(
            (kept as f64 - expected).abs() < 5.0 * sd,
            "p {p}: kept {kept} of {n}, expected {expected:.0} ± {:.0}",
            5.0 * sd
        );
        // Every image gets its own mask; the same seed gives the same masks.
        let rows = y.to_vec2::<f32>().unwrap();
        assert_ne!(rows[0], rows[1], "two images share a mask");
        let again = dropout(&x, p, &mut Rng::new(42)).unwrap();
        assert_eq!(again.flatten_all().unwrap().to_vec1::<f32>().unwrap(), v);
    }
}

#[test]
fn the_parallel_mask_product_equals_candles_mul_values_and_gradients() {
    // ops::mul_mask (dropout's product on the CPU) against the tensor
    // product other devices run, in f32 and f64, over several tasks.
    let mut rng = Rng::new(9);
    let shape = (70, 12, 12, 64);
    let n = 70 * 12 * 12 * 64;
    let mask: Vec<f32> = (0..n)
        .map(|_| {
            if rng.next_f32() < 0.25 {
                0.0
            } else {
                4.0 / 3.0
            }
        })
        .collect();
    for dtype in [DType::F32, DType::F64] {
        let x = Var::from_tensor(&random(&[70, 12, 12, 64], 3).to_dtype(dtype).unwrap()).unwrap();
        let probe = random(&[70, 12, 12, 64], 4).to_dtype(dtype).unwrap();
        let fused = ops::mul_mask(&x, mask.clone()).unwrap();
        let m = Tensor::from_vec(mask.clone(), shape, &Device::Cpu)
            .unwrap()
            .to_dtype(dtype)
            .unwrap();
        let plain = x.mul(&m).unwrap();
        assert_eq!(values(&fused), values(&plain), "{dtype:?}: values");
        let (gf, gp) = (
            gradients(std::slice::from_ref(&x), &fused, &probe),
            gradients(std::slice::from_ref(&x), &plain, &probe),
        );
        assert_eq!(values(&gf[0]), values(&gp[0]), "{dtype:?}: gradients");
    }
    let x = Tensor::ones((2, 3), DType::F32, &Device::Cpu).unwrap();
    let err = ops::mul_mask(&x, vec![1.0; 5]).unwrap_err().to_string();
    assert!(err.contains("mask of 5 values"), "{err}");
}

#[test]
fn each_channels_peak_is_found_alike_by_both_paths_and_by_a_plain_scan() {
    // conv2's shapes, f32 as the model computes; one image all black, so
    // that every channel ties at 0 (or at its bias) everywhere.
    let x = sparse_images(&[6, 26, 26, 32], 11)
        .to_dtype(DType::F32)
        .unwrap();
    let x = Tensor::cat(
        &[
            x,
            Tensor::zeros((1, 26, 26, 32), DType::F32, &Device::Cpu).unwrap(),
        ],
        0,
    )
    .unwrap();
    let w = (random(&[3, 3, 32, 64], 12) * 0.2)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap();
    let b = (random(&[64], 13) * 0.1)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap();
    let fused = Backend::Fused.conv_relu_peaks(&x, &w, &b).unwrap();
    let plain = Backend::Generic.conv_relu_peaks(&x, &w, &b).unwrap();
    assert_eq!(fused.dims(), &[7, 2, 64]);
    let maps = values(&generic::conv_relu(&x, &w, &b).unwrap()); // [7, 24, 24, 64]
    let (fused, plain) = (values(&fused), values(&plain));
    for n in 0..7 {
        for ch in 0..64 {
            let (fv, fp) = (fused[n * 128 + ch], fused[n * 128 + 64 + ch] as usize);
            let (pv, pp) = (plain[n * 128 + ch], plain[n * 128 + 64 + ch] as usize);
            let scan = (0..576).map(|p| maps[(n * 576 + p) * 64 + ch]);
            let top = scan.clone().fold(f64::NEG_INFINITY, f64::max);
            let first = scan.clone().position(|v| v == top).unwrap();
            assert_eq!(
                (pv, pp),
                (top, first),
                "image {n}, channel {ch}: the generic path"
            );
            assert!(
                (fv - top).abs() < 1e-5,
                "image {n}, channel {ch}: {fv} against {top}"
            );
            // The same position, unless Winograd's rounding parts a near tie.
            let at_fused = maps[(n * 576 + fp) * 64 + ch];
            assert!(
                fp == first || (top - at_fused).abs() < 1e-5,
                "image {n}, channel {ch}"
            );
        }
    }
    // The black image: every position ties; the first one is kept.
    assert!((0..64).all(|ch| fused[6 * 128 + 64 + ch] == 0.0));
    // An odd-sized output (5 × 7) and a 2 × 2 kernel: no Winograd, the
    // direct convolution one image at a time; the same as the plain scan.
    let x = sparse_images(&[3, 6, 8, 2], 14)
        .to_dtype(DType::F32)
        .unwrap();
    let w = random(&[2, 2, 2, 4], 15).to_dtype(DType::F32).unwrap();
    let b = (random(&[4], 16) * 0.1)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap();
    let fused = values(&Backend::Fused.conv_relu_peaks(&x, &w, &b).unwrap());
    let plain = values(&Backend::Generic.conv_relu_peaks(&x, &w, &b).unwrap());
    assert_eq!(fused.len(), 3 * 2 * 4);
    for (i, (f, p)) in fused.iter().zip(&plain).enumerate() {
        assert!((f - p).abs() < 1e-5, "entry {i}: {f} against {p}");
    }
}
