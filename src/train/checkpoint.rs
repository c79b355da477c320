//! Checkpoints: a run saved after an epoch, continued later bit for bit.

use super::{History, TrainConfig, Trainer};
use crate::error::{Error, Result};
use crate::model::{MnistCnn, PARAMETER_NAMES};
use candle_core::{Device, Tensor};

/// The checkpoint tensor holding the configuration and history as JSON.
const META: &str = "meta.json";

impl Trainer {
    /// Saves everything needed to continue this run later, in one
    /// safetensors file written atomically: the weights (under the names of
    /// [`crate::model::PARAMETER_NAMES`], so [`MnistCnn::load`] reads it too),
    /// the optimizer's running averages, and the configuration and history
    /// (as JSON bytes in the tensor `meta.json`).
    pub fn save_checkpoint(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        let mut tensors = self.model.named_tensors();
        for (name, (a, d)) in PARAMETER_NAMES.iter().zip(self.optimizer.state()?) {
            tensors.insert(format!("adadelta.{name}.avg_sq_grad"), a);
            tensors.insert(format!("adadelta.{name}.avg_sq_update"), d);
        }
        let meta = serde_json::to_vec(&(&self.config, &self.history))
            .map_err(|e| Error::InvalidConfig(e.to_string()))?;
        let len = meta.len();
        tensors.insert(META.to_string(), Tensor::from_vec(meta, len, &Device::Cpu)?);
        crate::io::write_safetensors(path, &tensors)
    }

    /// A trainer that continues the run saved by [`Trainer::save_checkpoint`]
    /// exactly where it stopped: a resumed run ends with the same filters, bit
    /// for bit, as one never interrupted.
    pub fn from_checkpoint(path: impl AsRef<std::path::Path>, device: &Device) -> Result<Self> {
        let path = path.as_ref();
        let bad = |problem: String| Error::Checkpoint {
            path: path.to_path_buf(),
            problem,
        };
        let model = MnistCnn::load(path, device)?;
        let mut tensors = candle_core::safetensors::load(path, device)
            .map_err(|e| bad(format!("not a readable safetensors file ({e})")))?;
        let meta = tensors.remove(META).ok_or_else(|| {
            bad(
                "it holds a model but no training state: it was saved by MnistCnn::save, \
                 not Trainer::save_checkpoint"
                    .into(),
            )
        })?;
        let (config, history): (TrainConfig, History) =
            serde_json::from_slice(&meta.to_vec1::<u8>()?)
                .map_err(|e| bad(format!("its training state is unreadable ({e})")))?;
        let mut state = Vec::new();
        for name in PARAMETER_NAMES {
            let mut take = |what: &str| {
                tensors
                    .remove(&format!("adadelta.{name}.{what}"))
                    .ok_or_else(|| bad(format!("it has no optimizer state for {name}")))
            };
            state.push((take("avg_sq_grad")?, take("avg_sq_update")?));
        }
        let mut trainer = Trainer::new(model, config)?;
        trainer.optimizer.set_state(state)?;
        trainer.history = history;
        Ok(trainer)
    }
}
