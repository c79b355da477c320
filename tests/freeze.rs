//! Filters set by hand and frozen: training leaves them bit for bit as they
//! were and trains every other weight around them.

mod common;

use candle_core::Device;
use filters_are_weights::kernels::{Kernel, CLASSIC};
use filters_are_weights::model::MnistCnn;
use filters_are_weights::rng::Rng;
use filters_are_weights::train::{Progress, TrainConfig, Trainer};

fn config(frozen: Vec<usize>) -> TrainConfig {
    TrainConfig {
        frozen_filters: frozen,
        progress: Progress::Silent,
        ..TrainConfig::with_epochs(1)
    }
}

/// Filter `i` of `values` (`[32, 1, 3, 3]` row-major).
fn filter(values: &[f32], i: usize) -> &[f32] {
    &values[i * 9..(i + 1) * 9]
}

#[test]
fn setting_filters_from_kernels_puts_exactly_those_numbers_in() {
    let model = MnistCnn::new(1, &Device::Cpu).unwrap();
    let before = model.conv1_filter_values().unwrap();
    for (i, k) in CLASSIC.iter().enumerate() {
        model.set_conv1_filter(i, k).unwrap();
    }
    let after = model.conv1_filter_values().unwrap();
    for (i, k) in CLASSIC.iter().enumerate() {
        assert_eq!(filter(&after, i), &k.weights.concat()[..], "{}", k.name);
    }
    assert_eq!(&after[9 * CLASSIC.len()..], &before[9 * CLASSIC.len()..]);
    // The layer's own layout holds them too: filter 0's centre row, through
    // a convolution, is what the forward pass uses.
    let kernel = model.vars()[0].as_tensor().clone(); // [3, 3, 1, 32]
    let top_sobel = Kernel::by_name("top sobel").unwrap();
    model.set_conv1_filter(5, &top_sobel).unwrap();
    let column: Vec<f32> = kernel
        .narrow(3, 5, 1)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert_eq!(column, top_sobel.weights.concat());
    let err = model
        .set_conv1_filter(32, &top_sobel)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no filter #32"), "{err}");
}

#[test]
fn frozen_filters_stay_bit_for_bit_and_the_rest_trains_as_before() {
    let data = common::real_mnist().subset(20 * 128, 200).unwrap();
    let frozen = vec![0, 3, 31];
    let model = |frozen: &[usize]| {
        let m = MnistCnn::new(2, &Device::Cpu).unwrap();
        for &i in frozen {
            m.set_conv1_filter(i, &CLASSIC[i % CLASSIC.len()]).unwrap();
        }
        m
    };
    // One step: the same forward pass, so every gradient is the same; the
    // step moves every weight but the frozen filters exactly as the run
    // without freezing does.
    let (mut plain, mut kept) = (
        Trainer::new(model(&frozen), config(vec![])).unwrap(),
        Trainer::new(model(&frozen), config(frozen.clone())).unwrap(),
    );
    let (x, y) = data
        .train_batches(128, &mut Rng::new(1))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let start = kept.model.conv1_filter_values().unwrap();
    let a = plain.filter_step(&x, &y).unwrap();
    let b = kept.filter_step(&x, &y).unwrap();
    // The gradient of a frozen filter is still computed and shown...
    let g = |s: &filters_are_weights::train::FilterStep| {
        s.gradient.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    };
    assert_eq!(g(&a), g(&b));
    assert!(
        filter(&g(&b), 3).iter().any(|&v| v != 0.0),
        "no gradient shown"
    );
    // ... but the step leaves the filter alone.
    let update = b.update.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(frozen
        .iter()
        .all(|&i| filter(&update, i).iter().all(|&v| v == 0.0)));
    let (pv, kv) = (plain.model.vars(), kept.model.vars());
    for (k, (p, q)) in pv.iter().zip(&kv).enumerate().skip(2) {
        let flat = |v: &candle_core::Var| v.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(flat(p), flat(q), "weight {k} differs after one step");
    }
    let (pf, kf) = (
        plain.model.conv1_filter_values().unwrap(),
        kept.model.conv1_filter_values().unwrap(),
    );
    for i in 0..32 {
        if frozen.contains(&i) {
            assert_eq!(filter(&kf, i), filter(&start, i), "frozen #{i} moved");
            assert_ne!(
                filter(&pf, i),
                filter(&start, i),
                "#{i} did not move unfrozen"
            );
        } else {
            assert_eq!(filter(&kf, i), filter(&pf, i), "#{i}");
        }
    }
    // Twenty batches: still bit for bit; the others moved.
    let mut t = Trainer::new(model(&frozen), config(frozen.clone())).unwrap();
    let start = t.model.conv1_filter_values().unwrap();
    let bias = t.model.vars()[1].to_vec1::<f32>().unwrap();
    t.run(&data).unwrap();
    let end = t.model.conv1_filter_values().unwrap();
    let end_bias = t.model.vars()[1].to_vec1::<f32>().unwrap();
    for i in 0..32 {
        if frozen.contains(&i) {
            assert_eq!(filter(&end, i), filter(&start, i), "frozen #{i} moved");
            assert_eq!(end_bias[i].to_bits(), bias[i].to_bits(), "bias #{i} moved");
        } else {
            assert_ne!(filter(&end, i), filter(&start, i), "#{i} did not train");
        }
    }
    // Unfreezing lets them train again.
    t.freeze_filters(&[]).unwrap();
    t.run_epochs(&data, 1).unwrap();
    let again = t.model.conv1_filter_values().unwrap();
    assert_ne!(filter(&again, 0), filter(&end, 0));
    assert!(t
        .freeze_filters(&[40])
        .unwrap_err()
        .to_string()
        .contains("#40"));
}

#[test]
fn checkpoints_keep_which_filters_are_frozen() {
    let dir = tempfile::tempdir().unwrap();
    let data = common::real_mnist().subset(3 * 128, 100).unwrap();
    let mut t = Trainer::new(MnistCnn::new(4, &Device::Cpu).unwrap(), config(vec![7, 2])).unwrap();
    assert_eq!(t.config.frozen_filters, vec![7, 2]);
    t.freeze_filters(&[7, 2, 7]).unwrap();
    t.run(&data).unwrap();
    let path = dir.path().join("checkpoint.safetensors");
    t.save_checkpoint(&path).unwrap();
    let back = Trainer::from_checkpoint(&path, &Device::Cpu).unwrap();
    assert_eq!(back.config.frozen_filters, vec![2, 7]);
    // Resuming with other frozen filters is refused, with the reason.
    let other = TrainConfig {
        epochs: 2,
        ..config(vec![2])
    };
    let err = Trainer::resume(&path, &other, &data, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("frozen filters [2, 7]"), "{err}");
    let same = TrainConfig {
        epochs: 2,
        ..config(vec![2, 7])
    };
    let mut resumed = Trainer::resume(&path, &same, &data, &Device::Cpu).unwrap();
    let before = resumed.model.conv1_filter_values().unwrap();
    resumed.run(&data).unwrap();
    let after = resumed.model.conv1_filter_values().unwrap();
    assert_eq!(filter(&after, 7), filter(&before, 7));
    assert_ne!(filter(&after, 5), filter(&before, 5));
}

#[test]
fn frozen_filters_stay_on_the_autograd_path_too() {
    // The generic backend trains through candle's autograd (as a GPU
    // does), where the frozen filters' gradients are zeroed in its
    // gradient store rather than in the fused step's buffers.
    let data = common::real_mnist().subset(4 * 32, 10).unwrap();
    let model = MnistCnn::new(4, &Device::Cpu)
        .unwrap()
        .with_backend(filters_are_weights::ops::Backend::Generic)
        .unwrap();
    model.set_conv1_filter(5, &CLASSIC[0]).unwrap();
    let config = TrainConfig {
        batch_size: 32,
        ..config(vec![5])
    };
    let mut trainer = Trainer::new(model, config).unwrap();
    let start = trainer.model.conv1_filter_values().unwrap();
    trainer.run(&data).unwrap();
    let end = trainer.model.conv1_filter_values().unwrap();
    assert_eq!(
        filter(&start, 5),
        filter(&end, 5),
        "the frozen filter moved"
    );
    assert_ne!(
        filter(&start, 4),
        filter(&end, 4),
        "the other filters did not train"
    );
}

/// A link's run (src/link.rs), replayed: the same losses and filters, bit
/// for bit, as making its edits by hand between batches: seed 7, 3000
/// images an epoch (24 batches: batch 25 begins the second), filter 3 set
/// and frozen before the first batch, filter 10 set after 12, filter 3
/// let train again after 20, to batch 30.
#[test]
fn a_link_replays_the_run_its_edits_make_by_hand() {
    use filters_are_weights::link::RunLink;
    use filters_are_weights::train::Stepper;
    let all = common::real_mnist().subset(3840, 500).unwrap();
    let sobel = [1.0, 0.0, -1.0, 2.0, 0.0, -2.0, 1.0, 0.0, -1.0];
    let mine = [0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8, 0.9];
    let query = "link=1&seed=7&images=3000&filter=3:1,0,-1,2,0,-2,1,0,-1&freeze=3\
                 &filter=10@12:0.1,-0.2,0.3,-0.4,0.5,-0.6,0.7,-0.8,0.9&thaw=3@20&until=30";
    let link = RunLink::parse(query).unwrap().unwrap();
    let replayed = link.replay(&all, 0).unwrap();

    let data = all.subset(3000, 1000).unwrap();
    let trainer = filters_are_weights::link::run_trainer(7, &Device::Cpu).unwrap();
    let mut stepper = Stepper::new(trainer);
    let kernel = |w: [f32; 9]| {
        Kernel::new(
            "",
            [[w[0], w[1], w[2]], [w[3], w[4], w[5]], [w[6], w[7], w[8]]],
        )
    };
    stepper
        .trainer
        .model
        .set_conv1_filter(3, &kernel(sobel))
        .unwrap();
    stepper.trainer.freeze_filters(&[3]).unwrap();
    let mut losses = Vec::new();
    for step in 0..30 {
        if step == 12 {
            stepper
                .trainer
                .model
                .set_conv1_filter(10, &kernel(mine))
                .unwrap();
        }
        if step == 20 {
            let at_20 = stepper.trainer.model.conv1_filter_values().unwrap();
            assert_eq!(filter(&at_20, 3), sobel, "frozen for 20 batches");
            stepper.trainer.freeze_filters(&[]).unwrap();
        }
        losses.push(stepper.next(&data).unwrap().0.loss);
    }
    assert_eq!(replayed.losses, losses);
    let (a, b) = (
        replayed.model.conv1_filter_values().unwrap(),
        stepper.trainer.model.conv1_filter_values().unwrap(),
    );
    assert_eq!(a, b);
    // Both trained after their edits: neither is where it was set.
    assert_ne!(filter(&a, 3), sobel);
    assert_ne!(filter(&a, 10), mine);
    assert_eq!(stepper.steps_done(), 30);
}
