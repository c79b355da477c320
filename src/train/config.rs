//! What to train and how: the settings of a run.

use crate::error::{Error, Result};
use crate::optim::AdadeltaConfig;
use serde::{Deserialize, Serialize};
use std::io::IsTerminal;

/// How training reports its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Progress {
    /// A bar redrawn in place on stderr (for terminals).
    Bar,
    /// A line on stdout after each epoch (for notebooks and logs).
    Lines,
    /// Nothing but errors.
    Silent,
}

impl Progress {
    /// A bar when stderr is a terminal, lines otherwise.
    pub fn auto() -> Self {
        if std::io::stderr().is_terminal() {
            Progress::Bar
        } else {
            Progress::Lines
        }
    }
}

/// The batches after which `reproduce` and notebook 04 also keep the
/// filters (counted over all epochs): the post says "iterations", and the
/// very first steps are where random filters start to become something.
pub const EARLY_STEPS: [usize; 8] = [1, 2, 5, 10, 20, 50, 100, 200];

/// What to train and how. The defaults reproduce the post: Keras' example
/// (batch 128, Adadelta lr 1.0) for 15 epochs, filters kept at 0, 1, 7, 15.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Number of epochs (whole passes over the training set).
    pub epochs: usize,
    /// Examples per mini-batch.
    pub batch_size: usize,
    /// Seed of shuffling, dropout (and, by convention, initialisation).
    pub seed: u64,
    /// Epochs after which the first-layer filters are kept (0 = before training).
    pub snapshot_epochs: Vec<usize>,
    /// Also keep the filters every this many batches.
    pub snapshot_every_batches: Option<usize>,
    /// Also keep the filters after these batches (counted over all epochs):
    /// the first moves away from random.
    #[serde(default)]
    pub snapshot_steps: Vec<usize>,
    /// First-layer filters (0..32) that training leaves as they are, kernel
    /// and bias: filters chosen by hand, kept (see `Trainer::freeze_filters`).
    #[serde(default)]
    pub frozen_filters: Vec<usize>,
    /// The optimizer's settings.
    pub optimizer: AdadeltaConfig,
    /// How progress is shown.
    pub progress: Progress,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 15,
            batch_size: 128,
            seed: 42,
            snapshot_epochs: vec![0, 1, 7, 15],
            snapshot_every_batches: None,
            snapshot_steps: Vec::new(),
            frozen_filters: Vec::new(),
            optimizer: AdadeltaConfig::default(),
            progress: Progress::auto(),
        }
    }
}

impl TrainConfig {
    /// The post's snapshot epochs (0, 1, 7, 15) that fit in a run of
    /// `epochs`, and its last epoch.
    pub fn post_snapshot_epochs(epochs: usize) -> Vec<usize> {
        let mut list: Vec<usize> = [0, 1, 7, 15].into_iter().filter(|&e| e <= epochs).collect();
        if !list.contains(&epochs) {
            list.push(epochs);
        }
        list
    }

    /// The default configuration for a run of `epochs`, with the post's
    /// snapshot epochs that fit in it.
    pub fn with_epochs(epochs: usize) -> Self {
        Self {
            epochs,
            snapshot_epochs: Self::post_snapshot_epochs(epochs),
            ..Self::default()
        }
    }

    /// Checks that the configuration describes a run that can happen.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(Error::InvalidConfig(
                "epochs must be at least 1 (the post trains 15)".into(),
            ));
        }
        if self.batch_size == 0 {
            return Err(Error::InvalidConfig("batch size must be at least 1".into()));
        }
        if let Some(&e) = self.snapshot_epochs.iter().find(|&&e| e > self.epochs) {
            return Err(Error::InvalidConfig(format!(
                "snapshot epoch {e} is beyond the run's {} epochs",
                self.epochs
            )));
        }
        let filters = crate::model::PARAMETER_SHAPES[1][0];
        if let Some(&f) = self.frozen_filters.iter().find(|&&f| f >= filters) {
            return Err(Error::InvalidConfig(format!(
                "no filter #{f} to freeze: the first layer has filters #0 to #{}",
                filters - 1
            )));
        }
        if self.snapshot_every_batches == Some(0) {
            return Err(Error::InvalidConfig(
                "snapshots every 0 batches: give at least 1".into(),
            ));
        }
        Ok(())
    }
}

impl std::fmt::Display for TrainConfig {
    /// "training 15 epochs, batch 128, seed 42".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (epochs, batch, seed) = (self.epochs, self.batch_size, self.seed);
        write!(f, "training {epochs} epochs, batch {batch}, seed {seed}")
    }
}
