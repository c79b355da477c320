//! The post's claim put to the test: filters chosen by hand against filters
//! learned.
//!
//! The post says the network *learns* its filters, and that what it learns
//! serves it better than what a person would pick. This experiment trains the
//! same network, from the same seed on the same data, four ways; they differ
//! only in the first layer's 32 filters:
//!
//! | arm | first layer | trained? |
//! |---|---|---|
//! | [`Arm::Learned`] | glorot's random start (the post's run) | yes |
//! | [`Arm::HandFrozen`] | the hand-chosen bank ([`crate::kernels::bank`]) | no, frozen |
//! | [`Arm::RandomFrozen`] | glorot's random start | no, frozen |
//! | [`Arm::HandThenLearned`] | the hand-chosen bank | yes: do sobels stay sobels? |
//!
//! Every other weight starts the same in all four (the seed's glorot values)
//! and trains in all four; a frozen filter keeps its bias at 0 too (see
//! [`crate::train::Trainer::freeze_filters`]). The bank's kernels are scaled
//! to the mean length of the random filters they replace (about 0.25; the
//! numbers of setosa's outline are 30 times larger), so that the arms differ
//! in the *pattern* of the filters and not in their size: the second layer's
//! random start expects inputs of the first layer's usual size.
//!
//! Each arm runs with several seeds (the range over seeds is the noise the
//! differences must beat). With a folder to save to, the results are written
//! after every run, and a run stopped half-way goes on from there
//! ([`Experiment::resuming`]).
//!
//! ```no_run
//! use filters_are_weights::experiment::{Experiment, ExperimentConfig};
//! use filters_are_weights::data::Mnist;
//! let data = Mnist::load()?.subset(6000, 1000)?;
//! let results = Experiment::new(ExperimentConfig::quick()).run(&data, &candle_core::Device::Cpu)?;
//! println!("{results}");
//! # Ok::<(), filters_are_weights::Error>(())
//! ```
//!
//! Beside it, [`datasets`]: the same network trained on MNIST and on
//! Fashion-MNIST, to see what the data makes of the filters.

pub mod datasets;
mod results;

pub use results::{
    likeness_to_bank, ArmRun, ArmSummary, Drift, Results, SecondLayerLikeness, Spread,
    CHANNEL_MATCH,
};

use crate::data::Mnist;
use crate::error::{Error, Result};
use crate::kernels::{as_filters, filter_lengths, hand_chosen, scaled_to};
use crate::model::MnistCnn;
use crate::second_layer::mean_top_patches;
use crate::train::{Progress, TrainConfig, Trainer};
use candle_core::Device;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Top images a channel for the second layer's mean top patches.
const TOP_IMAGES: usize = 9;

/// The file the results are saved to (and resumed from) in the folder.
pub const RESULTS_FILE: &str = "hand-vs-learned.json";

/// How the first layer is made and whether it trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arm {
    /// Random start, trained: the post's run.
    Learned,
    /// The hand-chosen bank, frozen.
    HandFrozen,
    /// The random start, frozen: never trained.
    RandomFrozen,
    /// The hand-chosen bank as a start, then trained.
    HandThenLearned,
}

impl Arm {
    /// The four arms, in the order they run and are shown.
    pub const ALL: [Arm; 4] = [
        Arm::Learned,
        Arm::HandFrozen,
        Arm::RandomFrozen,
        Arm::HandThenLearned,
    ];

    /// A short label for tables and legends.
    pub fn label(self) -> &'static str {
        match self {
            Arm::Learned => "learned",
            Arm::HandFrozen => "hand-chosen, frozen",
            Arm::RandomFrozen => "random, frozen",
            Arm::HandThenLearned => "hand-chosen start, learned",
        }
    }

    /// Whether the first layer starts from the hand-chosen bank.
    pub fn starts_hand_chosen(self) -> bool {
        matches!(self, Arm::HandFrozen | Arm::HandThenLearned)
    }

    /// Whether the first layer is frozen.
    pub fn frozen(self) -> bool {
        matches!(self, Arm::HandFrozen | Arm::RandomFrozen)
    }

    /// A trainer of this arm from `seed`, with the settings of `train`
    /// (its seed and frozen filters replaced): the seed's glorot start, its
    /// first layer the hand-chosen bank where the arm starts from it, and
    /// frozen where the arm freezes it.
    pub fn trainer(self, seed: u64, train: &TrainConfig, device: &Device) -> Result<Trainer> {
        let model = MnistCnn::new(seed, device)?;
        if self.starts_hand_chosen() {
            model.set_conv1_filters(&hand_chosen_filters(&model)?)?;
        }
        let frozen = if self.frozen() {
            (0..crate::model::PARAMETER_SHAPES[1][0]).collect()
        } else {
            Vec::new()
        };
        let config = TrainConfig {
            seed,
            frozen_filters: frozen,
            ..train.clone()
        };
        Trainer::new(model, config)
    }
}

impl std::fmt::Display for Arm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// What to run: which arms, with which seeds, trained how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentConfig {
    /// The arms, each run once per seed.
    pub arms: Vec<Arm>,
    /// The seeds: of the initialisation, the shuffling and the dropout.
    pub seeds: Vec<u64>,
    /// How each run trains (its seed and frozen filters are set per run).
    pub train: TrainConfig,
}

impl Default for ExperimentConfig {
    /// Every arm, seeds 42, 43 and 44 (42 is the post's run), the post's 15
    /// epochs.
    fn default() -> Self {
        Self::with(3, 15)
    }
}

impl ExperimentConfig {
    /// Every arm, `seeds` seeds from 42, `epochs` epochs each.
    pub fn with(seeds: usize, epochs: usize) -> Self {
        Self {
            arms: Arm::ALL.to_vec(),
            seeds: (42..).take(seeds).collect(),
            train: TrainConfig {
                // The first layer after every epoch, for a replay.
                snapshot_epochs: (0..=epochs).collect(),
                ..TrainConfig::with_epochs(epochs)
            },
        }
    }

    /// A quick run: 3 seeds of 2 epochs (with a subset of the data, a
    /// minute or two).
    pub fn quick() -> Self {
        Self::with(3, 2)
    }

    /// Checks that the experiment can run.
    pub fn validate(&self) -> Result<()> {
        if self.arms.is_empty() || self.seeds.is_empty() {
            return Err(Error::InvalidConfig(
                "the experiment needs at least one arm and one seed".into(),
            ));
        }
        self.train.validate()
    }
}

/// The experiment, ready to run: its settings and where it saves.
#[derive(Debug, Clone)]
pub struct Experiment {
    config: ExperimentConfig,
    dir: Option<PathBuf>,
    resume: bool,
}

impl Experiment {
    /// The experiment `config` describes, saving nothing.
    pub fn new(config: ExperimentConfig) -> Self {
        Self {
            config,
            dir: None,
            resume: false,
        }
    }

    /// Saves the results to `dir/`[`RESULTS_FILE`] after every run (a file
    /// already there is replaced, unless [`Experiment::resuming`] keeps its
    /// runs).
    pub fn saving_to(self, dir: impl AsRef<Path>) -> Self {
        Self {
            dir: Some(dir.as_ref().to_path_buf()),
            ..self
        }
    }

    /// With `true`, keeps the runs already saved in the folder (by an
    /// experiment with the same settings on the same data) and runs only
    /// the others.
    pub fn resuming(self, resume: bool) -> Self {
        Self { resume, ..self }
    }

    /// Runs every arm with every seed on `data` (seed by seed, so that a
    /// stopped run has every arm of its first seeds).
    pub fn run(&self, data: &Mnist, device: &Device) -> Result<Results> {
        self.config.validate()?;
        let mut results = self.saved(data)?.unwrap_or_else(|| Results {
            config: self.config.clone(),
            dataset: data.dataset,
            train_images: data.train_len(),
            test_images: data.test_len(),
            runs: Vec::new(),
        });
        let total = self.config.seeds.len() * self.config.arms.len();
        let telling = self.config.train.progress != Progress::Silent;
        if telling && !results.runs.is_empty() {
            println!(
                "{} of {total} runs already done, kept from {}",
                results.runs.len(),
                self.results_path()
                    .map_or(String::new(), |p| p.display().to_string())
            );
        }
        for &seed in &self.config.seeds {
            for &arm in &self.config.arms {
                if results.run(arm, seed).is_some() {
                    continue;
                }
                if telling {
                    let n = results.runs.len() + 1;
                    println!("run {n} of {total}: {arm}, seed {seed}");
                }
                let run = self.run_one(arm, seed, data, device)?;
                results.runs.push(run);
                self.save(&results)?;
            }
        }
        Ok(results)
    }

    /// Trains one arm with one seed.
    fn run_one(&self, arm: Arm, seed: u64, data: &Mnist, device: &Device) -> Result<ArmRun> {
        let mut trainer = arm.trainer(seed, &self.config.train, device)?;
        let start = trainer.model.conv1_filter_values()?;
        let clock = Instant::now();
        trainer.run(data)?;
        Ok(ArmRun {
            arm,
            seed,
            epochs: trainer.history.epochs.clone(),
            start,
            end: trainer.model.conv1_filter_values()?,
            snapshots: trainer.history.snapshots.clone(),
            steps_per_epoch: trainer.history.steps_per_epoch,
            seconds: clock.elapsed().as_secs_f32(),
            second_layer: mean_top_patches(
                &trainer.model,
                &data.test_images,
                TOP_IMAGES.min(data.test_len()),
            )?,
        })
    }

    fn results_path(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(RESULTS_FILE))
    }

    /// The results saved by an earlier run of this experiment, when resuming.
    fn saved(&self, data: &Mnist) -> Result<Option<Results>> {
        let Some(path) = self.results_path().filter(|p| self.resume && p.is_file()) else {
            return Ok(None);
        };
        let saved = Results::load(&path)?;
        let same_data = (saved.dataset, saved.train_images, saved.test_images)
            == (data.dataset, data.train_len(), data.test_len());
        let mut then = saved.config.clone();
        then.train.progress = self.config.train.progress;
        if !same_data || then.train != self.config.train {
            return Err(Error::CannotResume {
                path: path.clone(),
                problem: format!(
                    "it holds runs of other settings ({} epochs on {} training and {} test \
                     images of {}; this run: {} epochs on {} and {} of {}); use another \
                     folder, or start afresh",
                    saved.config.train.epochs,
                    saved.train_images,
                    saved.test_images,
                    saved.dataset,
                    self.config.train.epochs,
                    data.train_len(),
                    data.test_len(),
                    data.dataset
                ),
            });
        }
        // Every saved run must be one this experiment asks for: the file is
        // written again after each new run, and would lose the others.
        let wanted =
            |r: &ArmRun| self.config.arms.contains(&r.arm) && self.config.seeds.contains(&r.seed);
        if let Some(r) = saved.runs.iter().find(|r| !wanted(r)) {
            return Err(Error::CannotResume {
                path: path.clone(),
                problem: format!(
                    "it holds a run this experiment does not ask for ({}, seed {}); ask for \
                     its seeds and arms too, or use another folder",
                    r.arm, r.seed
                ),
            });
        }
        Ok(Some(Results {
            config: self.config.clone(),
            ..saved
        }))
    }

    fn save(&self, results: &Results) -> Result<()> {
        match self.results_path() {
            Some(path) => crate::io::write_atomic(path, results.to_json()?.as_bytes()),
            None => Ok(()),
        }
    }
}

/// The hand-chosen bank as `model`'s first layer: [`hand_chosen`]'s 32
/// kernels, each scaled to the mean length of `model`'s random filters.
pub fn hand_chosen_filters(model: &MnistCnn) -> Result<candle_core::Tensor> {
    let lengths = filter_lengths(&model.conv1_filter_values()?);
    let mean = lengths.iter().sum::<f32>() / lengths.len().max(1) as f32;
    as_filters(&scaled_to(&hand_chosen(), mean))
}
