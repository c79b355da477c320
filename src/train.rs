//! Training: mini-batch gradient descent that moves every weight, filters too.
//!
//! One epoch shuffles the training set (seeded), and for each batch of 128
//! computes the logits, Keras 2's cross-entropy loss
//! `L = -mean_i log clip(softmax(logits_i)[label_i], 1e-7, 1 - 1e-7)` (see
//! [`loss`]), its gradient with respect to every weight, and an Adadelta step. After each epoch the test set is
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

use crate::data::Mnist;
use crate::error::{Error, Result};
use crate::model::{MnistCnn, PARAMETER_NAMES};
use crate::optim::{Adadelta, AdadeltaConfig};
use crate::rng::Rng;
use candle_core::{DType, Device, Tensor};
use candle_nn::Optimizer;
use serde::{Deserialize, Serialize};
use std::io::{IsTerminal, Write};
use std::time::Instant;

/// How training reports its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Progress {
    /// A bar redrawn in place on stderr (for terminals).
    Bar,
    /// A line on stdout every tenth of an epoch (for notebooks and logs).
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
        if self.snapshot_every_batches == Some(0) {
            return Err(Error::InvalidConfig(
                "snapshots every 0 batches: give at least 1".into(),
            ));
        }
        Ok(())
    }
}

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

    /// The history as pretty JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| Error::InvalidConfig(e.to_string()))
    }
}

/// An epoch being trained a batch at a time (see [`Trainer::begin_epoch`]).
#[derive(Debug)]
pub struct EpochInProgress {
    epoch: usize,
    steps: usize,
    batches: crate::data::Batches,
    dropout_rng: Rng,
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
}

/// The checkpoint tensor holding the configuration and history as JSON.
const META: &str = "meta.json";

/// Keras 2's clip of probabilities in the cross-entropy: `[1e-7, 1 - 1e-7]`.
pub const LOSS_EPSILON: f64 = 1e-7;

/// Keras 2's categorical cross-entropy of logits `[b, 10]` against labels
/// `[b]` (any integer dtype), averaged over the batch:
///
/// `L = -mean_i log(clip(p_i[label_i], 1e-7, 1 - 1e-7))` with `p_i = softmax(logits_i)`
///
/// The clip caps each example's loss at `-log(1e-7) ≈ 16.1` and, as
/// TensorFlow's `clip_by_value`, passes no gradient for a probability
/// outside the range: an example the model already gets right with
/// `p > 1 - 1e-7` (or hopelessly wrong with `p < 1e-7`) moves no weight.
/// Elsewhere the gradient with respect to the logits is `p - onehot`.
pub fn loss(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let labels = labels.to_dtype(DType::U32)?.to_device(logits.device())?;
    let p = candle_nn::ops::softmax(logits, 1)?; // [b, 10]
    let p_label = p.gather(&labels.unsqueeze(1)?, 1)?.squeeze(1)?; // [b]
                                                                   // 1 - 1e-7 in the logits' precision, as Keras computes it.
    let (low, high) = (LOSS_EPSILON, 1.0 - LOSS_EPSILON);
    let high = match logits.dtype() {
        DType::F32 => high as f32 as f64,
        _ => high,
    };
    let detached = p_label.detach();
    let inside = detached
        .ge(low)?
        .mul(&detached.le(high)?)?
        .to_dtype(logits.dtype())?; // [b], no gradient
                                    // Inside the range the probability itself (its gradient flows); outside,
                                    // the bound, a constant. A NaN stays NaN (NaN · 0 is NaN).
    let clipped = (detached.clamp(low, high)? * (1.0 - &inside)?)?;
    let kept = (p_label.mul(&inside)? + clipped)?;
    Ok(kept.log()?.neg()?.mean_all()?)
}

/// Number of rows of `logits` `[b, 10]` whose argmax is the label.
fn correct(logits: &Tensor, labels: &Tensor) -> Result<usize> {
    let pred = logits.argmax(1)?;
    let hits = pred.eq(&labels.to_dtype(DType::U32)?.to_device(logits.device())?)?;
    Ok(hits.to_dtype(DType::U32)?.sum_all()?.to_scalar::<u32>()? as usize)
}

/// Test loss and accuracy of `model` on `data`'s test set.
pub fn evaluate(model: &MnistCnn, data: &Mnist) -> Result<(f32, f32)> {
    let (mut total, mut hits, mut n) = (0.0f64, 0usize, 0usize);
    for batch in data.test_batches(1000)? {
        let (x, y) = batch?;
        let logits = model.forward(&x, None)?;
        let b = y.dim(0)?;
        total += loss(&logits, &y)?.to_scalar::<f32>()? as f64 * b as f64;
        hits += correct(&logits, &y)?;
        n += b;
    }
    if n == 0 {
        return Err(Error::InvalidConfig("the test set is empty".into()));
    }
    Ok(((total / n as f64) as f32, hits as f32 / n as f32))
}

/// The random stream of one epoch: fixed by the seed and the epoch alone, so
/// a run can be continued from any epoch.
fn epoch_rng(seed: u64, epoch: usize) -> Rng {
    let mut mix = Rng::new(seed ^ (epoch as u64).wrapping_mul(0xA24B_AED4_963E_E407));
    mix.fork()
}

/// Asks glibc's allocator to keep freed memory for reuse instead of handing
/// big blocks back to the kernel: each training step allocates the same
/// large buffers again, and fresh pages from the kernel must be zeroed
/// first. Blocks are then never served by `mmap` (whose threshold cannot be
/// raised past 32 MB) and the heap is never trimmed. Measured on a 2-core
/// machine, a full epoch of `reproduce` took 15.1 s with it and 35.5 s
/// without.
///
/// This changes the whole process, so the library never calls it by
/// itself: programs opt in (the `filters-are-weights` command does, first
/// thing). Elsewhere than glibc it does nothing.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes allocator settings, which glibc
            // allows at any time.
            unsafe {
                libc::mallopt(libc::M_MMAP_MAX, 0);
                libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
            }
        });
    }
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
        })
    }

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
        // Fresh variables, made here: see MnistCnn::fresh_copy.
        self.model = self.model.fresh_copy()?;
        self.optimizer = self.optimizer.rebind(self.model.vars().to_vec())?;
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

    /// Starts the next epoch on `data`: its batches in an order fixed by the
    /// seed and the epoch, and its dropout masks. Train it a batch at a time
    /// with [`Trainer::train_batch`] (a page trains a few batches between
    /// two redraws), then close it with [`Trainer::end_epoch`];
    /// [`Trainer::run`] does all three.
    pub fn begin_epoch(&mut self, data: &Mnist) -> Result<EpochInProgress> {
        let steps = data.train_len().div_ceil(self.config.batch_size);
        if steps == 0 {
            return Err(Error::InvalidConfig("the training set is empty".into()));
        }
        self.history.steps_per_epoch = steps;
        if self.epochs_done() == 0 && self.history.snapshots.is_empty() {
            self.maybe_snapshot(0, 0, true)?;
        }
        let epoch = self.epochs_done() + 1;
        let mut rng = epoch_rng(self.config.seed, epoch);
        let dropout_rng = rng.fork();
        let batches = data.train_batches(self.config.batch_size, &mut rng)?;
        Ok(EpochInProgress {
            epoch,
            steps,
            batches,
            dropout_rng,
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
        let Some(batch) = epoch.batches.next() else {
            return Ok(None);
        };
        let (x, y) = batch?;
        let logits = self.model.forward(&x, Some(&mut epoch.dropout_rng))?;
        let loss = loss(&logits, &y)?;
        let value = loss.to_scalar::<f32>()?;
        if !value.is_finite() {
            return Err(Error::NonFiniteLoss {
                epoch: epoch.epoch,
                batch: epoch.done + 1,
                loss: value,
            });
        }
        self.optimizer.backward_step(&loss)?;
        let size = y.dim(0)?;
        let hits = correct(&logits, &y)?;
        epoch.done += 1;
        epoch.total_loss += value as f64 * size as f64;
        epoch.hits += hits;
        epoch.seen += size;
        let step = (epoch.epoch - 1) * epoch.steps + epoch.done;
        if epoch.done < epoch.steps {
            // Mid-epoch snapshots; the epoch's end is handled by end_epoch.
            self.maybe_snapshot(epoch.epoch - 1, step, false)?;
        }
        Ok(Some(BatchStats {
            loss: value,
            correct: hits,
            size,
            step,
        }))
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
            return Err(Error::InvalidConfig(format!(
                "epoch {} is not the one in progress, or has no batch trained",
                epoch.epoch
            )));
        }
        let (test_loss, test_accuracy) = evaluate(&self.model, data)?;
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

fn report_epoch(progress: Progress, s: &EpochStats, epochs: usize) {
    if progress != Progress::Silent {
        println!(
            "epoch {}/{epochs}: train loss {:.4}, test loss {:.4}, test accuracy {:.2}% ({:.1} s)",
            s.epoch,
            s.train_loss,
            s.test_loss,
            100.0 * s.test_accuracy,
            s.train_seconds
        );
    }
}

/// A minimal progress display: a bar on a terminal, lines in a notebook.
struct ProgressBar {
    mode: Progress,
    epoch: usize,
    epochs: usize,
    steps: usize,
    next_line: usize,
}

impl ProgressBar {
    fn new(mode: Progress, epoch: usize, epochs: usize, steps: usize) -> Self {
        Self {
            mode,
            epoch,
            epochs,
            steps,
            next_line: 1,
        }
    }

    fn update(&mut self, step: usize, loss: f32, seen: usize, start: Instant) {
        let rate = seen as f32 / start.elapsed().as_secs_f32().max(1e-6);
        match self.mode {
            Progress::Bar => {
                let width = 30;
                let filled = width * step / self.steps;
                let mut err = std::io::stderr().lock();
                let _ = write!(
                    err,
                    "\repoch {}/{} [{}{}] {step}/{} loss {loss:.4} {rate:.0} img/s ",
                    self.epoch,
                    self.epochs,
                    "#".repeat(filled),
                    "-".repeat(width - filled),
                    self.steps
                );
                let _ = err.flush();
            }
            Progress::Lines => {
                if step * 10 >= self.next_line * self.steps {
                    println!(
                        "  epoch {} {:>3}%: loss {loss:.4}, {rate:.0} images/s",
                        self.epoch,
                        100 * step / self.steps
                    );
                    self.next_line = step * 10 / self.steps + 1;
                }
            }
            Progress::Silent => {}
        }
    }

    fn finish(&self) {
        if self.mode == Progress::Bar {
            eprintln!();
        }
    }
}
