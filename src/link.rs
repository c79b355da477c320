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
//! before the first batch). Numbers are written as Rust writes an `f32`
//! (the shortest decimal that reads back as the same `f32`), so that a
//! filter set by hand comes back exactly. The page's own keys (`data`,
//! `format`, `isolate`, `threads`) say where the data comes from and how
//! the page runs, not what it trains, and are passed over; any other key is
//! an error, so that a mistyped one is not silently ignored.
//!
//! ```
//! use filters_are_weights::link::{Change, RunLink};
//! let link = RunLink::parse("link=1&seed=7&images=3000&filter=3:1,0,-1,2,0,-2,1,0,-1&freeze=3&until=30")?
//!     .expect("a link");
//! assert_eq!((link.seed, link.train_images, link.until), (7, Some(3000), Some(30)));
//! assert_eq!(link.edits.len(), 2);
//! assert_eq!(link.edits[1].change, Change::Freeze(true));
//! // Written back, it reads the same.
//! assert_eq!(RunLink::parse(&link.to_query())?, Some(link));
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
        if !pairs.iter().any(|(k, _)| RUN_KEYS.contains(&k.as_str())) {
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
                    link.edits.push(edit(key, value).map_err(|why| bad(&why))?)
                }
                k if PAGE_KEYS.contains(&k) => {}
                _ => {
                    let known: Vec<&str> = RUN_KEYS.iter().chain(&PAGE_KEYS).copied().collect();
                    return Err(bad(&format!(
                        "there is no such setting (a link's are {})",
                        known.join(", ")
                    )));
                }
            }
        }
        Ok(Some(link))
    }

    /// The settings as a query, without its `?`: what [`RunLink::parse`]
    /// reads back as the same settings.
    pub fn to_query(&self) -> String {
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
        parts.join("&")
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
        let query = link.to_query();
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
}
