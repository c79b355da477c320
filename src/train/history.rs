//! What a run measured and kept: per-epoch numbers and filter snapshots.

use crate::error::{Error, Result};
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// The first layer's filters at one moment of training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Epochs completed when it was taken.
    pub epoch: usize,
    /// Batches (optimizer steps) completed, counting all epochs.
    pub step: usize,
    /// The 32 filters, `[32, 1, 3, 3]` row-major.
    pub filters: Vec<f32>,
}

impl Snapshot {
    /// The filters as a tensor `[32, 1, 3, 3]`.
    pub fn tensor(&self) -> Result<Tensor> {
        let n = self.filters.len() / 9;
        Ok(Tensor::from_slice(
            &self.filters,
            (n, 1, 3, 3),
            &Device::Cpu,
        )?)
    }

    /// A short label: "epoch 7", or "step 40" between epochs.
    pub fn label(&self, steps_per_epoch: usize) -> String {
        if steps_per_epoch > 0 && self.step == self.epoch * steps_per_epoch {
            format!("epoch {}", self.epoch)
        } else {
            format!("step {}", self.step)
        }
    }
}

/// How one epoch went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// The epoch, counting from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch (with dropout).
    pub train_loss: f32,
    /// Training accuracy over the epoch (with dropout).
    pub train_accuracy: f32,
    /// Loss on the test set.
    pub test_loss: f32,
    /// Accuracy on the test set.
    pub test_accuracy: f32,
    /// Wall time of the epoch's training, in seconds.
    pub train_seconds: f32,
}

/// Everything a run measured and kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One entry per completed epoch.
    pub epochs: Vec<EpochStats>,
    /// Filter snapshots, in the order taken.
    pub snapshots: Vec<Snapshot>,
    /// Batches per epoch.
    pub steps_per_epoch: usize,
    /// The data set trained on (MNIST in histories written before there
    /// was a choice).
    #[serde(default)]
    pub dataset: crate::data::Dataset,
}

impl History {
    /// The snapshot taken after `epoch` complete epochs, if any.
    pub fn at_epoch(&self, epoch: usize) -> Option<&Snapshot> {
        self.snapshots
            .iter()
            .find(|s| s.epoch == epoch && s.step == epoch * self.steps_per_epoch)
    }

    /// The snapshots taken at the end of an epoch (not those between epochs).
    pub fn epoch_snapshots(&self) -> Vec<Snapshot> {
        self.snapshots
            .iter()
            .filter(|s| s.step == s.epoch * self.steps_per_epoch)
            .cloned()
            .collect()
    }

    /// The history a run wrote (`history.json`, see [`History::to_json`]).
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::bad_data(path, format!("not a history written by reproduce ({e})")))
    }

    /// The history as pretty JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| Error::Internal(format!("the history cannot be written as JSON ({e})")))
    }
}

impl std::fmt::Display for History {
    /// "test accuracy 99.07% after 15 epochs (190.3 s of training, 12.7 s
    /// per epoch)".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total: f32 = self.epochs.iter().map(|e| e.train_seconds).sum();
        let n = self.epochs.len();
        write!(
            f,
            "test accuracy {:.2}% after {n} epochs ({total:.1} s of training, {:.1} s per epoch)",
            100.0 * self.epochs.last().map_or(0.0, |e| e.test_accuracy),
            total / n.max(1) as f32,
        )
    }
}
