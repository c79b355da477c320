//! Training on the real MNIST (a few thousand images of it): it learns, and
//! it is reproducible.

mod common;

use candle_core::Device;
use filters_are_weights::model::MnistCnn;
use filters_are_weights::train::{Progress, TrainConfig, Trainer};
use filters_are_weights::Error;

fn config(epochs: usize, seed: u64) -> TrainConfig {
    TrainConfig {
        epochs,
        seed,
        snapshot_epochs: (0..=epochs).collect(),
        progress: Progress::Silent,
        ..TrainConfig::default()
    }
}

#[test]
fn one_short_epoch_learns_far_above_chance() {
    let data = common::real_mnist().subset(4000, 1000).unwrap();
    let mut t = Trainer::new(MnistCnn::new(1, &Device::Cpu).unwrap(), config(1, 1)).unwrap();
    let h = t.run(&data).unwrap();
    let e = &h.epochs[0];
    assert!(
        e.test_accuracy > 0.6,
        "test accuracy {} after one epoch",
        e.test_accuracy
    );
    assert!(e.test_loss < 1.5, "test loss {}", e.test_loss);
    // The filters moved: they are weights.
    let (before, after) = (h.at_epoch(0).unwrap(), h.at_epoch(1).unwrap());
    let moved: f32 = before
        .filters
        .iter()
        .zip(&after.filters)
        .map(|(a, b)| (a - b).abs())
        .sum();
    assert!(moved > 0.1, "filters moved by {moved} in all");
}

#[test]
fn same_seed_same_filters_even_across_calls() {
    let data = common::real_mnist().subset(1024, 200).unwrap();
    let run = |chunks: &[usize]| {
        let mut t = Trainer::new(MnistCnn::new(9, &Device::Cpu).unwrap(), config(2, 9)).unwrap();
        for &n in chunks {
            t.run_epochs(&data, n).unwrap();
        }
        t.model.conv1_filter_values().unwrap()
    };
    let once = run(&[2]);
    assert_eq!(once, run(&[2]), "two runs with one seed differ");
    // Two calls of one epoch (as in two notebook cells) equal one call of two.
    assert_eq!(once, run(&[1, 1]), "continuing a run changed its result");
    let other = {
        let mut t = Trainer::new(MnistCnn::new(9, &Device::Cpu).unwrap(), config(2, 10)).unwrap();
        t.run(&data).unwrap();
        t.model.conv1_filter_values().unwrap()
    };
    assert_ne!(once, other, "the seed does not reach shuffling and dropout");
}

#[test]
fn snapshots_every_n_batches_and_bad_configs() {
    let data = common::real_mnist().subset(640, 100).unwrap();
    let mut c = config(1, 3);
    c.snapshot_every_batches = Some(2);
    let mut t = Trainer::new(MnistCnn::new(3, &Device::Cpu).unwrap(), c).unwrap();
    let h = t.run(&data).unwrap();
    let steps: Vec<usize> = h.snapshots.iter().map(|s| s.step).collect();
    assert_eq!(steps, vec![0, 2, 4, 5]);
    assert_eq!(h.snapshots[3].label(h.steps_per_epoch), "epoch 1");
    assert_eq!(h.snapshots[1].label(h.steps_per_epoch), "step 2");

    for (bad, expected) in [
        (
            TrainConfig {
                epochs: 0,
                ..config(1, 1)
            },
            "epochs must be at least 1",
        ),
        (
            TrainConfig {
                snapshot_epochs: vec![0, 4],
                ..config(3, 1)
            },
            "snapshot epoch 4 is beyond",
        ),
        (
            TrainConfig {
                batch_size: 0,
                ..config(1, 1)
            },
            "batch size",
        ),
    ] {
        let err = Trainer::new(MnistCnn::new(1, &Device::Cpu).unwrap(), bad).unwrap_err();
        assert!(
            matches!(err, Error::InvalidConfig(_)) && err.to_string().contains(expected),
            "{err}"
        );
    }
}

#[test]
fn a_nan_loss_stops_training_with_epoch_and_batch() {
    let data = common::real_mnist().subset(512, 100).unwrap();
    let mut c = config(1, 1);
    c.optimizer.lr = f64::NAN;
    let mut t = Trainer::new(MnistCnn::new(1, &Device::Cpu).unwrap(), c).unwrap();
    let err = t.run(&data).unwrap_err();
    // The first step turns every weight into NaN; the second batch sees it.
    assert!(
        matches!(
            err,
            Error::NonFiniteLoss {
                epoch: 1,
                batch: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("learning rate"), "{err}");
}

#[test]
fn a_resumed_run_ends_with_the_same_filters_bit_for_bit() {
    let data = common::real_mnist().subset(768, 100).unwrap();
    let mut straight = Trainer::new(MnistCnn::new(4, &Device::Cpu).unwrap(), config(2, 4)).unwrap();
    straight.run(&data).unwrap();

    // A run "killed" after its first epoch: all that survives is the checkpoint.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.safetensors");
    {
        let mut first =
            Trainer::new(MnistCnn::new(4, &Device::Cpu).unwrap(), config(2, 4)).unwrap();
        first.run_epochs(&data, 1).unwrap();
        first.save_checkpoint(&path).unwrap();
    }
    let mut resumed = Trainer::from_checkpoint(&path, &Device::Cpu).unwrap();
    assert_eq!(resumed.epochs_done(), 1);
    resumed.run(&data).unwrap();
    assert_eq!(
        resumed.model.conv1_filter_values().unwrap(),
        straight.model.conv1_filter_values().unwrap()
    );
    assert_eq!(resumed.history.snapshots, straight.history.snapshots);
    let test_acc = |t: &Trainer| {
        t.history
            .epochs
            .iter()
            .map(|e| e.test_accuracy)
            .collect::<Vec<_>>()
    };
    assert_eq!(test_acc(&resumed), test_acc(&straight));

    // A plain model file is no checkpoint.
    let model_only = dir.path().join("model.safetensors");
    straight.model.save(&model_only).unwrap();
    let err = Trainer::from_checkpoint(&model_only, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no training state"), "{err}");
}

#[test]
fn the_generic_path_trains_the_same_model_as_the_fused_one() {
    // What a GPU runs (candle's operations with Keras' gradients), forced on
    // the CPU: 10 batches of real digits move the filters the same way as
    // the fused path. Not bit for bit: float32 sums run in another order,
    // and Adadelta's first steps have nearly the same size whatever the
    // gradient's, so a weight whose gradient is close to 0 may step either
    // way on one path and the other.
    use filters_are_weights::ops::Backend;
    let data = common::real_mnist().subset(10 * 128, 500).unwrap();
    let start = MnistCnn::new(5, &Device::Cpu)
        .unwrap()
        .conv1_filter_values()
        .unwrap();
    let run = |backend: Backend| {
        // A model of its own each: a trainer trains the variables it is given.
        let model = MnistCnn::new(5, &Device::Cpu).unwrap();
        let model = model.with_backend(backend).unwrap();
        let mut t = Trainer::new(model, config(1, 5)).unwrap();
        t.run(&data).unwrap();
        let accuracy = t.history.epochs[0].test_accuracy;
        (t.model.conv1_filter_values().unwrap(), accuracy)
    };
    let (fused, fused_accuracy) = run(Backend::Fused);
    let (generic, generic_accuracy) = run(Backend::Generic);
    let mean_abs = |a: &[f32], b: &[f32]| {
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32
    };
    let moved = mean_abs(&fused, &start);
    let apart = mean_abs(&fused, &generic);
    println!(
        "filters moved {moved:.2e} on average; the two paths ended {apart:.2e} apart; \
         test accuracy {fused_accuracy} (fused), {generic_accuracy} (generic)"
    );
    assert!(
        apart < 1e-3 * moved,
        "the paths differ by {apart}, the filters moved {moved}"
    );
    assert!(
        (fused_accuracy - generic_accuracy).abs() <= 0.01,
        "test accuracy {fused_accuracy} (fused) vs {generic_accuracy} (generic)"
    );
}

#[test]
fn the_result_does_not_depend_on_the_number_of_threads() {
    // Partial sums are added in a fixed order: one thread or three, the same
    // weights bit for bit.
    let data = common::real_mnist().subset(5 * 128, 100).unwrap();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut t =
                Trainer::new(MnistCnn::new(4, &Device::Cpu).unwrap(), config(1, 4)).unwrap();
            t.run(&data).unwrap();
            let w = t.model.named_tensors();
            let mut names: Vec<_> = w.keys().cloned().collect();
            names.sort();
            names
                .iter()
                .flat_map(|n| w[n].flatten_all().unwrap().to_vec1::<f32>().unwrap())
                .map(f32::to_bits)
                .collect::<Vec<u32>>()
        })
    };
    assert!(run(1) == run(3), "one thread and three gave other weights");
}

#[test]
fn an_epoch_trained_batch_by_batch_equals_one_run() {
    // What a page does between redraws: a few batches at a time.
    let data = common::real_mnist().subset(6 * 128 + 50, 100).unwrap();
    let mut whole = Trainer::new(MnistCnn::new(8, &Device::Cpu).unwrap(), config(1, 8)).unwrap();
    whole.run(&data).unwrap();
    let mut steps = Trainer::new(MnistCnn::new(8, &Device::Cpu).unwrap(), config(1, 8)).unwrap();
    let mut epoch = steps.begin_epoch(&data).unwrap();
    assert_eq!((epoch.epoch(), epoch.steps()), (1, 7));
    let mut losses = Vec::new();
    while let Some(b) = steps.train_batch(&mut epoch).unwrap() {
        assert_eq!(b.step, epoch.batches_done());
        losses.push(b.loss);
    }
    assert_eq!(losses.len(), 7);
    let stats = steps.end_epoch(&data, epoch, 0.0).unwrap();
    assert_eq!(stats.test_accuracy, whole.history.epochs[0].test_accuracy);
    assert_eq!(
        steps.model.conv1_filter_values().unwrap(),
        whole.model.conv1_filter_values().unwrap()
    );
    assert_eq!(steps.history.snapshots, whole.history.snapshots);
}

#[test]
fn a_batch_shown_is_the_same_step_as_a_batch_trained() {
    // The page's "one batch": the step, with the filters' gradient and update.
    let data = common::real_mnist().subset(3 * 128, 100).unwrap();
    let new = || Trainer::new(MnistCnn::new(5, &Device::Cpu).unwrap(), config(1, 5)).unwrap();
    let (mut plain, mut shown) = (new(), new());
    let (mut a, mut b) = (
        plain.begin_epoch(&data).unwrap(),
        shown.begin_epoch(&data).unwrap(),
    );
    for _ in 0..3 {
        let stats = plain.train_batch(&mut a).unwrap().unwrap();
        let (stats_shown, step) = shown.train_batch_shown(&mut b).unwrap().unwrap();
        assert_eq!(stats, stats_shown);
        assert_eq!(step.loss, stats.loss);
        let after = step.after.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(after, plain.model.conv1_filter_values().unwrap());
        let update = (&step.after - &step.before).unwrap();
        let diff = (update - &step.update).unwrap().abs().unwrap();
        assert_eq!(diff.max_all().unwrap().to_scalar::<f32>().unwrap(), 0.0);
        let g = step.gradient.abs().unwrap().max_all().unwrap();
        assert!(g.to_scalar::<f32>().unwrap() > 0.0, "a gradient of zeros");
        assert_eq!(step.gradient.dims(), &[32, 1, 3, 3]);
    }
    assert_eq!(
        plain.model.named_tensors()["dense1.kernel"]
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap(),
        shown.model.named_tensors()["dense1.kernel"]
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    );
}

#[test]
fn the_trainer_trains_the_very_model_it_was_given() {
    // In a program the trainer keeps the variables it was given (only a
    // notebook cell other than the model's own makes it copy them): a clone
    // kept outside sees the training.
    let data = common::real_mnist().subset(512, 100).unwrap();
    let model = MnistCnn::new(3, &Device::Cpu).unwrap();
    let start = model.conv1_filter_values().unwrap();
    let mut t = Trainer::new(model.clone(), config(1, 3)).unwrap();
    t.run(&data).unwrap();
    let (outside, inside) = (model.vars(), t.model.vars());
    assert!(outside.iter().zip(&inside).all(|(a, b)| a.id() == b.id()));
    let trained = model.conv1_filter_values().unwrap();
    assert_eq!(trained, t.model.conv1_filter_values().unwrap());
    assert_ne!(trained, start, "the filters did not move");
}
