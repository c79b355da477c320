//! What the experiment measured: every run's epochs and filters, and the
//! numbers that answer its questions.

use super::{Arm, ExperimentConfig};
use crate::analysis::centred_cosine;
use crate::error::{Error, Result};
use crate::kernels::hand_chosen;
use crate::second_layer::best_matches;
use crate::train::{EpochStats, Snapshot};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One arm trained with one seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmRun {
    /// Which arm.
    pub arm: Arm,
    /// Its seed.
    pub seed: u64,
    /// How each epoch went.
    pub epochs: Vec<EpochStats>,
    /// The first layer's filters before training, `[32, 1, 3, 3]` row-major.
    pub start: Vec<f32>,
    /// The same filters after training.
    pub end: Vec<f32>,
    /// The filters at the snapshot epochs of the run's settings (every
    /// epoch, by default).
    #[serde(default)]
    pub snapshots: Vec<Snapshot>,
    /// Batches per epoch.
    #[serde(default)]
    pub steps_per_epoch: usize,
    /// Wall time of the run (training and testing), in seconds.
    pub seconds: f32,
    /// What the trained second layer sees: each conv2 channel's mean top
    /// patch over the test images, `[64][25]`
    /// ([`crate::second_layer::mean_top_patches`], 9 images a channel);
    /// empty in results saved before it was kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub second_layer: Vec<Vec<f32>>,
}

impl ArmRun {
    /// The last epoch's numbers.
    pub fn last(&self) -> Option<&EpochStats> {
        self.epochs.last()
    }
}

/// Everything the experiment ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// Its settings.
    pub config: ExperimentConfig,
    /// The data set (MNIST in files written before there was a choice).
    #[serde(default)]
    pub dataset: crate::data::Dataset,
    /// Training images each run saw per epoch.
    pub train_images: usize,
    /// Test images each epoch was scored on.
    pub test_images: usize,
    /// The runs, in the order they ran.
    pub runs: Vec<ArmRun>,
}

/// The smallest, mean and largest of some numbers (one per seed).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The mean.
    pub mean: f32,
    /// The smallest.
    pub min: f32,
    /// The largest.
    pub max: f32,
}

impl Spread {
    /// The spread of `values` (all zero when there are none).
    pub fn of(values: &[f32]) -> Self {
        if values.is_empty() {
            return Self {
                mean: 0.0,
                min: 0.0,
                max: 0.0,
            };
        }
        Self {
            mean: values.iter().sum::<f32>() / values.len() as f32,
            min: values.iter().copied().fold(f32::INFINITY, f32::min),
            max: values.iter().copied().fold(f32::NEG_INFINITY, f32::max),
        }
    }
}

/// One arm over its seeds, at the end of training.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmSummary {
    /// Which arm.
    pub arm: Arm,
    /// How many seeds ran.
    pub seeds: usize,
    /// Test accuracy after the last epoch, 0..1.
    pub accuracy: Spread,
    /// Test loss after the last epoch.
    pub loss: Spread,
    /// How much the first layer's filters look like the hand-chosen bank:
    /// for each filter its best centred cosine to a kernel of the bank,
    /// averaged over the filters (and the seeds).
    pub like_the_bank: f32,
    /// Mean wall time of one run, in seconds.
    pub seconds: f32,
}

/// Where one filter of a [`Arm::HandThenLearned`] run went: did the sobel
/// stay a sobel?
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    /// The run's seed.
    pub seed: u64,
    /// The filter, 0..32.
    pub filter: usize,
    /// The bank's kernel it started as.
    pub start: &'static str,
    /// Centred cosine of the trained filter with its start, -1..1.
    pub with_start: f32,
    /// The bank's kernel the trained filter is most like: its start where
    /// the start is as like it as the best (within 1e-6), else the first of
    /// the bank's best.
    pub nearest: &'static str,
    /// Its centred cosine.
    pub nearest_score: f32,
}

impl Drift {
    /// Whether the filter is still most like the kernel it started as (or
    /// as like it as any other: centred, identity and outline are one, and
    /// then [`Drift::nearest`] names the start).
    pub fn stayed(&self) -> bool {
        self.nearest == self.start
    }
}

/// The centred cosine at which a conv2 channel of one network counts as
/// matched by one of another's ([`SecondLayerLikeness`]).
pub const CHANNEL_MATCH: f32 = 0.8;

/// How alike two arms' second layers are: each conv2 channel's mean top
/// patch matched against the other network's channels
/// ([`crate::second_layer::best_matches`]), in both directions. Runs of the
/// same seed share the start of every weight but the first layer's, so
/// they are counted apart from runs of other seeds: an arm against itself
/// over other seeds says how alike two networks come out that differ only
/// by their start.
#[derive(Debug, Clone, PartialEq)]
pub struct SecondLayerLikeness {
    /// The two arms (the same one twice: across its seeds).
    pub arms: (Arm, Arm),
    /// Whether the pairs share their seed (else each pair's seeds differ).
    pub same_seed: bool,
    /// How many pairs of runs.
    pub pairs: usize,
    /// Channels of 64 with a match at [`CHANNEL_MATCH`] or above (the two
    /// directions averaged), over the pairs.
    pub matched: Spread,
    /// Each channel's best centred cosine, averaged over the channels (and
    /// the two directions), over the pairs.
    pub cosine: Spread,
}

/// The best centred cosine of `filter` (9 numbers) to a kernel of the bank,
/// and that kernel (the first of equals).
fn nearest_in_bank(filter: &[f32]) -> (&'static str, f32) {
    hand_chosen()
        .iter()
        .map(|k| (k.name, centred_cosine(filter, &k.weights.concat())))
        .fold(
            ("", f32::NEG_INFINITY),
            |best, m| {
                if m.1 > best.1 {
                    m
                } else {
                    best
                }
            },
        )
}

/// Two networks' second layers (mean top patches) matched in both
/// directions: (channels matched at [`CHANNEL_MATCH`], mean best cosine),
/// each the mean of the two directions.
fn channel_likeness(a: &[Vec<f32>], b: &[Vec<f32>]) -> (f32, f32) {
    let one_way = |a: &[Vec<f32>], b: &[Vec<f32>]| {
        // Both sides hold patches of one size (checked where results are
        // loaded or made), and neither is empty (checked by the caller).
        let best = best_matches(a, b).unwrap_or_default();
        let matched = best.iter().filter(|m| m.1 >= CHANNEL_MATCH).count() as f32;
        let cosine = best.iter().map(|m| m.1).sum::<f32>() / best.len().max(1) as f32;
        (matched, cosine)
    };
    let (ab, ba) = (one_way(a, b), one_way(b, a));
    ((ab.0 + ba.0) / 2.0, (ab.1 + ba.1) / 2.0)
}

/// Mean, over the filters of `filters` (`[n, 1, 3, 3]` row-major), of each
/// one's best centred cosine to the bank.
pub fn likeness_to_bank(filters: &[f32]) -> f32 {
    let scores: Vec<f32> = filters.chunks(9).map(|f| nearest_in_bank(f).1).collect();
    scores.iter().sum::<f32>() / scores.len().max(1) as f32
}

impl Results {
    /// The run of `arm` with `seed`, if it ran.
    pub fn run(&self, arm: Arm, seed: u64) -> Option<&ArmRun> {
        self.runs.iter().find(|r| r.arm == arm && r.seed == seed)
    }

    /// The runs of `arm`, seed by seed.
    pub fn runs_of(&self, arm: Arm) -> Vec<&ArmRun> {
        self.runs.iter().filter(|r| r.arm == arm).collect()
    }

    /// Each arm that ran, over its seeds.
    pub fn summary(&self) -> Vec<ArmSummary> {
        Arm::ALL
            .into_iter()
            .filter_map(|arm| {
                let runs = self.runs_of(arm);
                let lasts: Vec<&EpochStats> = runs.iter().filter_map(|r| r.last()).collect();
                if lasts.is_empty() {
                    return None;
                }
                let n = runs.len() as f32;
                Some(ArmSummary {
                    arm,
                    seeds: runs.len(),
                    accuracy: Spread::of(
                        &lasts.iter().map(|e| e.test_accuracy).collect::<Vec<_>>(),
                    ),
                    loss: Spread::of(&lasts.iter().map(|e| e.test_loss).collect::<Vec<_>>()),
                    like_the_bank: runs.iter().map(|r| likeness_to_bank(&r.end)).sum::<f32>() / n,
                    seconds: runs.iter().map(|r| r.seconds).sum::<f32>() / n,
                })
            })
            .collect()
    }

    /// Where each filter of the [`Arm::HandThenLearned`] runs went.
    pub fn drift(&self) -> Vec<Drift> {
        let bank = hand_chosen();
        let mut drift = Vec::new();
        for run in self.runs_of(Arm::HandThenLearned) {
            for (i, (end, kernel)) in run.end.chunks(9).zip(&bank).enumerate() {
                let (mut nearest, nearest_score) = nearest_in_bank(end);
                let with_start = centred_cosine(end, &kernel.weights.concat());
                // Centred, outline and identity are one kernel: a tie is a stay.
                if with_start >= nearest_score - 1e-6 {
                    nearest = kernel.name;
                }
                drift.push(Drift {
                    seed: run.seed,
                    filter: i,
                    start: kernel.name,
                    with_start,
                    nearest,
                    nearest_score,
                });
            }
        }
        drift
    }

    /// How alike the arms' second layers are ([`SecondLayerLikeness`]), for
    /// each arm with itself and each pair of arms, where the runs kept
    /// their mean top patches.
    pub fn second_layer_likeness(&self) -> Vec<SecondLayerLikeness> {
        let arms: Vec<Arm> = Arm::ALL
            .into_iter()
            .filter(|&a| self.runs_of(a).iter().any(|r| !r.second_layer.is_empty()))
            .collect();
        let mut out = Vec::new();
        for (i, &a) in arms.iter().enumerate() {
            for &b in &arms[i..] {
                for same_seed in [true, false] {
                    let mut pairs = Vec::new();
                    for ra in self.runs_of(a) {
                        for rb in self.runs_of(b) {
                            // Each pair once: an arm with itself, seed below seed.
                            let wanted = if same_seed {
                                a != b && ra.seed == rb.seed
                            } else {
                                ra.seed != rb.seed && (a != b || ra.seed < rb.seed)
                            };
                            let kept = !ra.second_layer.is_empty() && !rb.second_layer.is_empty();
                            if wanted && kept {
                                pairs.push(channel_likeness(&ra.second_layer, &rb.second_layer));
                            }
                        }
                    }
                    if !pairs.is_empty() {
                        let (matched, cosine): (Vec<f32>, Vec<f32>) = pairs.into_iter().unzip();
                        out.push(SecondLayerLikeness {
                            arms: (a, b),
                            same_seed,
                            pairs: matched.len(),
                            matched: Spread::of(&matched),
                            cosine: Spread::of(&cosine),
                        });
                    }
                }
            }
        }
        out
    }

    /// [`Results::second_layer_likeness`] as a table (tab-separated, with a
    /// header line).
    pub fn second_layer_tsv(&self) -> String {
        let mut t = format!(
            "arm\tagainst\tseeds\tpairs of runs\tchannels matched (cosine >= {CHANNEL_MATCH}) mean\tmin\tmax\tbest cosine mean\tmin\tmax\n"
        );
        for l in self.second_layer_likeness() {
            let (m, c) = (l.matched, l.cosine);
            t += &format!(
                "{}\t{}\t{}\t{}\t{:.1}\t{:.1}\t{:.1}\t{:.3}\t{:.3}\t{:.3}\n",
                l.arms.0,
                l.arms.1,
                if l.same_seed { "same" } else { "other" },
                l.pairs,
                m.mean,
                m.min,
                m.max,
                c.mean,
                c.min,
                c.max
            );
        }
        t
    }

    /// The results an experiment saved ([`super::RESULTS_FILE`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let results: Self = serde_json::from_str(&text).map_err(|e| {
            Error::bad_data(
                path,
                format!(
                    "not the results of a hand-vs-learned run ({e}); delete it to start afresh"
                ),
            )
        })?;
        let patch = crate::second_layer::RECEPTIVE_FIELD.pow(2);
        let runs = results.runs.iter();
        if let Some(p) = runs
            .flat_map(|r| &r.second_layer)
            .find(|p| p.len() != patch)
        {
            return Err(Error::bad_data(
                path,
                format!(
                    "a mean top patch of {} values, not {patch}; delete it to start afresh",
                    p.len()
                ),
            ));
        }
        Ok(results)
    }

    /// The results as pretty JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| Error::Internal(format!("the results cannot be written as JSON ({e})")))
    }

    /// One line per arm: the seeds, the last epoch's test accuracy and loss
    /// (mean, smallest, largest), the filters' likeness to the bank
    /// (tab-separated, with a header line).
    pub fn summary_tsv(&self) -> String {
        let mut t = String::from(
            "arm\tseeds\ttest accuracy mean\tmin\tmax\ttest loss mean\tmin\tmax\tlike the bank\tseconds per run\n",
        );
        for s in self.summary() {
            let (a, l) = (s.accuracy, s.loss);
            t += &format!(
                "{}\t{}\t{:.4}\t{:.4}\t{:.4}\t{:.4}\t{:.4}\t{:.4}\t{:.3}\t{:.0}\n",
                s.arm,
                s.seeds,
                a.mean,
                a.min,
                a.max,
                l.mean,
                l.min,
                l.max,
                s.like_the_bank,
                s.seconds
            );
        }
        t
    }

    /// Every epoch of every run (tab-separated, with a header line).
    pub fn epochs_tsv(&self) -> String {
        let mut t = String::from(
            "arm\tseed\tepoch\ttrain loss\ttrain accuracy\ttest loss\ttest accuracy\ttrain seconds\n",
        );
        for r in &self.runs {
            for e in &r.epochs {
                t += &format!(
                    "{}\t{}\t{}\t{:.5}\t{:.5}\t{:.5}\t{:.5}\t{:.1}\n",
                    r.arm,
                    r.seed,
                    e.epoch,
                    e.train_loss,
                    e.train_accuracy,
                    e.test_loss,
                    e.test_accuracy,
                    e.train_seconds
                );
            }
        }
        t
    }

    /// [`Results::drift`] as a table (tab-separated, with a header line).
    pub fn drift_tsv(&self) -> String {
        let mut t = String::from(
            "seed\tfilter\tstarted as\tcentred cosine with its start\tnow most like\tcentred cosine\tstayed\n",
        );
        for d in self.drift() {
            t += &format!(
                "{}\t{}\t{}\t{:+.3}\t{}\t{:+.3}\t{}\n",
                d.seed,
                d.filter,
                d.start,
                d.with_start,
                d.nearest,
                d.nearest_score,
                if d.stayed() { "yes" } else { "no" }
            );
        }
        t
    }
}

impl std::fmt::Display for Results {
    /// A table of the arms, then what became of the hand-chosen start.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let epochs = self.config.train.epochs;
        writeln!(
            f,
            "after {epochs} epochs on {} training images, tested on {}:",
            self.train_images, self.test_images
        )?;
        writeln!(
            f,
            "  {:<28} {:>5}  {:<25} {:<25} {:>13}",
            "first layer",
            "seeds",
            "test accuracy (min-max)",
            "test loss (min-max)",
            "like the bank"
        )?;
        for s in self.summary() {
            let (a, l) = (s.accuracy, s.loss);
            let accuracy = format!(
                "{:.2}% ({:.2}-{:.2})",
                100.0 * a.mean,
                100.0 * a.min,
                100.0 * a.max
            );
            let loss = format!("{:.4} ({:.4}-{:.4})", l.mean, l.min, l.max);
            writeln!(
                f,
                "  {:<28} {:>5}  {accuracy:<25} {loss:<25} {:>13.2}",
                s.arm.label(),
                s.seeds,
                s.like_the_bank
            )?;
        }
        let likeness = self.second_layer_likeness();
        let find = |a, b, same| {
            likeness
                .iter()
                .find(|l| l.arms == (a, b) && l.same_seed == same)
        };
        let (learned, random) = (Arm::Learned, Arm::RandomFrozen);
        if let Some(across) = find(learned, random, false) {
            let m = |l: &SecondLayerLikeness| {
                format!(
                    "{:.1} ({:.1}-{:.1})",
                    l.matched.mean, l.matched.min, l.matched.max
                )
            };
            write!(
                f,
                "second layer: conv2's channels with a like in another network (mean top \
                 patches, centred cosine >= {CHANNEL_MATCH}), of 64: learned-first-layer \
                 against random-frozen, other seeds {}",
                m(across)
            )?;
            if let Some(l) = find(learned, learned, false) {
                write!(f, "; learned against learned, other seeds {}", m(l))?;
            }
            if let Some(l) = find(learned, random, true) {
                write!(f, "; learned against random-frozen, same seed {}", m(l))?;
            }
            writeln!(f)?;
        }
        let drift = self.drift();
        if !drift.is_empty() {
            let with_start = drift.iter().map(|d| d.with_start).sum::<f32>() / drift.len() as f32;
            let stayed = drift.iter().filter(|d| d.stayed()).count();
            write!(
                f,
                "hand-chosen start, learned: each filter's centred cosine with its start is \
                 {with_start:.2} on average; {stayed} of {} are still most like the kernel \
                 they started as",
                drift.len()
            )?;
        }
        Ok(())
    }
}
