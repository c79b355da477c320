//! The data decides the filters: the same network, from the same seed,
//! trained on MNIST's digits and on Fashion-MNIST's clothes.
//!
//! Both data sets are 28×28 grey images in ten classes, so the network, its
//! random start (the seed's glorot values) and its training are the same
//! number for number; only the pictures differ. What each first layer ends
//! like is then the data's doing: [`DatasetRun`] keeps each run's filters
//! and history, and says which classic kernel each filter is nearest
//! ([`crate::analysis::nearest_classic`]), how many are close to one (a
//! centred cosine of 0.8 or more), how alike they are to the hand-chosen
//! bank ([`super::likeness_to_bank`]), to their random start, and to the
//! same filters trained on the other data set: with the same start, how
//! much is the data's doing.
//!
//! ```no_run
//! use filters_are_weights::data::{Dataset, Mnist};
//! use filters_are_weights::experiment::datasets::{self, DatasetRun};
//! use filters_are_weights::train::TrainConfig;
//! let config = TrainConfig { epochs: 1, ..TrainConfig::default() };
//! let mut runs = Vec::new();
//! for dataset in Dataset::ALL {
//!     let data = Mnist::load_dataset(dataset)?.subset(6000, 1000)?;
//!     let dir = std::path::Path::new("out/datasets").join(dataset.id());
//!     runs.push(DatasetRun::train(&data, &config, &dir, false, &candle_core::Device::Cpu)?);
//! }
//! print!("{}", datasets::summary_tsv(&runs)?);
//! # Ok::<(), filters_are_weights::Error>(())
//! ```

use super::likeness_to_bank;
use crate::analysis::{centred_cosine, filter_values, nearest_classic, resemblance, KernelMatch};
use crate::data::{Dataset, Mnist};
use crate::error::Result;
use crate::kernels::CLASSIC;
use crate::model::MnistCnn;
use crate::train::{History, TrainConfig, Trainer, CHECKPOINT_FILE};
use candle_core::{Device, Tensor};
use std::path::Path;

/// A filter this close to a classic kernel (centred cosine) counts as one.
pub const CLOSE: f32 = 0.8;

/// One data set's run: its trained first layer and its history.
#[derive(Debug, Clone)]
pub struct DatasetRun {
    /// The data set trained on.
    pub dataset: Dataset,
    /// The first layer's filters at the end, `[32, 1, 3, 3]`.
    pub filters: Tensor,
    /// Every epoch's numbers and the filters' snapshots.
    pub history: History,
    /// The epochs a resumed run found done in its checkpoint (0 for a run
    /// from the start).
    pub resumed_after: usize,
}

impl DatasetRun {
    /// Trains Keras' network from `config.seed` on `data`, saving the
    /// checkpoint, the model and the history into `dir` after every epoch;
    /// with `resume`, goes on from `dir`'s checkpoint where there is one
    /// (refused if it was made on another data set or with other settings).
    pub fn train(
        data: &Mnist,
        config: &TrainConfig,
        dir: &Path,
        resume: bool,
        device: &Device,
    ) -> Result<Self> {
        let checkpoint = dir.join(CHECKPOINT_FILE);
        let mut trainer = Trainer::resume_or_new(&checkpoint, resume, config, data, device)?;
        let resumed_after = trainer.epochs_done();
        trainer.run_saving(data, dir)?;
        Ok(Self {
            dataset: data.dataset,
            filters: trainer.model.conv1_filters()?,
            history: trainer.history,
            resumed_after,
        })
    }

    /// A run of `model` (already trained on `dataset`) with its `history`.
    pub fn of(dataset: Dataset, model: &MnistCnn, history: History) -> Result<Self> {
        Ok(Self {
            dataset,
            filters: model.conv1_filters()?,
            history,
            resumed_after: 0,
        })
    }

    /// The test accuracy after the last epoch (0 before any).
    pub fn test_accuracy(&self) -> f32 {
        self.history.epochs.last().map_or(0.0, |e| e.test_accuracy)
    }

    /// Each filter's nearest classic kernel.
    pub fn nearest(&self) -> Result<Vec<KernelMatch>> {
        nearest_classic(&self.filters)
    }

    /// How many filters are nearest each classic kernel (identity aside, as
    /// [`nearest_classic`] leaves it out), in the order of [`CLASSIC`].
    pub fn kernel_counts(&self) -> Result<Vec<(&'static str, usize)>> {
        let nearest = self.nearest()?;
        Ok(CLASSIC
            .iter()
            .filter(|k| k.name != "identity")
            .map(|k| {
                let n = nearest.iter().filter(|m| m.kernel.name == k.name).count();
                (k.name, n)
            })
            .collect())
    }

    /// The mean centred cosine of each filter with its nearest classic
    /// kernel, and how many are [`CLOSE`] to theirs.
    pub fn resemblance(&self) -> Result<(f32, usize)> {
        resemblance(&self.filters, CLOSE)
    }

    /// How far training took the filters: the mean centred cosine of each
    /// with itself at the start (the first snapshot; 1 when there is none).
    pub fn likeness_to_start(&self) -> Result<f32> {
        let end = filter_values(&self.filters)?.concat();
        Ok(match self.history.snapshots.first() {
            Some(start) => filter_by_filter(&start.filters, &end),
            None => 1.0,
        })
    }

    /// The mean, over the filters, of each one's best centred cosine with
    /// the hand-chosen bank ([`likeness_to_bank`]).
    pub fn likeness_to_bank(&self) -> Result<f32> {
        Ok(likeness_to_bank(&filter_values(&self.filters)?.concat()))
    }
}

/// The mean centred cosine of each filter of `a` with the same filter of
/// `b` (both `[n, 1, 3, 3]` row-major, nine numbers a filter).
pub fn filter_by_filter(a: &[f32], b: &[f32]) -> f32 {
    let scores: Vec<f32> = (a.chunks(9).zip(b.chunks(9)))
        .map(|(a, b)| centred_cosine(a, b))
        .collect();
    scores.iter().sum::<f32>() / scores.len().max(1) as f32
}

/// How alike each run's filters are to the same filters of the other runs
/// (the mean of [`filter_by_filter`] over the others; 1 for a run alone).
pub fn likeness_to_others(runs: &[DatasetRun]) -> Result<Vec<f32>> {
    let ends = (runs.iter())
        .map(|r| Ok(filter_values(&r.filters)?.concat()))
        .collect::<Result<Vec<_>>>()?;
    Ok((0..ends.len())
        .map(|i| {
            let others: Vec<f32> = (0..ends.len())
                .filter(|&j| j != i)
                .map(|j| filter_by_filter(&ends[i], &ends[j]))
                .collect();
            if others.is_empty() {
                1.0
            } else {
                others.iter().sum::<f32>() / others.len() as f32
            }
        })
        .collect())
}

/// The runs side by side, tab-separated: one column per data set, a row per
/// measure (test accuracy, mean similarity, filters close to a kernel,
/// likeness to the bank, to the start, to the other data set's filters),
/// then a row per classic kernel with how many filters are nearest it.
pub fn summary_tsv(runs: &[DatasetRun]) -> Result<String> {
    let mut rows: Vec<(String, Vec<String>)> = vec![
        ("test accuracy %".into(), Vec::new()),
        ("mean similarity to nearest kernel".into(), Vec::new()),
        (format!("filters at {CLOSE} or more"), Vec::new()),
        ("likeness to the hand-chosen bank".into(), Vec::new()),
        ("likeness to their random start".into(), Vec::new()),
        (
            "likeness to the same filters of the other data set".into(),
            Vec::new(),
        ),
    ];
    let mut counts: Vec<(String, Vec<String>)> = Vec::new();
    let others = likeness_to_others(runs)?;
    for (run, other) in runs.iter().zip(others) {
        let (mean, close) = run.resemblance()?;
        let values = [
            format!("{:.2}", 100.0 * run.test_accuracy()),
            format!("{mean:.3}"),
            close.to_string(),
            format!("{:.3}", run.likeness_to_bank()?),
            format!("{:.3}", run.likeness_to_start()?),
            format!("{other:.3}"),
        ];
        for (row, value) in rows.iter_mut().zip(values) {
            row.1.push(value);
        }
        for (i, (name, n)) in run.kernel_counts()?.into_iter().enumerate() {
            if counts.len() <= i {
                counts.push((format!("nearest {name}"), Vec::new()));
            }
            counts[i].1.push(n.to_string());
        }
    }
    let header: Vec<&str> = runs.iter().map(|r| r.dataset.id()).collect();
    let mut tsv = format!("measure\t{}\n", header.join("\t"));
    for (name, values) in rows.into_iter().chain(counts) {
        tsv.push_str(&format!("{name}\t{}\n", values.join("\t")));
    }
    Ok(tsv)
}
