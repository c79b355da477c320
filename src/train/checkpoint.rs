//! Checkpoints: a run saved after an epoch, continued later bit for bit.

use super::{History, TrainConfig, Trainer};
use crate::data::Mnist;
use crate::error::{Error, Result};
use crate::model::{MnistCnn, PARAMETER_NAMES};
use candle_core::{Device, Tensor};

/// The checkpoint's name in a run's folder (see [`Trainer::run_saving`]).
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";

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
            .map_err(|e| Error::Internal(format!("the training state cannot be written ({e})")))?;
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

    /// The run saved in `checkpoint`, continued under `config` on `data`
    /// (for `config.epochs` epochs in all): refused, with the reason and what
    /// to do, where the checkpoint was made with another seed, batch size,
    /// data set or number of batches per epoch, or already holds more epochs.
    pub fn resume(
        checkpoint: impl AsRef<std::path::Path>,
        config: &TrainConfig,
        data: &Mnist,
        device: &Device,
    ) -> Result<Self> {
        let checkpoint = checkpoint.as_ref();
        let t = Trainer::from_checkpoint(checkpoint, device)?;
        let refuse = |problem: String| Error::CannotResume {
            path: checkpoint.to_path_buf(),
            problem,
        };
        let mismatch = |what: &str, then: String, now: String| {
            refuse(format!(
                "it was made with {what} {then}, this run has {now}; \
                 resume with the same settings, or start afresh"
            ))
        };
        if t.config.seed != config.seed {
            let (then, now) = (t.config.seed, config.seed);
            return Err(mismatch("seed", then.to_string(), now.to_string()));
        }
        if t.config.batch_size != config.batch_size {
            let (then, now) = (t.config.batch_size, config.batch_size);
            return Err(mismatch("batch size", then.to_string(), now.to_string()));
        }
        if t.config.frozen_filters != config.frozen_filters {
            let show = |f: &[usize]| format!("{f:?}");
            let (then, now) = (show(&t.config.frozen_filters), show(&config.frozen_filters));
            return Err(mismatch("frozen filters", then, now));
        }
        if t.epochs_done() > 0 && t.history.dataset != data.dataset {
            let (then, now) = (t.history.dataset.id(), data.dataset.id());
            return Err(mismatch("data set", then.into(), now.into()));
        }
        let steps = data.train_len().div_ceil(config.batch_size);
        if t.history.steps_per_epoch != steps {
            return Err(refuse(format!(
                "it was trained with {} batches per epoch, this data gives {steps}; \
                 resume on the same data, or start afresh",
                t.history.steps_per_epoch
            )));
        }
        if t.epochs_done() > config.epochs {
            return Err(refuse(format!(
                "it already holds {} epochs, more than the {} this run trains",
                t.epochs_done(),
                config.epochs
            )));
        }
        let mut trainer = Trainer::new(t.model, config.clone())?;
        trainer.optimizer = t.optimizer;
        trainer.history = t.history;
        Ok(trainer)
    }

    /// [`Trainer::resume`] from `checkpoint` when `resume` is asked and the
    /// file is there, else a fresh trainer of `MnistCnn::new(config.seed)`
    /// (its `epochs_done()` tells which).
    pub fn resume_or_new(
        checkpoint: impl AsRef<std::path::Path>,
        resume: bool,
        config: &TrainConfig,
        data: &Mnist,
        device: &Device,
    ) -> Result<Self> {
        let checkpoint = checkpoint.as_ref();
        if resume && checkpoint.is_file() {
            Trainer::resume(checkpoint, config, data, device)
        } else {
            Trainer::new(MnistCnn::new(config.seed, device)?, config.clone())
        }
    }

    /// Trains until `config.epochs` epochs are done, saving into `dir` after
    /// every epoch, each file complete on disk (written atomically): the
    /// checkpoint to resume from (`checkpoint.safetensors`), the model
    /// (`model.safetensors`) and the history (`history.json`); after the
    /// post's epochs (1, 7, 15 and the last, see
    /// [`TrainConfig::post_snapshot_epochs`]) the model once more, as it was
    /// then ([`post_model_file`]), for the figures of the second layer over
    /// training.
    pub fn run_saving(&mut self, data: &Mnist, dir: impl AsRef<std::path::Path>) -> Result<()> {
        let dir = dir.as_ref();
        let remaining = self.config.epochs.saturating_sub(self.epochs_done());
        let post = TrainConfig::post_snapshot_epochs(self.config.epochs);
        self.run_epochs_with(data, remaining, |t| {
            t.save_checkpoint(dir.join(CHECKPOINT_FILE))?;
            t.model.save(dir.join("model.safetensors"))?;
            if post.contains(&t.epochs_done()) {
                t.model.save(dir.join(post_model_file(t.epochs_done())))?;
            }
            crate::io::write_atomic(dir.join("history.json"), t.history.to_json()?.as_bytes())
        })
    }
}

/// The name [`Trainer::run_saving`] gives the model after `epoch` epochs,
/// one of the post's: `model-epoch-07.safetensors`.
pub fn post_model_file(epoch: usize) -> String {
    format!("model-epoch-{epoch:02}.safetensors")
}
