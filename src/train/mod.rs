//! Training: mini-batch gradient descent that moves every weight, filters too.
//!
//! One epoch shuffles the training set (seeded), and for each batch of 128
//! computes the logits, Keras 2's cross-entropy loss
//! `L = -mean_i log clip(softmax(logits_i)[label_i], 1e-7, 1 - 1e-7)` (see
//! [`loss`]), its gradient with respect to every weight, and an Adadelta step
//! (on the CPU all in buffers the trainer keeps from step to step, see
//! `model::fused_step`; elsewhere through candle's autograd). After each epoch the test set is
//! scored. Snapshots of the first layer's 32 filters `[32, 1, 3, 3]` are kept
//! at chosen epochs (epoch 0 is the random start) and, optionally, every N
//! batches: the pictures of the lesson.
//!
//! Everything random (shuffling, dropout, initialisation) comes from the seed,
//! so two runs with the same seed end with the same filters.
//!
//! ```no_run
//! use filters_are_weights::{data::Mnist, model::MnistCnn, train::{TrainConfig, Trainer}};
//! let data = Mnist::load()?.subset(2000, 500)?;
//! let config = TrainConfig { epochs: 1, snapshot_epochs: vec![0, 1], ..TrainConfig::default() };
//! let mut trainer = Trainer::new(MnistCnn::new(config.seed, &candle_core::Device::Cpu)?, config)?;
//! let history = trainer.run(&data)?;
//! println!("test accuracy {:.2}%", 100.0 * history.epochs[0].test_accuracy);
//! # Ok::<(), filters_are_weights::Error>(())
//! ```

mod checkpoint;
mod config;
mod freeze;
mod history;
mod loss;
mod notebook;
mod progress;
mod stepper;

pub use checkpoint::{post_model_file, CHECKPOINT_FILE};
pub use config::{Progress, TrainConfig, EARLY_STEPS};
pub use history::{EpochStats, History, Snapshot};
pub use loss::{evaluate, loss, LOSS_EPSILON};
pub use stepper::Stepper;

use crate::data::Mnist;
use crate::error::{Error, Result};
use crate::model::fused_step::FusedStep;
use crate::model::MnistCnn;
use crate::optim::Adadelta;
use crate::rng::Rng;
use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor};
use candle_nn::Optimizer;
use loss::correct;
use progress::{report_epoch, ProgressBar};
use std::time::Instant;

/// An epoch being trained a batch at a time (see [`Trainer::begin_epoch`]).
#[derive(Debug)]
pub struct EpochInProgress {
    epoch: usize,
    steps: usize,
    batches: crate::data::Batches,
    done: usize,
    total_loss: f64,
    hits: usize,
    seen: usize,
}

impl EpochInProgress {
    /// The epoch, counting from 1.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// Batches in the epoch.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Batches trained so far.
    pub fn batches_done(&self) -> usize {
        self.done
    }

    /// Mean training loss over the batches so far (with dropout).
    pub fn mean_loss(&self) -> f32 {
        (self.total_loss / self.seen.max(1) as f64) as f32
    }
}

/// One step of gradient descent, shown on the 32 first-layer filters
/// (every tensor `[32, 1, 3, 3]`): see [`Trainer::filter_step`].
#[derive(Debug, Clone)]
pub struct FilterStep {
    /// The batch's loss before the step (with dropout).
    pub loss: f32,
    /// The filters before the step.
    pub before: Tensor,
    /// `∂loss/∂w` for every weight of every filter: where a small move of
    /// that weight would raise the loss.
    pub gradient: Tensor,
    /// What Adadelta did to them, `after - before`: against the gradient,
    /// each weight by `lr · g · sqrt(d + eps) / sqrt(a + eps)`.
    pub update: Tensor,
    /// The filters after the step.
    pub after: Tensor,
}

/// What one batch of training did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchStats {
    /// The batch's loss (with dropout), before the step.
    pub loss: f32,
    /// Images of the batch the model got right (before the step).
    pub correct: usize,
    /// Images in the batch.
    pub size: usize,
    /// Optimizer steps taken so far, counting all epochs.
    pub step: usize,
}

/// Trains a [`MnistCnn`] and keeps its [`History`].
#[derive(Debug)]
pub struct Trainer {
    /// The model being trained.
    pub model: MnistCnn,
    /// The run's settings.
    pub config: TrainConfig,
    /// What has been measured so far.
    pub history: History,
    optimizer: Adadelta,
    /// The buffers of a step on the CPU (see [`FusedStep`]).
    fused: FusedStep,
}

/// The gradient of a batch's loss with respect to every weight.
enum Gradients {
    /// candle's autograd's: any device, any dtype, and the reference.
    Autograd(GradStore),
    /// In the trainer's [`FusedStep`] (on the CPU, in f32).
    Fused,
}

/// The random stream of one epoch: fixed by the seed and the epoch alone, so
/// a run can be continued from any epoch.
fn epoch_rng(seed: u64, epoch: usize) -> Rng {
    let mut mix = Rng::new(seed ^ (epoch as u64).wrapping_mul(0xA24B_AED4_963E_E407));
    mix.fork()
}

impl Trainer {
    /// A trainer for `model` with a fresh optimizer.
    pub fn new(model: MnistCnn, config: TrainConfig) -> Result<Self> {
        config.validate()?;
        let optimizer = Adadelta::new(model.vars().to_vec(), config.optimizer)?;
        Ok(Self {
            model,
            config,
            history: History::default(),
            optimizer,
            fused: FusedStep::default(),
        })
    }
    /// Epochs completed so far.
    pub fn epochs_done(&self) -> usize {
        self.history.epochs.len()
    }

    /// Trains until `config.epochs` epochs are done and returns the history.
    pub fn run(&mut self, data: &Mnist) -> Result<&History> {
        let remaining = self.config.epochs.saturating_sub(self.epochs_done());
        self.run_epochs(data, remaining)?;
        Ok(&self.history)
    }

    /// Trains `n` more epochs (possibly past `config.epochs`).
    pub fn run_epochs(&mut self, data: &Mnist, n: usize) -> Result<()> {
        self.run_epochs_with(data, n, |_| Ok(()))
    }

    /// Trains `n` more epochs, calling `after_epoch` once each is done (to
    /// save a checkpoint, print, ...).
    pub fn run_epochs_with(
        &mut self,
        data: &Mnist,
        n: usize,
        mut after_epoch: impl FnMut(&Trainer) -> Result<()>,
    ) -> Result<()> {
        for _ in 0..n {
            let mut epoch = self.begin_epoch(data)?;
            let start = Instant::now();
            let mut bar = ProgressBar::new(
                self.config.progress,
                epoch.epoch,
                self.config.epochs,
                epoch.steps,
            );
            while self.train_batch(&mut epoch)?.is_some() {
                bar.update(epoch.done, epoch.mean_loss(), epoch.seen, start);
            }
            bar.finish();
            let stats = self.end_epoch(data, epoch, start.elapsed().as_secs_f32())?;
            report_epoch(self.config.progress, &stats, self.config.epochs);
            after_epoch(self)?;
        }
        Ok(())
    }

    /// One training step on one batch (images `[b, 1, 28, 28]`, labels `[b]`),
    /// shown: the loss, the gradient of the loss with respect to each of the
    /// 32 first-layer filters, and the Adadelta step it leads to. The step is
    /// taken, as in training (dropout draws from the model's stream, see
    /// `MnistCnn::seed_dropout`).
    ///
    /// ```no_run
    /// # use filters_are_weights::prelude::*;
    /// # let data = Mnist::load()?;
    /// let mut trainer = Trainer::new(MnistCnn::new(42, &Device::Cpu)?, TrainConfig::default())?;
    /// let (images, labels) = data.train_batches(128, &mut filters_are_weights::rng::Rng::new(1))?
    ///     .next().unwrap()?;
    /// let step = trainer.filter_step(&images, &labels)?;
    /// assert_eq!(step.gradient.dims(), &[32, 1, 3, 3]);
    /// # Ok::<(), filters_are_weights::Error>(())
    /// ```
    pub fn filter_step(&mut self, images: &Tensor, labels: &Tensor) -> Result<FilterStep> {
        self.follow_notebook_cell()?;
        let logits = self.forward_for_training(images)?;
        let loss = loss(&logits, labels)?;
        self.step_shown(&logits, &loss)
    }

    /// The logits `[b, 10]` of a training batch (dropout on): on the CPU by
    /// the trainer's [`FusedStep`], which keeps what its backward pass
    /// needs; elsewhere by the model, recorded by candle's autograd.
    fn forward_for_training(&mut self, images: &Tensor) -> Result<Tensor> {
        if FusedStep::fits(&self.model) {
            let logits = self.fused.forward(&self.model, images, true)?;
            return Ok(candle_core::Var::from_tensor(&logits)?.as_tensor().clone());
        }
        self.model.forward_t(images, true)
    }

    /// The gradient of `loss`, computed from `logits` (the last
    /// [`Trainer::forward_for_training`]'s), with respect to every weight.
    fn gradients(&mut self, logits: &Tensor, loss: &Tensor) -> Result<Gradients> {
        let grads = loss.backward()?;
        if !FusedStep::fits(&self.model) {
            return Ok(Gradients::Autograd(grads));
        }
        let d_logits = grads
            .get(logits)
            .ok_or_else(|| Error::Internal("the logits got no gradient".into()))?;
        self.fused.backward(&self.model, d_logits)?;
        Ok(Gradients::Fused)
    }

    /// The gradient of `loss` and the Adadelta step it leads to, with the
    /// filters before and after it.
    fn step_shown(&mut self, logits: &Tensor, loss: &Tensor) -> Result<FilterStep> {
        let before = self.model.conv1_filters()?;
        let grads = self.gradients(logits, loss)?;
        let kernel = self.model.vars()[0].as_tensor().clone(); // conv1.kernel [3, 3, 1, 32]
        let gradient = match &grads {
            Gradients::Autograd(grads) => grads
                .get(&kernel)
                .ok_or_else(|| Error::Internal("the filters got no gradient".into()))?
                .clone(),
            Gradients::Fused => {
                let g = &self.fused.gradients()[0];
                Tensor::from_slice(g, kernel.shape(), kernel.device())?
            }
        };
        let gradient = gradient.permute((3, 2, 0, 1))?.contiguous()?; // [32, 1, 3, 3]
        self.optimizer_step(grads)?;
        let after = self.model.conv1_filters()?;
        Ok(FilterStep {
            loss: loss.to_dtype(DType::F32)?.to_scalar::<f32>()?,
            update: (&after - &before)?,
            before,
            gradient,
            after,
        })
    }

    /// Starts the next epoch on `data`: its batches in an order fixed by the
    /// seed and the epoch, and its dropout masks. Train it a batch at a time
    /// with [`Trainer::train_batch`] (a page trains a few batches between
    /// two redraws), then close it with [`Trainer::end_epoch`];
    /// [`Trainer::run`] does all three.
    pub fn begin_epoch(&mut self, data: &Mnist) -> Result<EpochInProgress> {
        let steps = data.train_len().div_ceil(self.config.batch_size);
        if steps == 0 {
            return Err(Error::BadArgument("the training set is empty".into()));
        }
        self.history.steps_per_epoch = steps;
        self.history.dataset = data.dataset;
        if self.epochs_done() == 0 && self.history.snapshots.is_empty() {
            self.maybe_snapshot(0, 0, true)?;
        }
        let epoch = self.epochs_done() + 1;
        let mut rng = epoch_rng(self.config.seed, epoch);
        self.model.seed_dropout(rng.fork());
        let batches = data.train_batches(self.config.batch_size, &mut rng)?;
        Ok(EpochInProgress {
            epoch,
            steps,
            batches,
            done: 0,
            total_loss: 0.0,
            hits: 0,
            seen: 0,
        })
    }

    /// Trains the next batch of `epoch`: the forward pass, the loss, its
    /// gradient with respect to every weight and one Adadelta step. `None`
    /// when the epoch has no batch left.
    pub fn train_batch(&mut self, epoch: &mut EpochInProgress) -> Result<Option<BatchStats>> {
        let step = |t: &mut Self, logits: &Tensor, loss: &Tensor| {
            let grads = t.gradients(logits, loss)?;
            t.optimizer_step(grads)
        };
        Ok(self.train_batch_with(epoch, step)?.map(|(stats, ())| stats))
    }

    /// [`Trainer::train_batch`], the step shown as [`Trainer::filter_step`]
    /// shows it (the same step: the page's "one batch").
    pub fn train_batch_shown(
        &mut self,
        epoch: &mut EpochInProgress,
    ) -> Result<Option<(BatchStats, FilterStep)>> {
        self.train_batch_with(epoch, Self::step_shown)
    }

    fn train_batch_with<T: Send>(
        &mut self,
        epoch: &mut EpochInProgress,
        step: impl FnOnce(&mut Self, &Tensor, &Tensor) -> Result<T> + Send,
    ) -> Result<Option<(BatchStats, T)>> {
        let Some(batch) = epoch.batches.next() else {
            return Ok(None);
        };
        self.follow_notebook_cell()?;
        let (x, y) = batch?;
        let at = (epoch.epoch, epoch.done + 1);
        // The step runs on one of rayon's threads, so that each of its many
        // parallel passes starts from inside the pool; from this thread, each
        // would be handed over to the pool while this thread sleeps until a
        // pool thread wakes it at the pass's end.
        let (value, shown, hits) = rayon::scope(|_| -> Result<_> {
            let logits = self.forward_for_training(&x)?;
            let loss = loss(&logits, &y)?;
            let value = loss.to_scalar::<f32>()?;
            if !value.is_finite() {
                let (epoch, batch) = at;
                return Err(Error::NonFiniteLoss {
                    epoch,
                    batch,
                    loss: value,
                });
            }
            let shown = step(self, &logits, &loss)?;
            Ok((value, shown, correct(&logits, &y)?))
        })?;
        let size = y.dim(0)?;
        epoch.done += 1;
        epoch.total_loss += value as f64 * size as f64;
        epoch.hits += hits;
        epoch.seen += size;
        let step = (epoch.epoch - 1) * epoch.steps + epoch.done;
        if epoch.done < epoch.steps {
            // Mid-epoch snapshots; the epoch's end is handled by end_epoch.
            self.maybe_snapshot(epoch.epoch - 1, step, false)?;
        }
        let stats = BatchStats {
            loss: value,
            correct: hits,
            size,
            step,
        };
        Ok(Some((stats, shown)))
    }

    /// Closes `epoch` (trained for `train_seconds`): scores `data`'s test
    /// set, records the epoch in the history and keeps its snapshot.
    pub fn end_epoch(
        &mut self,
        data: &Mnist,
        epoch: EpochInProgress,
        train_seconds: f32,
    ) -> Result<EpochStats> {
        if epoch.epoch != self.epochs_done() + 1 || epoch.done == 0 {
            return Err(Error::BadArgument(format!(
                "epoch {} is not the one in progress, or has no batch trained",
                epoch.epoch
            )));
        }
        // On one of rayon's threads, as a training step is (`train_batch_with`).
        let (model, fused) = (&self.model, &mut self.fused);
        let (test_loss, test_accuracy) = rayon::scope(|_| loss::evaluate_with(model, data, fused))?;
        let stats = EpochStats {
            epoch: epoch.epoch,
            train_loss: epoch.mean_loss(),
            train_accuracy: epoch.hits as f32 / epoch.seen as f32,
            test_loss,
            test_accuracy,
            train_seconds,
        };
        self.history.epochs.push(stats.clone());
        let steps = self.history.steps_per_epoch;
        self.maybe_snapshot(epoch.epoch, epoch.epoch * steps, true)?;
        Ok(stats)
    }

    fn maybe_snapshot(&mut self, epoch: usize, step: usize, epoch_end: bool) -> Result<()> {
        let by_epoch = epoch_end && self.config.snapshot_epochs.contains(&epoch);
        let by_step = self
            .config
            .snapshot_every_batches
            .is_some_and(|every| step % every == 0)
            || self.config.snapshot_steps.contains(&step);
        let taken = self.history.snapshots.iter().any(|s| s.step == step);
        if (by_epoch || by_step) && !taken {
            let filters = self.model.conv1_filter_values()?;
            self.history.snapshots.push(Snapshot {
                epoch,
                step,
                filters,
            });
        }
        Ok(())
    }
}
