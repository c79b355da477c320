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
