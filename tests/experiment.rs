//! The hand-chosen against the learned first layer, on a few thousand real
//! images: every arm trains from the same start, the frozen ones keep their
//! filters, the table has every arm and seed, and a stopped experiment goes
//! on where it stopped.

mod common;

use candle_core::Device;
use filters_are_weights::data::Mnist;
use filters_are_weights::experiment::{
    hand_chosen_filters, Arm, Experiment, ExperimentConfig, Results, RESULTS_FILE,
};
use filters_are_weights::model::MnistCnn;
use filters_are_weights::report::Report;
use filters_are_weights::train::{Progress, Trainer};

fn small_data() -> Mnist {
    common::real_mnist().subset(1280, 300).unwrap()
}

fn config(seeds: usize) -> ExperimentConfig {
    let mut config = ExperimentConfig::with(seeds, 1);
    config.train.progress = Progress::Silent;
    config
}

#[test]
fn every_arm_trains_from_the_same_start_and_the_frozen_ones_keep_their_filters() {
    let data = small_data();
    let results = Experiment::new(config(2)).run(&data, &Device::Cpu).unwrap();
    assert_eq!(results.runs.len(), 8);
    for seed in [42, 43] {
        let run = |arm| results.run(arm, seed).unwrap();
        let random = MnistCnn::new(seed, &Device::Cpu).unwrap();
        let bank = hand_chosen_filters(&random).unwrap();
        let bank: Vec<f32> = bank.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(
            run(Arm::Learned).start,
            random.conv1_filter_values().unwrap()
        );
        assert_eq!(run(Arm::RandomFrozen).start, run(Arm::Learned).start);
        assert_eq!(run(Arm::HandFrozen).start, bank);
        assert_eq!(run(Arm::HandThenLearned).start, bank);
        for arm in Arm::ALL {
            let r = run(arm);
            assert_eq!(r.epochs.len(), 1, "{arm}");
            let kept: Vec<usize> = r.snapshots.iter().map(|s| s.epoch).collect();
            assert_eq!(kept, [0, 1], "{arm}: the filters of every epoch are kept");
            assert_eq!(
                (&r.snapshots[0].filters, &r.snapshots[1].filters),
                (&r.start, &r.end)
            );
            assert_eq!(
                r.end == r.start,
                arm.frozen(),
                "{arm}: frozen filters stay, others move"
            );
            assert!(
                r.last().unwrap().test_accuracy > 0.5,
                "{arm}, seed {seed} learned nothing"
            );
        }
    }
    // The learned arm is the plain run of its seed, bit for bit.
    let mut plain =
        Trainer::new(MnistCnn::new(42, &Device::Cpu).unwrap(), config(1).train).unwrap();
    plain.run(&data).unwrap();
    let learned = results.run(Arm::Learned, 42).unwrap();
    assert_eq!(learned.end, plain.model.conv1_filter_values().unwrap());
    assert_eq!(
        learned.epochs[0].test_loss,
        plain.history.epochs[0].test_loss
    );

    // The bank is the seed's random filters' size: each kernel as long as
    // they are on average.
    let length = |f: &[f32]| f.iter().map(|v| v * v).sum::<f32>().sqrt();
    let random = &results.run(Arm::Learned, 42).unwrap().start;
    let mean = random.chunks(9).map(length).sum::<f32>() / 32.0;
    for f in results.run(Arm::HandFrozen, 42).unwrap().start.chunks(9) {
        assert!((length(f) - mean).abs() < 1e-5);
    }

    let summary = results.summary();
    assert_eq!(summary.iter().map(|s| s.arm).collect::<Vec<_>>(), Arm::ALL);
    assert!(summary.iter().all(|s| s.seeds == 2));
    let frozen_bank = summary.iter().find(|s| s.arm == Arm::HandFrozen).unwrap();
    assert!((frozen_bank.like_the_bank - 1.0).abs() < 1e-5);
    let table = results.summary_tsv();
    assert_eq!(table.lines().count(), 5, "{table}");
    for arm in Arm::ALL {
        assert!(table.contains(arm.label()), "{table}");
    }
    assert_eq!(results.epochs_tsv().lines().count(), 1 + 8);
    assert_eq!(results.drift().len(), 2 * 32);
    assert_eq!(results.drift_tsv().lines().count(), 1 + 64);
    let text = results.to_string();
    assert!(
        text.contains("hand-chosen, frozen") && text.contains("of 64 are still"),
        "{text}"
    );

    let dir = tempfile::tempdir().unwrap();
    let mut report = Report::new(dir.path());
    report.hand_vs_learned(&results).unwrap();
    common::assert_files(dir.path(), &common::HAND_VS_LEARNED_FILES, 100);
}

#[test]
fn a_stopped_experiment_goes_on_where_it_stopped_and_refuses_other_settings() {
    let data = small_data();
    let dir = tempfile::tempdir().unwrap();
    // The first seed only, as if stopped after four runs.
    let first = Experiment::new(config(1))
        .saving_to(dir.path())
        .run(&data, &Device::Cpu)
        .unwrap();
    let path = dir.path().join(RESULTS_FILE);
    assert_eq!(Results::load(&path).unwrap(), first);

    let both = Experiment::new(config(2))
        .saving_to(dir.path())
        .resuming(true)
        .run(&data, &Device::Cpu)
        .unwrap();
    assert_eq!(both.runs.len(), 8);
    assert_eq!(
        &both.runs[..4],
        &first.runs[..],
        "the saved runs are kept as they were"
    );
    assert_eq!(Results::load(&path).unwrap(), both);
    // Run afresh, the second seed's runs come out the same.
    let fresh = Experiment::new(config(2)).run(&data, &Device::Cpu).unwrap();
    for (a, b) in fresh.runs.iter().zip(&both.runs) {
        assert_eq!((a.arm, a.seed, &a.end), (b.arm, b.seed, &b.end));
    }

    // Why resuming from the folder is refused, for these settings and data.
    let refused = |config: ExperimentConfig, data: &Mnist| {
        Experiment::new(config)
            .saving_to(dir.path())
            .resuming(true)
            .run(data, &Device::Cpu)
            .unwrap_err()
            .to_string()
    };
    // Fewer seeds than the file holds: the others would be lost.
    let err = refused(config(1), &data);
    assert!(
        err.contains("seed 43") && err.contains("another folder"),
        "{err}"
    );
    let kept = Results::load(&path).unwrap();
    assert_eq!(kept, both, "and the file is left as it was");

    let mut longer = config(2);
    longer.train.epochs = 2;
    let err = refused(longer, &data);
    assert!(
        err.contains("other settings") && err.contains("start afresh") && !err.contains("--"),
        "{err}"
    );
    let err = refused(config(2), &data.subset(640, 300).unwrap());
    assert!(err.contains("640"), "{err}");

    std::fs::write(&path, "{ half a file").unwrap();
    let err = refused(config(1), &data);
    assert!(err.contains("delete it to start afresh"), "{err}");
}
