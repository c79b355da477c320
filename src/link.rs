//! A training run as a link: the settings that replay it bit for bit.
//!
//! The page's "copy a link" writes a run's settings into the query of its
//! address; opening that address trains the same run again, in any browser,
//! on any number of threads, and [`RunLink::replay`] trains it natively. A
//! run is determined by
//!
//! | key | what it sets | default |
//! |---|---|---|
//! | `link=1` | the link's format (this module reads format [`LINK_VERSION`]) | 1 |
//! | `seed=42` | the model's start and the batches' order ([`TrainConfig::seed`]) | 42 |
//! | `dataset=fashion-mnist` | the data set ([`Dataset::id`]) | `mnist` |
//! | `images=3000` | training images an epoch (the first ones) | all |
//! | `hand=1` | the hand-chosen, frozen model trained beside it, on the same batches | 0 |
//! | `stops=1` | playing pauses at the end of the post's epochs (1, 7, 15) | 0 |
//! | `until=30` | train to this batch, then stop | none |
//! | `filter=3:1,0,-1,2,0,-2,1,0,-1` | filter 3 set to these nine numbers (row by row) | |
//! | `filter=3@120:…` | … after 120 batches | at 0 |
//! | `freeze=3`, `thaw=3@120` | filter 3 frozen (training leaves it alone), or let train again | |
//!
//! The edits (`filter`, `freeze`, `thaw`) happen in the order the link
//! lists them, each after its number of batches (`@S`, 0 when left out:
//! before the first batch), so they are listed in the order of their
//! batches (a link that lists a later one first is refused: it would make
//! the earlier one late). Numbers are written as Rust writes an `f32`
//! (the shortest decimal that reads back as the same `f32`), so that a
//! filter set by hand comes back exactly. The page's own keys (`data`,
//! `format`, `isolate`, `threads`) say where the data comes from and how
//! the page runs, not what it trains, and are passed over, and so are the
//! tracking keys that messengers, mail and learning platforms add to a
//! shared address (`utm_source`, `fbclid`, …: [`is_tracking`]). Any other
//! key is an error that names the setting it may be a typo of, so that a
//! mistyped one is not silently ignored. A query whose only run setting is
//! `dataset` (the page's data-set switch writes it) is the plain page on
//! that data set, not a link.
//!
//! ```
//! use filters_are_weights::link::{Change, RunLink};
//! let link = RunLink::parse("link=1&seed=7&images=3000&filter=3:1,0,-1,2,0,-2,1,0,-1&freeze=3&until=30")?
//!     .expect("a link");
//! assert_eq!((link.seed, link.train_images, link.until), (7, Some(3000), Some(30)));
//! assert_eq!(link.edits.len(), 2);
//! assert_eq!(link.edits[1].change, Change::Freeze(true));
//! // Written back, it reads the same.
//! assert_eq!(RunLink::parse(&link.to_query()?)?, Some(link));
//! # Ok::<(), filters_are_weights::link::LinkError>(())
//! ```

use crate::data::{Dataset, Mnist};
use crate::error::Result;
use crate::experiment::Arm;
use crate::kernels::Kernel;
use crate::model::MnistCnn;
use crate::train::{Progress, Stepper, TrainConfig, Trainer};
use candle_core::Device;

/// The link format this crate writes, and the newest it reads.
pub const LINK_VERSION: u32 = 1;

/// The page's own keys: where the data comes from and how the page runs.
/// A link keeps them, but they do not change what is trained.
pub const PAGE_KEYS: [&str; 4] = ["data", "format", "isolate", "threads"];

/// Keys that sharing adds to an address (campaigns, click and share
/// identifiers): passed over. Also every key that begins with one of
/// [`TRACKING_PREFIXES`].
pub const TRACKING_KEYS: [&str; 22] = [
    "fbclid",
    "gclid",
    "gclsrc",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "twclid",
    "ttclid",
    "li_fat_id",
    "igshid",
    "igsh",
    "si",
    "ref",
    "ref_src",
    "ref_url",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "_ga",
    "_gl",
];

/// Prefixes of tracking keys (`utm_source`, `mc_cid`, …): passed over.
pub const TRACKING_PREFIXES: [&str; 3] = ["utm_", "mc_", "pk_"];

/// Whether `key` is one that sharing adds ([`TRACKING_KEYS`],
/// [`TRACKING_PREFIXES`]), passed over by [`RunLink::parse`].
pub fn is_tracking(key: &str) -> bool {
    TRACKING_KEYS.contains(&key) || TRACKING_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// The keys of a run's settings.
const RUN_KEYS: [&str; 10] = [
    "link", "seed", "dataset", "images", "hand", "stops", "until", "filter", "freeze", "thaw",
];

/// What happens to a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The filter becomes these nine numbers, row by row.
    Set([f32; 9]),
    /// Training leaves the filter alone (`true`), or trains it again.
    Freeze(bool),
}

/// A change made to one first-layer filter after `step` batches.
#[derive(Debug, Clone, PartialEq)]
pub struct Edit {
    /// Batches trained before it (0: before the first).
    pub step: usize,
    /// The filter, 0..32.
    pub filter: usize,
    /// What happens to it.
    pub change: Change,
}

/// A run's settings, as a link holds them.
#[derive(Debug, Clone, PartialEq)]
pub struct RunLink {
    /// The seed: the model's start, the batches' order, dropout.
    pub seed: u64,
    /// The data set.
    pub dataset: Dataset,
    /// Training images an epoch (the first ones); `None`: all of them.
    pub train_images: Option<usize>,
    /// Whether the hand-chosen, frozen model trains beside it.
    pub hand_chosen: bool,
    /// Whether playing pauses at the end of the post's epochs.
    pub post_stops: bool,
    /// Train to this batch, then stop.
    pub until: Option<usize>,
    /// The changes made to filters by hand, in order.
    pub edits: Vec<Edit>,
}

impl Default for RunLink {
    /// The page's plain run: seed 42, all of MNIST, nothing changed by hand.
    fn default() -> Self {
        RunLink {
            seed: 42,
            dataset: Dataset::Mnist,
            train_images: None,
            hand_chosen: false,
            post_stops: false,
            until: None,
            edits: Vec::new(),
        }
    }
}

/// Why a link cannot be replayed (into the crate's [`crate::Error`] as
/// [`crate::Error::Link`]). New kinds may be added: match with a `_` arm.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// Made by a newer version of the page, in a format this one cannot read.
    #[error(
        "it was made by a newer version of the page (link format {version}; this one reads \
         format {LINK_VERSION}): open it on an up-to-date copy of the page"
    )]
    Newer {
        /// The link's format.
        version: u32,
    },
    /// A setting that cannot be read.
    #[error("its setting {key}={value} cannot be read: {why}")]
    Malformed {
        /// The setting's key.
        key: String,
        /// Its value, as the link gives it.
        value: String,
        /// What is wrong, and what it should be.
        why: String,
    },
}

/// The key of `known` that `key` is most likely a typo of: at most two
/// letters added, dropped, changed or swapped, and fewer than it has.
fn nearest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let distance = |a: &str, b: &str| -> usize {
        // Optimal string alignment distance (Damerau–Levenshtein without
        // repeated edits of one substring).
        let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
        for (i, row) in d.iter_mut().enumerate() {
            row[0] = i;
        }
        for (j, cell) in d[0].iter_mut().enumerate() {
            *cell = j;
        }
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                let cost = (a[i - 1] != b[j - 1]) as usize;
                d[i][j] = (d[i - 1][j] + 1)
                    .min(d[i][j - 1] + 1)
                    .min(d[i - 1][j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
                }
            }
        }
        d[a.len()][b.len()]
    };
    let lower = key.to_ascii_lowercase();
    known
        .iter()
        .map(|&k| (distance(&lower, k), k))
        .filter(|&(d, k)| d <= 2 && d < k.len().min(key.len().max(1)))
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

/// One `key=value` of a query, percent-decoded (`+` is a space).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', h, l]) => hex(*h).zip(hex(*l)).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, b) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl RunLink {
    /// Reads the run's settings from a query (`link=1&seed=7&…`, with or
    /// without its leading `?`). `Ok(None)`: the query holds no run
    /// setting (the plain page).
    pub fn parse(query: &str) -> std::result::Result<Option<RunLink>, LinkError> {
        let pairs: Vec<(String, String)> = query
            .trim_start_matches('?')
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect();
        // `dataset` alone is the data-set switch's page, not a run to replay.
        let is_run = |k: &str| RUN_KEYS.contains(&k) && k != "dataset";
        if !pairs.iter().any(|(k, _)| is_run(k)) {
            return Ok(None);
        }
        // A newer format may have settings this one does not know: it is
        // told as newer, whatever else it holds.
        if let Some((_, v)) = pairs.iter().find(|(k, _)| k == "link") {
            if let Some(version) = v.parse::<u32>().ok().filter(|&v| v > LINK_VERSION) {
                return Err(LinkError::Newer { version });
            }
        }
        let mut link = RunLink::default();
        let mut seen: Vec<&str> = Vec::new();
        for (key, value) in &pairs {
            let bad = |why: &str| LinkError::Malformed {
                key: key.clone(),
                value: value.clone(),
                why: why.into(),
            };
            let once = [
                "link", "seed", "dataset", "images", "hand", "stops", "until",
            ];
            if let Some(k) = once.iter().find(|&&k| k == key) {
                if seen.contains(k) {
                    return Err(bad("the link gives it twice"));
                }
                seen.push(k);
            }
            let count = |min: usize| -> std::result::Result<usize, LinkError> {
                value
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n >= min)
                    .ok_or_else(|| bad(&format!("it must be a whole number, at least {min}")))
            };
            let flag = || match value.as_str() {
                "1" => Ok(true),
                "0" => Ok(false),
                _ => Err(bad("it must be 1 (on) or 0 (off)")),
            };
            match key.as_str() {
                "link" => {
                    value
                        .parse::<u32>()
                        .ok()
                        .filter(|&v| v >= 1)
                        .ok_or_else(|| bad("the link's format is a whole number, 1 or more"))?;
                }
                "seed" => {
                    link.seed = value
                        .parse()
                        .map_err(|_| bad("a seed is a whole number, 0 or more"))?
                }
                "dataset" => {
                    link.dataset = value.parse().map_err(|_| {
                        let ids: Vec<&str> = Dataset::ALL.iter().map(|d| d.id()).collect();
                        bad(&format!("the data sets are {}", ids.join(", ")))
                    })?
                }
                "images" => link.train_images = Some(count(1)?),
                "hand" => link.hand_chosen = flag()?,
                "stops" => link.post_stops = flag()?,
                "until" => link.until = Some(count(1)?),
                "filter" | "freeze" | "thaw" => {
                    let edit = edit(key, value).map_err(|why| bad(&why))?;
                    if let Some(last) = link.edits.last().filter(|l| l.step > edit.step) {
                        return Err(bad(&format!(
                            "it comes after batch {}, but the link lists it after a change at \
                             batch {}: changes are listed in the order of their batches",
                            edit.step, last.step
                        )));
                    }
                    link.edits.push(edit)
                }
                k if PAGE_KEYS.contains(&k) || is_tracking(k) => {}
                _ => {
                    let known: Vec<&str> = RUN_KEYS.iter().chain(&PAGE_KEYS).copied().collect();
                    let guess = nearest(key, &known)
                        .map(|k| format!("did you mean {k}? "))
                        .unwrap_or_default();
                    return Err(bad(&format!(
                        "there is no such setting ({guess}a link's are {})",
                        known.join(", ")
                    )));
                }
            }
        }
        Ok(Some(link))
    }

    /// Whether [`RunLink::parse`] would read these settings back: images an
    /// epoch and `until` at least 1, filters below 32 with finite numbers,
    /// edits in the order of their batches. The error names the setting as
    /// the link would write it.
    pub fn check(&self) -> std::result::Result<(), LinkError> {
        let bad = |key: &str, value: String, why: &str| LinkError::Malformed {
            key: key.into(),
            value,
            why: why.into(),
        };
        if self.train_images == Some(0) {
            return Err(bad(
                "images",
                "0".into(),
                "it must be a whole number, at least 1",
            ));
        }
        if self.until == Some(0) {
            return Err(bad(
                "until",
                "0".into(),
                "it must be a whole number, at least 1",
            ));
        }
        let filters = crate::model::PARAMETER_SHAPES[0][3];
        let mut step = 0;
        for e in &self.edits {
            let key = match e.change {
                Change::Set(_) => "filter",
                Change::Freeze(true) => "freeze",
                Change::Freeze(false) => "thaw",
            };
            let value = format!("{}@{}", e.filter, e.step);
            if e.filter >= filters {
                let why = format!("a filter is a number from 0 to {}", filters - 1);
                return Err(bad(key, value, &why));
            }
            if matches!(e.change, Change::Set(w) if w.iter().any(|v| !v.is_finite())) {
                return Err(bad(key, value, "its numbers must be finite"));
            }
            if e.step < step {
                let why = format!("it comes after a change at batch {step}: changes are listed in the order of their batches");
                return Err(bad(key, value, &why));
            }
            step = e.step;
        }
        Ok(())
    }

    /// The settings as a query, without its `?`: what [`RunLink::parse`]
    /// reads back as the same settings. Settings it would not read back
    /// ([`RunLink::check`]) are refused.
    pub fn to_query(&self) -> std::result::Result<String, LinkError> {
        self.check()?;
        let mut parts = vec![
            format!("link={LINK_VERSION}"),
            format!("seed={}", self.seed),
        ];
        if self.dataset != Dataset::Mnist {
            parts.push(format!("dataset={}", self.dataset.id()));
        }
        if let Some(n) = self.train_images {
            parts.push(format!("images={n}"));
        }
        if self.hand_chosen {
            parts.push("hand=1".into());
        }
        if self.post_stops {
            parts.push("stops=1".into());
        }
        for e in &self.edits {
            let at = if e.step > 0 {
                format!("@{}", e.step)
            } else {
                String::new()
            };
            parts.push(match &e.change {
                Change::Set(w) => {
                    let w: Vec<String> = w.iter().map(|v| v.to_string()).collect();
                    format!("filter={}{at}:{}", e.filter, w.join(","))
                }
                Change::Freeze(true) => format!("freeze={}{at}", e.filter),
                Change::Freeze(false) => format!("thaw={}{at}", e.filter),
            });
        }
        if let Some(n) = self.until {
            parts.push(format!("until={n}"));
        }
        Ok(parts.join("&"))
    }

    /// The learned model's trainer, at its start: Keras' `mnist_cnn` from
    /// the seed, trained as the page trains it ([`run_trainer`]).
    pub fn trainer(&self, device: &Device) -> Result<Trainer> {
        run_trainer(self.seed, device)
    }

    /// The hand-chosen, frozen model's trainer, when it trains beside.
    pub fn hand_trainer(&self, device: &Device) -> Result<Option<Trainer>> {
        if !self.hand_chosen {
            return Ok(None);
        }
        let config = run_trainer(self.seed, device)?.config;
        Ok(Some(Arm::HandFrozen.trainer(self.seed, &config, device)?))
    }

    /// The data it trains on: the first [`RunLink::train_images`] training
    /// images of `all`, and its first `test_images` test images.
    pub fn data(&self, all: &Mnist, test_images: usize) -> Result<Mnist> {
        all.subset(self.train_images.unwrap_or(usize::MAX), test_images)
    }

    /// Trains the run natively to batch [`RunLink::until`] (or `batches`
    /// where the link names none): each edit made after its number of
    /// batches, as the page makes them. The batches' losses and the model.
    pub fn replay(&self, all: &Mnist, batches: usize) -> Result<Replayed> {
        let data = self.data(all, 1000)?;
        let until = self.until.unwrap_or(batches);
        let mut stepper = Stepper::new(self.trainer(&Device::Cpu)?);
        let mut plan = Plan::new(self.edits.clone());
        let mut losses = Vec::with_capacity(until);
        loop {
            plan.apply_due(&mut stepper)?;
            if stepper.steps_done() >= until {
                break;
            }
            losses.push(stepper.next(&data)?.0.loss);
        }
        Ok(Replayed {
            losses,
            model: stepper.trainer.model,
        })
    }
}

/// A run replayed natively ([`RunLink::replay`]).
#[derive(Debug)]
pub struct Replayed {
    /// Each batch's loss (with dropout), the first batch's first.
    pub losses: Vec<f32>,
    /// The model after the last batch.
    pub model: MnistCnn,
}

/// One `filter=`, `freeze=` or `thaw=` setting's edit: `I[@S][:v,…]`.
fn edit(key: &str, value: &str) -> std::result::Result<Edit, String> {
    let (target, numbers) = match value.split_once(':') {
        Some((t, n)) => (t, Some(n)),
        None => (value, None),
    };
    let (filter, step) = match target.split_once('@') {
        Some((f, s)) => (f, Some(s)),
        None => (target, None),
    };
    let filters = crate::model::PARAMETER_SHAPES[0][3]; // conv1.kernel [3, 3, 1, 32]
    let filter = filter
        .parse::<usize>()
        .ok()
        .filter(|&f| f < filters)
        .ok_or_else(|| {
            format!(
                "a filter is a number from 0 to {} (then @batch, if not 0)",
                filters - 1
            )
        })?;
    let step = match step {
        Some(s) => s
            .parse::<usize>()
            .map_err(|_| "the batch after @ is a whole number, 0 or more".to_string())?,
        None => 0,
    };
    let change = match (key, numbers) {
        ("filter", Some(n)) => {
            let values: Vec<f32> = n
                .split(',')
                .map(|v| v.trim().parse::<f32>().ok().filter(|v| v.is_finite()))
                .collect::<Option<_>>()
                .ok_or("its numbers must be finite decimals, separated by commas")?;
            let nine: [f32; 9] = values
                .try_into()
                .map_err(|v: Vec<f32>| format!("a 3x3 filter has 9 numbers, not {}", v.len()))?;
            Change::Set(nine)
        }
        ("filter", None) => {
            return Err("the nine numbers come after a colon: filter=3:1,0,-1,…".into())
        }
        (_, Some(_)) => return Err(format!("{key}= takes a filter (and @batch), no numbers")),
        ("freeze", None) => Change::Freeze(true),
        _ => Change::Freeze(false),
    };
    Ok(Edit {
        step,
        filter,
        change,
    })
}

/// The page's trainer for a run from `seed`: Keras' settings (batch 128,
/// Adadelta), stepped batch by batch across epochs, silent, its filters
/// kept at the post's epochs.
pub fn run_trainer(seed: u64, device: &Device) -> Result<Trainer> {
    let config = TrainConfig {
        seed,
        epochs: 15,
        progress: Progress::Silent,
        // The filters at the end of epochs 0, 1, 7 and 15: the post's figure.
        ..TrainConfig::default()
    };
    Trainer::new(MnistCnn::new(seed, device)?, config)
}

/// The edits still to make, in order: each made once training has done
/// its number of batches.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pending: std::collections::VecDeque<Edit>,
}

impl Plan {
    /// A plan of `edits`, made in this order.
    pub fn new(edits: Vec<Edit>) -> Self {
        Plan {
            pending: edits.into(),
        }
    }

    /// The edits not made yet.
    pub fn pending(&self) -> impl Iterator<Item = &Edit> {
        self.pending.iter()
    }

    /// Makes the edits whose batch has come (in the link's order, up to
    /// the first one still to come); returns them.
    pub fn apply_due(&mut self, stepper: &mut Stepper) -> Result<Vec<Edit>> {
        let mut made = Vec::new();
        while self
            .pending
            .front()
            .is_some_and(|e| e.step <= stepper.steps_done())
        {
            let e = self.pending.pop_front().expect("a pending edit");
            apply(&mut stepper.trainer, &e)?;
            made.push(e);
        }
        Ok(made)
    }
}

/// Makes one edit to `trainer`'s model or settings.
pub fn apply(trainer: &mut Trainer, edit: &Edit) -> Result<()> {
    match &edit.change {
        Change::Set(w) => {
            let kernel = Kernel::new(
                "by hand",
                [[w[0], w[1], w[2]], [w[3], w[4], w[5]], [w[6], w[7], w[8]]],
            );
            trainer.model.set_conv1_filter(edit.filter, &kernel)
        }
        Change::Freeze(frozen) => {
            let mut which = trainer.config.frozen_filters.clone();
            which.retain(|&f| f != edit.filter);
            if *frozen {
                which.push(edit.filter);
            }
            trainer.freeze_filters(&which)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(query: &str) -> String {
        RunLink::parse(query).expect_err(query).to_string()
    }

    #[test]
    fn a_plain_query_is_no_link() {
        assert_eq!(RunLink::parse(""), Ok(None));
        assert_eq!(
            RunLink::parse("?data=data/&format=idx&isolate=no"),
            Ok(None)
        );
        // A setting alone makes a link of format 1.
        let link = RunLink::parse("?seed=7&data=data/").unwrap().unwrap();
        assert_eq!(
            link,
            RunLink {
                seed: 7,
                ..RunLink::default()
            }
        );
    }

    #[test]
    fn every_setting_reads_back_as_written() {
        let link = RunLink {
            seed: 1234567890123,
            dataset: Dataset::FashionMnist,
            train_images: Some(3000),
            hand_chosen: true,
            post_stops: true,
            until: Some(30),
            edits: vec![
                Edit {
                    step: 0,
                    filter: 3,
                    change: Change::Set([1.0, 0.0, -1.0, 2.0, 0.0, -2.0, 1.0, 0.0, -1.0]),
                },
                Edit {
                    step: 0,
                    filter: 3,
                    change: Change::Freeze(true),
                },
                // Numbers that need every digit an f32 has, and the smallest.
                Edit {
                    step: 12,
                    filter: 31,
                    change: Change::Set([
                        0.1,
                        -0.123_456_79,
                        1e-8,
                        f32::MIN_POSITIVE,
                        -3.4e38,
                        0.33333334,
                        7.0,
                        -0.0,
                        1.0 / 3.0,
                    ]),
                },
                Edit {
                    step: 20,
                    filter: 3,
                    change: Change::Freeze(false),
                },
            ],
        };
        let query = link.to_query().unwrap();
        let back = RunLink::parse(&query).unwrap().unwrap();
        assert_eq!(back, link, "{query}");
        // Bit for bit, -0 too.
        let (Change::Set(a), Change::Set(b)) = (&back.edits[2].change, &link.edits[2].change)
        else {
            panic!("{back:?}")
        };
        assert_eq!(a.map(f32::to_bits), b.map(f32::to_bits));
        assert!(
            query.starts_with("link=1&seed=1234567890123&dataset=fashion-mnist&images=3000"),
            "{query}"
        );
        assert!(query.contains("&freeze=3&filter=31@12:0.1,"), "{query}");
        assert!(query.ends_with("&thaw=3@20&until=30"), "{query}");
        // Percent-encoded (as a browser may pass it on), it reads the same.
        let encoded = query
            .replace(':', "%3A")
            .replace(',', "%2C")
            .replace('@', "%40");
        assert_eq!(RunLink::parse(&encoded).unwrap().unwrap(), link);
    }

    #[test]
    fn a_malformed_link_says_what_is_wrong() {
        for (query, says) in [
            ("link=1&filter=3:1,2", "a 3x3 filter has 9 numbers, not 2"),
            (
                "link=1&filter=32:1,0,0,0,0,0,0,0,0",
                "a filter is a number from 0 to 31",
            ),
            ("link=1&filter=3:1,0,x,0,0,0,0,0,0", "finite decimals"),
            ("link=1&filter=3:1,0,NaN,0,0,0,0,0,0", "finite decimals"),
            ("link=1&filter=3", "the nine numbers come after a colon"),
            ("link=1&freeze=3:1", "no numbers"),
            ("link=1&freeze=3@x", "the batch after @"),
            ("link=1&seed=-1", "a seed is a whole number"),
            ("link=1&seed=1&seed=2", "twice"),
            ("link=1&images=0", "at least 1"),
            ("link=1&until=ten", "at least 1"),
            ("link=1&hand=yes", "1 (on) or 0 (off)"),
            (
                "link=1&dataset=cifar",
                "the data sets are mnist, fashion-mnist",
            ),
            ("link=1&sed=7", "there is no such setting"),
            ("link=one", "the link's format"),
            ("link=1&filter=3:1,0,0,0,0,0,0,0,0%", "finite decimals"),
        ] {
            let e = err(query);
            assert!(e.contains(says), "{query}: {e}");
            assert!(e.starts_with("its setting "), "{query}: {e}");
        }
    }

    #[test]
    fn a_newer_link_is_told_apart() {
        assert_eq!(
            RunLink::parse("whatever=3&link=2&seed=1"),
            Err(LinkError::Newer { version: 2 })
        );
        assert!(err("link=2").contains("link format 2; this one reads format 1"));
    }

    #[test]
    fn tracking_keys_from_sharing_are_passed_over() {
        let plain = "link=1&seed=7&filter=3:1,0,-1,2,0,-2,1,0,-1&freeze=3&until=30";
        let shared = format!(
            "{plain}&utm_source=newsletter&utm_medium=email&fbclid=IwAR0abc-def&gclid=x&mc_cid=1&igshid=y&ref=share"
        );
        assert_eq!(RunLink::parse(&shared), RunLink::parse(plain));
        assert!(RunLink::parse(plain).unwrap().is_some());
        // Tracking keys alone are the plain page.
        assert_eq!(RunLink::parse("?utm_source=a&fbclid=b"), Ok(None));
        assert!(is_tracking("utm_campaign") && is_tracking("fbclid") && !is_tracking("seeds"));
    }

    #[test]
    fn a_mistyped_key_is_named_with_the_setting_it_may_mean() {
        for (query, meant) in [
            ("link=1&sed=7", "did you mean seed?"),
            ("link=1&untill=7", "did you mean until?"),
            ("link=1&imags=7", "did you mean images?"),
            ("link=1&Seed=7", "did you mean seed?"),
            ("link=1&frezee=3", "did you mean freeze?"),
        ] {
            let e = err(query);
            assert!(
                e.contains(meant) && e.contains("there is no such setting"),
                "{query}: {e}"
            );
        }
        let e = err("link=1&colour=red");
        assert!(!e.contains("did you mean"), "{e}");
    }

    #[test]
    fn the_data_set_alone_is_not_a_link() {
        assert_eq!(RunLink::parse("?dataset=fashion-mnist"), Ok(None));
        assert_eq!(
            RunLink::parse("?dataset=fashion-mnist&data=d/&utm_source=x"),
            Ok(None)
        );
        let link = RunLink::parse("?dataset=fashion-mnist&seed=3")
            .unwrap()
            .unwrap();
        assert_eq!((link.dataset, link.seed), (Dataset::FashionMnist, 3));
    }

    #[test]
    fn edits_out_of_the_order_of_their_batches_are_refused_not_made_late() {
        let e = err("link=1&filter=3@120:1,0,-1,2,0,-2,1,0,-1&freeze=5");
        assert!(
            e.contains("changes are listed in the order of their batches"),
            "{e}"
        );
        // Several at one batch, in any order of filters.
        let link = RunLink::parse("link=1&freeze=5@3&filter=1@3:0,0,0,0,1,0,0,0,0&thaw=5@9");
        assert_eq!(link.unwrap().unwrap().edits.len(), 3);
    }

    #[test]
    fn settings_a_link_cannot_hold_are_refused_by_its_writer() {
        let edit = |step, filter, change| Edit {
            step,
            filter,
            change,
        };
        for (link, says) in [
            (
                RunLink {
                    until: Some(0),
                    ..RunLink::default()
                },
                "until=0",
            ),
            (
                RunLink {
                    train_images: Some(0),
                    ..RunLink::default()
                },
                "images=0",
            ),
            (
                RunLink {
                    edits: vec![edit(0, 32, Change::Freeze(true))],
                    ..RunLink::default()
                },
                "from 0 to 31",
            ),
            (
                RunLink {
                    edits: vec![edit(0, 3, Change::Set([f32::NAN; 9]))],
                    ..RunLink::default()
                },
                "finite",
            ),
            (
                RunLink {
                    edits: vec![edit(0, 3, Change::Set([f32::INFINITY; 9]))],
                    ..RunLink::default()
                },
                "finite",
            ),
            (
                RunLink {
                    edits: vec![
                        edit(5, 3, Change::Freeze(true)),
                        edit(2, 4, Change::Freeze(true)),
                    ],
                    ..RunLink::default()
                },
                "order of their batches",
            ),
        ] {
            let e = link.to_query().expect_err(says).to_string();
            assert!(e.contains(says), "{says}: {e}");
        }
    }

    /// A random run that a link can hold: any seed and data set, edits in
    /// the order of their batches with any finite numbers (-0, the smallest
    /// and largest, random bits).
    fn random_link(rng: &mut crate::rng::Rng) -> RunLink {
        let number = |rng: &mut crate::rng::Rng| loop {
            let v = match rng.below(6) {
                0 => -0.0,
                1 => f32::MIN_POSITIVE * rng.uniform(-1.0, 1.0),
                2 => f32::MAX * rng.uniform(-1.0, 1.0),
                3 => rng.uniform(-1.0, 1.0),
                _ => f32::from_bits(rng.next_u64() as u32),
            };
            if v.is_finite() {
                return v;
            }
        };
        let mut step = 0;
        let edits = (0..rng.below(6))
            .map(|_| {
                step += rng.below(3) * rng.below(500);
                let change = match rng.below(3) {
                    0 => Change::Set(std::array::from_fn(|_| number(rng))),
                    k => Change::Freeze(k == 1),
                };
                Edit {
                    step,
                    filter: rng.below(32),
                    change,
                }
            })
            .collect();
        let maybe = |rng: &mut crate::rng::Rng| (rng.below(2) == 0).then(|| 1 + rng.below(100_000));
        RunLink {
            seed: rng.next_u64() >> rng.below(64),
            dataset: Dataset::ALL[rng.below(Dataset::ALL.len())],
            train_images: maybe(rng),
            hand_chosen: rng.below(2) == 0,
            post_stops: rng.below(2) == 0,
            until: maybe(rng),
            edits,
        }
    }

    #[test]
    fn every_valid_run_reads_back_bit_for_bit_from_its_link() {
        let mut rng = crate::rng::Rng::new(40);
        for _ in 0..3000 {
            let link = random_link(&mut rng);
            let query = link.to_query().unwrap();
            let back = RunLink::parse(&query).unwrap().unwrap();
            let bits = |l: &RunLink| -> Vec<u32> {
                l.edits
                    .iter()
                    .flat_map(|e| match e.change {
                        Change::Set(w) => w.map(f32::to_bits).to_vec(),
                        _ => vec![],
                    })
                    .collect()
            };
            assert_eq!((&back, bits(&back)), (&link, bits(&link)), "{query}");
        }
    }
}
