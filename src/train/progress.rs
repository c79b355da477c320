//! How training shows its progress: a bar on a terminal, a line per epoch
//! elsewhere.

use super::{EpochStats, Progress};
use std::io::Write;
use std::time::Instant;

pub(super) fn report_epoch(progress: Progress, s: &EpochStats, epochs: usize) {
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

/// A progress bar on a terminal, redrawn in place on stderr (other modes
/// print only the epoch's line, from `report_epoch`).
pub(super) struct ProgressBar {
    mode: Progress,
    epoch: usize,
    epochs: usize,
    steps: usize,
}

impl ProgressBar {
    pub(super) fn new(mode: Progress, epoch: usize, epochs: usize, steps: usize) -> Self {
        Self {
            mode,
            epoch,
            epochs,
            steps,
        }
    }

    pub(super) fn update(&mut self, step: usize, loss: f32, seen: usize, start: Instant) {
        if self.mode != Progress::Bar {
            return;
        }
        let rate = seen as f32 / start.elapsed().as_secs_f32().max(1e-6);
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

    pub(super) fn finish(&self) {
        if self.mode == Progress::Bar {
            eprintln!();
        }
    }
}
