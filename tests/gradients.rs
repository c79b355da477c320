//! The hand-written layers against candle's own operations (forward) and
//! against finite differences (gradients), in f64.

use candle_core::{DType, Device, Tensor, Var};
use filters_are_weights::ops::{conv2d, conv2d_with_bias, max_pool2x2};
use filters_are_weights::rng::Rng;

fn random(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = Rng::new(seed);
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|_| rng.uniform(-1.0, 1.0) as f64).collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

fn values(t: &Tensor) -> Vec<f64> {
    t.flatten_all().unwrap().to_vec1::<f64>().unwrap()
}

fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{what}[{i}]: {x} vs {y}"
        );
    }
}

/// Checks d(sum(f(vars) * probe))/d(vars) against central differences.
fn check_gradients(vars: &[Var], f: impl Fn() -> Tensor, seed: u64) {
    let out = f();
    let probe = random(out.dims(), seed); // makes every output count differently
    let loss = |out: &Tensor| (out * &probe).unwrap().sum_all().unwrap();
    let grads = loss(&out).backward().unwrap();
    let h = 1e-6;
    for (k, var) in vars.iter().enumerate() {
        let analytic = values(grads.get(var.as_tensor()).expect("a gradient"));
        let base = values(var.as_tensor());
        let mut numeric = Vec::with_capacity(base.len());
        for i in 0..base.len() {
            let at = |delta: f64| {
                let mut v = base.clone();
                v[i] += delta;
                var.set(&Tensor::from_vec(v, var.dims(), &Device::Cpu).unwrap())
                    .unwrap();
                loss(&f()).to_scalar::<f64>().unwrap()
            };
            numeric.push((at(h) - at(-h)) / (2.0 * h));
        }
        var.set(&Tensor::from_vec(base, var.dims(), &Device::Cpu).unwrap())
            .unwrap();
        assert_close(
            &analytic,
            &numeric,
            1e-6,
            &format!("gradient of variable {k}"),
        );
    }
}

#[test]
fn conv2d_matches_candles_conv2d() {
    for (b, h, w, c, o, k) in [
        (2, 7, 6, 3, 4, 3),
        (1, 28, 28, 1, 32, 3),
        (3, 5, 5, 2, 1, 2),
    ] {
        let x = random(&[b, h, w, c], 1);
        let kernel = random(&[k, k, c, o], 2);
        let ours = conv2d(&x, &kernel).unwrap();
        let candle = x
            .permute((0, 3, 1, 2))
            .unwrap()
            .conv2d(&kernel.permute((3, 2, 0, 1)).unwrap(), 0, 1, 1, 1)
            .unwrap()
            .permute((0, 2, 3, 1))
            .unwrap();
        assert_eq!(ours.dims(), candle.dims());
        assert_close(&values(&ours), &values(&candle), 1e-12, "conv2d");
        let bias = random(&[o], 3);
        let ours = conv2d_with_bias(&x, &kernel, Some(&bias)).unwrap();
        let candle = candle.broadcast_add(&bias).unwrap();
        assert_close(&values(&ours), &values(&candle), 1e-12, "conv2d + bias");
    }
}

#[test]
fn conv2d_gradients_match_finite_differences() {
    let x = Var::from_tensor(&random(&[2, 5, 6, 3], 4)).unwrap();
    let w = Var::from_tensor(&random(&[3, 3, 3, 2], 5)).unwrap();
    let b = Var::from_tensor(&random(&[2], 6)).unwrap();
    check_gradients(
        &[x.clone(), w.clone(), b.clone()],
        || conv2d_with_bias(x.as_tensor(), w.as_tensor(), Some(b.as_tensor())).unwrap(),
        7,
    );
}

#[test]
fn max_pool_matches_candle_forward() {
    let x = random(&[2, 6, 8, 3], 8);
    let ours = max_pool2x2(&x).unwrap();
    let candle = x
        .permute((0, 3, 1, 2))
        .unwrap()
        .max_pool2d(2)
        .unwrap()
        .permute((0, 2, 3, 1))
        .unwrap();
    assert_close(&values(&ours), &values(&candle), 0.0, "max-pool");
    // An odd size drops the last row and column, as Keras does.
    assert_eq!(
        max_pool2x2(&random(&[1, 5, 7, 1], 9)).unwrap().dims(),
        &[1, 2, 3, 1]
    );
}

#[test]
fn max_pool_gradient_matches_finite_differences() {
    // Random values: every window has a unique maximum.
    let x = Var::from_tensor(&random(&[2, 4, 6, 3], 10)).unwrap();
    check_gradients(
        std::slice::from_ref(&x),
        || max_pool2x2(x.as_tensor()).unwrap(),
        11,
    );
}

#[test]
fn max_pool_gradient_is_whole_not_a_quarter() {
    // The gradient of sum(max_pool2x2(x)) for one 2x2 window `x` [1, 2, 2, 1].
    let grad_of = |window: [f64; 4]| {
        let x = Var::from_tensor(
            &Tensor::new(&window, &Device::Cpu)
                .unwrap()
                .reshape((1, 2, 2, 1))
                .unwrap(),
        )
        .unwrap();
        let loss = max_pool2x2(x.as_tensor()).unwrap().sum_all().unwrap();
        values(loss.backward().unwrap().get(x.as_tensor()).unwrap())
    };
    // candle 0.9's own max_pool2d backward gives 0.25 here; the maximum
    // should get the whole gradient.
    assert_eq!(grad_of([1., 4., 2., 3.]), vec![0., 1., 0., 0.]);
    // Ties: the first maximum takes it, as in Keras and PyTorch.
    assert_eq!(grad_of([5., 5., 5., 1.]), vec![1., 0., 0., 0.]);
}

#[test]
fn whole_model_gradient_matches_finite_differences_on_a_few_weights() {
    // The whole network in f64, checked on a few weights of every layer.
    use filters_are_weights::model::MnistCnn;
    let m = MnistCnn::new(3, &Device::Cpu)
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap();
    let x = random(&[3, 1, 28, 28], 12).abs().unwrap();
    let labels = Tensor::new(&[1u8, 7, 3], &Device::Cpu).unwrap();
    let loss =
        || filters_are_weights::train::loss(&m.forward_t(&x, false).unwrap(), &labels).unwrap();
    let grads = loss().backward().unwrap();
    let h = 1e-6;
    for (k, var) in m.vars().iter().enumerate() {
        let analytic = values(grads.get(var.as_tensor()).unwrap());
        let base = values(var.as_tensor());
        for i in [0, base.len() / 3, base.len() - 1] {
            let at = |d: f64| {
                let mut v = base.clone();
                v[i] += d;
                var.set(&Tensor::from_vec(v, var.dims(), &Device::Cpu).unwrap())
                    .unwrap();
                loss().to_scalar::<f64>().unwrap()
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h);
            var.set(&Tensor::from_vec(base.clone(), var.dims(), &Device::Cpu).unwrap())
                .unwrap();
            assert_close(
                &[analytic[i]],
                &[numeric],
                1e-5,
                &format!("variable {k}, weight {i}"),
            );
        }
    }
}

#[test]
fn relu_matches_candle_forward_and_tensorflow_gradient() {
    use filters_are_weights::ops::relu;
    let x = random(&[3, 4, 5], 13);
    assert_close(
        &values(&relu(&x).unwrap()),
        &values(&x.relu().unwrap()),
        0.0,
        "relu",
    );
    // Away from 0 the gradient is 1 or 0: finite differences agree.
    let v = Var::from_tensor(&random(&[2, 3, 4], 14)).unwrap();
    check_gradients(
        std::slice::from_ref(&v),
        || relu(v.as_tensor()).unwrap(),
        15,
    );
    // At exactly 0 no gradient passes, as in TensorFlow (features > 0), on
    // the CPU path and on the generic one other devices run.
    use filters_are_weights::ops::generic;
    for relu in [relu, generic::relu] {
        let z = Var::new(&[0f64, 2.0, -1.0], &Device::Cpu).unwrap();
        let g = relu(z.as_tensor())
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        assert_eq!(values(g.get(z.as_tensor()).unwrap()), vec![0., 1., 0.]);
    }
}

/// The fused blocks against the layers they fuse, on the shapes of the
/// network and on odd ones (an odd output size drops the last row/column).
const BLOCK_SHAPES: [(usize, usize, usize, usize, usize, usize); 4] = [
    (2, 7, 6, 3, 4, 3),
    (1, 28, 28, 1, 32, 3),
    (3, 26, 26, 32, 64, 3),
    (2, 6, 7, 2, 3, 2),
];

#[test]
fn fused_blocks_match_the_layers_they_fuse() {
    use filters_are_weights::ops::{conv_relu, conv_relu_pool, relu};
    for (b, h, w, c, o, k) in BLOCK_SHAPES {
        let x = random(&[b, h, w, c], 11);
        let kernel = random(&[k, k, c, o], 12);
        let bias = random(&[o], 13);
        let plain = relu(&conv2d_with_bias(&x, &kernel, Some(&bias)).unwrap()).unwrap();
        let fused = conv_relu(&x, &kernel, &bias).unwrap();
        assert_eq!(fused.dims(), plain.dims());
        assert_close(&values(&fused), &values(&plain), 1e-12, "conv_relu");
        let pooled = max_pool2x2(&plain).unwrap();
        let fused = conv_relu_pool(&x, &kernel, &bias).unwrap();
        assert_eq!(fused.dims(), pooled.dims());
        assert_close(&values(&fused), &values(&pooled), 1e-12, "conv_relu_pool");
        // And in f32, the dtype of training.
        let f32s = |t: &Tensor| t.to_dtype(DType::F32).unwrap();
        let fused = conv_relu_pool(&f32s(&x), &f32s(&kernel), &f32s(&bias)).unwrap();
        let fused = values(&fused.to_dtype(DType::F64).unwrap());
        assert_close(&fused, &values(&pooled), 1e-4, "conv_relu_pool f32");
    }
}

#[test]
fn fused_blocks_gradients_match_finite_differences_and_the_unfused_layers() {
    use filters_are_weights::ops::{conv_relu, conv_relu_pool, relu};
    for (b, h, w, c, o, k) in [(2, 7, 6, 3, 4, 3), (1, 6, 7, 2, 3, 2)] {
        let x = Var::from_tensor(&random(&[b, h, w, c], 21)).unwrap();
        let kernel = Var::from_tensor(&random(&[k, k, c, o], 22)).unwrap();
        // Biases that keep some outputs at or below zero and some above.
        let bias = Var::from_tensor(&(random(&[o], 23) * 0.5).unwrap()).unwrap();
        let vars = [x.clone(), kernel.clone(), bias.clone()];
        let args = || (x.as_tensor(), kernel.as_tensor(), bias.as_tensor());
        let block1 = || {
            let (x, w, b) = args();
            conv_relu(x, w, b).unwrap()
        };
        let block2 = || {
            let (x, w, b) = args();
            conv_relu_pool(x, w, b).unwrap()
        };
        check_gradients(&vars, block1, 24);
        check_gradients(&vars, block2, 25);
        // The same gradients as autograd through the unfused layers.
        let probe = random(block2().dims(), 26);
        let fused = (block2() * &probe).unwrap().sum_all().unwrap();
        let (xt, wt, bt) = args();
        let plain = max_pool2x2(&relu(&conv2d_with_bias(xt, wt, Some(bt)).unwrap()).unwrap());
        let plain = (plain.unwrap() * &probe).unwrap().sum_all().unwrap();
        let (gf, gp) = (fused.backward().unwrap(), plain.backward().unwrap());
        for (i, v) in vars.iter().enumerate() {
            let (f, p) = (
                gf.get(v.as_tensor()).unwrap(),
                gp.get(v.as_tensor()).unwrap(),
            );
            assert_close(&values(f), &values(p), 1e-12, &format!("gradient {i}"));
        }
    }
}

#[test]
fn fused_blocks_give_no_gradient_to_an_input_that_needs_none() {
    use filters_are_weights::ops::{conv_relu, conv_relu_pool};
    let x = random(&[2, 8, 8, 1], 31); // like the images: a plain tensor
    let kernel = Var::from_tensor(&random(&[3, 3, 1, 4], 32)).unwrap();
    let bias = Var::from_tensor(&random(&[4], 33)).unwrap();
    let (w, b) = (kernel.as_tensor(), bias.as_tensor());
    let y = conv_relu(&x, w, b).unwrap();
    let y = conv_relu_pool(&y, &random(&[3, 3, 4, 2], 34), &random(&[2], 35)).unwrap();
    let grads = y.sum_all().unwrap().backward().unwrap();
    assert!(grads.get(&x).is_none(), "the images got a gradient");
    assert!(grads.get(w).is_some() && grads.get(b).is_some());
}

#[test]
fn max_pool_ties_go_to_the_first_position_in_the_fused_block_too() {
    use filters_are_weights::ops::conv_relu_pool;
    // A 1x1 kernel of 1 on a constant image: every window is a four-way tie.
    let x =
        Var::from_tensor(&Tensor::ones((1, 4, 4, 1), DType::F64, &Device::Cpu).unwrap()).unwrap();
    let w = Tensor::ones((1, 1, 1, 1), DType::F64, &Device::Cpu).unwrap();
    let b = Tensor::zeros(1, DType::F64, &Device::Cpu).unwrap();
    let y = conv_relu_pool(x.as_tensor(), &w, &b).unwrap();
    let grads = y.sum_all().unwrap().backward().unwrap();
    let g = values(grads.get(x.as_tensor()).unwrap());
    #[rustfmt::skip]
    let expected = [1., 0., 1., 0.,
                    0., 0., 0., 0.,
                    1., 0., 1., 0.,
                    0., 0., 0., 0.];
    assert_eq!(g, expected);
}

#[test]
fn the_filter_step_shows_the_true_gradient_and_adadeltas_first_step() {
    // In float64, on 4 images: the gradient of every filter that
    // Trainer::filter_step reports, against central differences of the same
    // loss (the same dropout masks, from the same stream).
    use filters_are_weights::model::MnistCnn;
    use filters_are_weights::rng::Rng;
    use filters_are_weights::train::{loss, Progress, TrainConfig, Trainer};
    let model = || {
        MnistCnn::new(3, &Device::Cpu)
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
    };
    let x = random(&[4, 1, 28, 28], 41).abs().unwrap();
    let labels = Tensor::new(&[1u8, 7, 3, 0], &Device::Cpu).unwrap();
    let config = TrainConfig {
        progress: Progress::Silent,
        ..TrainConfig::with_epochs(1)
    };
    let mut trainer = Trainer::new(model(), config).unwrap();
    trainer.model.seed_dropout(Rng::new(5));
    let step = trainer.filter_step(&x, &labels).unwrap();
    assert_eq!(step.gradient.dims(), &[32, 1, 3, 3]);
    let g = values(&step.gradient);

    let m = model();
    let kernel = m.vars()[0].clone(); // [3, 3, 1, 32]
    let base = values(kernel.as_tensor());
    let loss_at = |v: Vec<f64>| {
        kernel
            .set(&Tensor::from_vec(v, (3, 3, 1, 32), &Device::Cpu).unwrap())
            .unwrap();
        m.seed_dropout(Rng::new(5));
        let logits = m.forward_t(&x, true).unwrap();
        loss(&logits, &labels).unwrap().to_scalar::<f64>().unwrap()
    };
    let h = 1e-6;
    for (o, r, c) in [(0, 0, 0), (7, 1, 2), (19, 2, 1), (31, 1, 1)] {
        let i = (r * 3 + c) * 32 + o; // kernel [r, c, 0, o]
        let mut up = base.clone();
        up[i] += h;
        let mut down = base.clone();
        down[i] -= h;
        let numeric = (loss_at(up) - loss_at(down)) / (2.0 * h);
        let analytic = g[o * 9 + r * 3 + c]; // gradient [o, 0, r, c]
        assert_close(
            &[analytic],
            &[numeric],
            1e-5,
            &format!("filter {o} ({r}, {c})"),
        );
    }
    // Adadelta's first step from zero averages: u = g·sqrt(eps) / sqrt((1 - rho)·g² + eps),
    // the weight moves by -lr·u; and the update is after - before.
    let update = values(&step.update);
    for (i, (&g, &u)) in g.iter().zip(&update).enumerate() {
        let expected = -g * 1e-8f64.sqrt() / (0.05 * g * g + 1e-8).sqrt();
        assert!(
            (u - expected).abs() < 1e-12,
            "weight {i}: update {u}, Adadelta {expected}"
        );
    }
    let moved = (&step.after - &step.before).unwrap();
    assert_close(&values(&moved), &update, 1e-12, "after - before");
    assert!(step.loss > 0.0);
}
