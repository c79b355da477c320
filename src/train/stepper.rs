//! Training a batch at a time across epochs: what a page, or a notebook
//! cell that trains "N more batches", needs.
//!
//! [`Trainer::begin_epoch`], [`Trainer::train_batch`] and
//! [`Trainer::end_epoch`] train one epoch a batch at a time. A [`Stepper`]
//! keeps the epoch in progress between calls, begins the next one when a
//! batch is asked for and none is in progress, and closes each after its
//! last batch (the test set scored), so that any number of batches can be
//! asked for at any point. They are the trainer's own batches and steps:
//! N batches through a stepper leave the model bit for bit where the same
//! N batches of [`Trainer::run`] do.
//!
//! ```no_run
//! use filters_are_weights::prelude::*;
//! use filters_are_weights::train::Stepper;
//! let data = Mnist::load()?.subset(3840, 500)?;
//! let trainer = Trainer::new(MnistCnn::new(42, &Device::Cpu)?, TrainConfig::default())?;
//! let mut stepper = Stepper::new(trainer);
//! for _ in 0..40 {
//!     // 30 batches an epoch here: the 30th closes the first epoch.
//!     let (batch, epoch) = stepper.next(&data)?;
//!     if let Some(epoch) = epoch {
//!         println!("epoch {} ends at step {}: {:.1}%", epoch.epoch, batch.step, 100.0 * epoch.test_accuracy);
//!     }
//! }
//! assert_eq!(stepper.steps_done(), 40);
//! # Ok::<(), filters_are_weights::Error>(())
//! ```

use super::{BatchStats, EpochInProgress, EpochStats, FilterStep, Trainer};
use crate::data::Mnist;
use crate::error::{Error, Result};

/// A [`Trainer`] and the epoch it is in the middle of, if any.
#[derive(Debug)]
pub struct Stepper {
    /// The trainer: its model, settings and history.
    pub trainer: Trainer,
    epoch: Option<EpochInProgress>,
}

impl Stepper {
    /// Steps `trainer` from where it is (its next epoch begins with the
    /// first batch asked for).
    pub fn new(trainer: Trainer) -> Self {
        Stepper {
            trainer,
            epoch: None,
        }
    }

    /// Trains the next batch of `data` with `train` ([`Trainer::train_batch`]
    /// or [`Trainer::train_batch_shown`], as a closure), beginning an epoch
    /// first where none is in progress. Returns the batch's stats, what
    /// `train` returned, and, when the batch was its epoch's last, the
    /// epoch's stats (the epoch closed: the test set scored).
    pub fn next_with<T>(
        &mut self,
        data: &Mnist,
        train: impl FnOnce(&mut Trainer, &mut EpochInProgress) -> Result<Option<(BatchStats, T)>>,
    ) -> Result<(BatchStats, T, Option<EpochStats>)> {
        let mut epoch = match self.epoch.take() {
            Some(e) => e,
            None => self.trainer.begin_epoch(data)?,
        };
        let Some((stats, out)) = train(&mut self.trainer, &mut epoch)? else {
            return Err(Error::BadArgument(format!(
                "Stepper::next_with: the closure trained no batch, though batch {} of {} \
                 was next; it should train one (Trainer::train_batch)",
                epoch.batches_done() + 1,
                epoch.steps()
            )));
        };
        let ended = if epoch.batches_done() == epoch.steps() {
            Some(self.trainer.end_epoch(data, epoch, 0.0)?)
        } else {
            self.epoch = Some(epoch);
            None
        };
        Ok((stats, out, ended))
    }

    /// The next batch, trained: its stats, and the epoch's when it closed one.
    pub fn next(&mut self, data: &Mnist) -> Result<(BatchStats, Option<EpochStats>)> {
        let train =
            |t: &mut Trainer, e: &mut EpochInProgress| Ok(t.train_batch(e)?.map(|s| (s, ())));
        let (stats, (), ended) = self.next_with(data, train)?;
        Ok((stats, ended))
    }

    /// The next batch, trained and shown ([`Trainer::train_batch_shown`]).
    pub fn next_shown(
        &mut self,
        data: &Mnist,
    ) -> Result<(BatchStats, FilterStep, Option<EpochStats>)> {
        self.next_with(data, |t, e| t.train_batch_shown(e))
    }

    /// Optimizer steps taken so far, counting every epoch.
    pub fn steps_done(&self) -> usize {
        let in_progress = self.epoch.as_ref().map_or(0, |e| e.batches_done());
        self.trainer.epochs_done() * self.trainer.history.steps_per_epoch + in_progress
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::IdxImages;
    use crate::data::{Dataset, Mnist};
    use crate::model::MnistCnn;
    use crate::train::{Progress, TrainConfig};
    use candle_core::Device;

    /// `n` 28×28 images of a fixed pattern, labelled `i % 10`.
    fn images(n: usize) -> (IdxImages, Vec<u8>) {
        let pixels = (0..n * 28 * 28).map(|i| ((i * 37 + i / 784 * 11) % 256) as u8);
        let images = IdxImages {
            count: n,
            rows: 28,
            cols: 28,
            pixels: pixels.collect(),
        };
        (images, (0..n).map(|i| (i % 10) as u8).collect())
    }

    /// 300 training and 50 test images of the pattern.
    fn data() -> Mnist {
        let ((ti, tl), (vi, vl)) = (images(300), images(50));
        let names = crate::data::IDX_FILES;
        Mnist::from_parts(Dataset::Mnist, (ti, tl), (vi, vl), names, "a pattern").unwrap()
    }

    fn trainer() -> Trainer {
        let config = TrainConfig {
            epochs: 2,
            snapshot_epochs: Vec::new(),
            progress: Progress::Silent,
            ..TrainConfig::default()
        };
        Trainer::new(MnistCnn::new(5, &Device::Cpu).unwrap(), config).unwrap()
    }

    /// Two epochs of 3 batches (300 patterned images, batch 128), stepped a
    /// batch at a time (the fifth shown): each epoch closed once, at its last
    /// batch; the same filters and test scores as `Trainer::run` on the same
    /// data; a seventh batch begins the third epoch.
    #[test]
    fn a_closure_that_trains_no_batch_is_an_error_not_a_panic() {
        let data = data();
        let mut stepper = Stepper::new(trainer());
        let err = stepper
            .next_with(&data, |_, _| Ok(None::<(BatchStats, ())>))
            .unwrap_err();
        assert!(err.to_string().contains("trained no batch"), "{err}");
    }

    #[test]
    fn stepping_across_epochs_is_running_them() {
        let data = data();
        let mut run = trainer();
        run.run(&data).unwrap();
        let mut stepper = Stepper::new(trainer());
        let mut closed = Vec::new();
        for i in 0..6 {
            let (batch, epoch) = if i == 4 {
                let (b, step, e) = stepper.next_shown(&data).unwrap();
                assert_eq!(step.after.dims(), &[32, 1, 3, 3]);
                (b, e)
            } else {
                stepper.next(&data).unwrap()
            };
            assert_eq!(batch.step, i + 1);
            assert_eq!(stepper.steps_done(), i + 1);
            if let Some(e) = epoch {
                closed.push((batch.step, e.epoch));
            }
        }
        assert_eq!(closed, [(3, 1), (6, 2)]);
        let (a, b) = (&run.history.epochs, &stepper.trainer.history.epochs);
        assert_eq!(a.len(), 2);
        for (x, y) in a.iter().zip(b) {
            assert_eq!(
                (x.test_loss, x.test_accuracy),
                (y.test_loss, y.test_accuracy)
            );
        }
        assert_eq!(
            run.model.conv1_filter_values().unwrap(),
            stepper.trainer.model.conv1_filter_values().unwrap()
        );
        // The seventh batch begins the third epoch.
        stepper.next(&data).unwrap();
        assert_eq!(stepper.steps_done(), 7);
        assert_eq!(stepper.trainer.epochs_done(), 2);
    }
}
