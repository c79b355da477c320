//! The lesson in a browser: this crate's kernels, model, data and training,
//! compiled to WebAssembly for `web/index.html`.
//!
//! The page calls [`apply_kernel`] and friends on its main thread (the
//! kernels section), and a Web Worker drives a [`Session`]: MNIST decoded
//! from the bytes the page fetched (the Hub's parquet files or the four IDX
//! files), Keras' `mnist_cnn` trained a few batches at a time, exactly as
//! the crate's `Trainer` does (same seed, same shuffling, same dropout, same
//! Adadelta), its filters, their nearest classic kernels, and predictions
//! for a digit drawn by the visitor.
//!
//! Everything here is a thin layer: numbers in, numbers out, as plain
//! arrays for JavaScript.

use filters_are_weights::analysis;
use filters_are_weights::candle::{DType, Device, Tensor};
use filters_are_weights::data::{idx, parquet, Dataset, Mnist, IDX_FILES, IMAGE_SIDE};
use filters_are_weights::experiment::Arm;
use filters_are_weights::image;
use filters_are_weights::kernels::{scaled_like, Kernel, CLASSIC};
use filters_are_weights::link::{self, Change, Edit, Plan, RunLink};
use filters_are_weights::model::{glorot_uniform, MnistCnn, PARAMETER_SHAPES};
use filters_are_weights::picture::{self, WORKING_SIDE};
use filters_are_weights::rng::Rng;
use filters_are_weights::second_layer::{top_patches, RECEPTIVE_FIELD};
use filters_are_weights::train::{evaluate, FilterStep, Snapshot, Stepper, TrainConfig, Trainer};
use filters_are_weights::viz;
use std::path::Path;
use wasm_bindgen::prelude::*;

fn js(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// A grayscale picture: width, height and one byte a pixel, row by row.
#[wasm_bindgen(getter_with_clone)]
pub struct Picture {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width · height` gray levels, 0..255.
    pub pixels: Vec<u8>,
}

impl From<image::GrayImage> for Picture {
    fn from(img: image::GrayImage) -> Self {
        Picture {
            width: img.width(),
            height: img.height(),
            pixels: img.into_raw(),
        }
    }
}

/// The crate's numbers the page needs, so that JavaScript copies none.
#[wasm_bindgen(getter_with_clone)]
pub struct Constants {
    /// First-layer filters (32).
    pub filters: u32,
    /// Side of a filter (3).
    pub filter_side: u32,
    /// Side of an MNIST digit (28).
    pub image_side: u32,
    /// Side of a digit's map through a filter (26).
    pub map_side: u32,
    /// Images per batch (128).
    pub batch_size: u32,
    /// The epochs the post shows (1, 7, 15).
    pub post_epochs: Vec<u32>,
    /// The four IDX files' names, without `.gz`.
    pub idx_files: Vec<String>,
    /// The data sets the page can train on, MNIST first.
    pub datasets: Vec<DatasetInfo>,
    /// The learned model's colour in the crate's figures (CSS, `#rrggbb`).
    pub learned_colour: String,
    /// The hand-chosen, frozen model's colour in the crate's figures.
    pub hand_colour: String,
    /// conv2's channels (64).
    pub channels: u32,
    /// The side of the patch a conv2 channel sees (5).
    pub receptive_field: u32,
    /// How many top images the second layer's section keeps a channel (9).
    pub top_images: u32,
    /// The page's own keys in its address (where the data comes from, how
    /// it runs), which a run's link keeps but which change nothing trained.
    pub page_keys: Vec<String>,
    /// The figures' font, a file beside the page ([`use_font`]).
    pub font_file: String,
}

/// An arm's colour in the crate's figures, as CSS.
fn css_colour(arm: Arm) -> String {
    let c = viz::arm_colour(arm);
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// One data set the page can load: its names, where the Hub keeps it, and
/// what its classes are called.
#[wasm_bindgen(getter_with_clone)]
#[derive(Clone)]
pub struct DatasetInfo {
    /// Its name in `?dataset=` ("mnist", "fashion-mnist").
    pub id: String,
    /// Its name as people write it ("MNIST", "Fashion-MNIST").
    pub name: String,
    /// The Hub dataset ("ylecun/mnist").
    pub repo: String,
    /// The Hub's address for its parquet files.
    pub hub_url: String,
    /// The training and test files under a folder in the Hub's layout.
    pub parquet_files: Vec<String>,
    /// The ten classes' names, label 0 first.
    pub class_names: Vec<String>,
    /// The same, short enough for a bar's label.
    pub short_class_names: Vec<String>,
    /// What one image is: "digit", "picture".
    pub image_noun: String,
}

impl From<Dataset> for DatasetInfo {
    fn from(d: Dataset) -> Self {
        let hub = d.hub();
        let strings = |names: [&str; 10]| names.iter().map(|n| n.to_string()).collect();
        DatasetInfo {
            id: d.id().into(),
            name: d.name().into(),
            repo: hub.repo.into(),
            hub_url: hub.resolve_url.into(),
            parquet_files: vec![hub.train_file.into(), hub.test_file.into()],
            class_names: strings(d.class_names()),
            short_class_names: strings(d.short_class_names()),
            image_noun: d.image_noun().into(),
        }
    }
}

/// The crate's numbers the page needs.
#[wasm_bindgen]
pub fn constants() -> Constants {
    let kernel = PARAMETER_SHAPES[0]; // conv1.kernel [3, 3, 1, 32]
    let config = TrainConfig::default();
    Constants {
        filters: kernel[3] as u32,
        filter_side: kernel[0] as u32,
        image_side: IMAGE_SIDE as u32,
        map_side: (IMAGE_SIDE - kernel[0] + 1) as u32,
        batch_size: config.batch_size as u32,
        post_epochs: config
            .snapshot_epochs
            .iter()
            .filter(|&&e| e > 0)
            .map(|&e| e as u32)
            .collect(),
        idx_files: IDX_FILES.iter().map(|n| n.to_string()).collect(),
        datasets: Dataset::ALL.into_iter().map(DatasetInfo::from).collect(),
        learned_colour: css_colour(Arm::Learned),
        hand_colour: css_colour(Arm::HandFrozen),
        channels: PARAMETER_SHAPES[2][3] as u32, // conv2.kernel [3, 3, 32, 64]
        receptive_field: RECEPTIVE_FIELD as u32,
        top_images: TOP_IMAGES as u32,
        page_keys: link::PAGE_KEYS.iter().map(|k| k.to_string()).collect(),
        font_file: FONT_FILE.into(),
    }
}

/// `values` on the notebooks' diverging colour scale (`[-scale, scale]`:
/// blue, white, red), as RGBA bytes, 4 a value.
#[wasm_bindgen]
pub fn diverging_rgba(values: &[f32], scale: f32) -> Vec<u8> {
    values
        .iter()
        .flat_map(|&v| {
            let c = viz::diverging(v, scale);
            [c.0, c.1, c.2, 255]
        })
        .collect()
}

/// The demo picture the crate draws (a house, a sun, a sky).
#[wasm_bindgen]
pub fn demo_picture() -> Picture {
    picture::demo_picture().into()
}

/// A picture the visitor picked (PNG, JPEG or GIF bytes), in gray, brought
/// to the crate's working size ([`WORKING_SIDE`] pixels on its longest side).
#[wasm_bindgen]
pub fn decode_picture(name: &str, bytes: &[u8]) -> Result<Picture, JsError> {
    Ok(picture::decode_picture(name, bytes, Some(WORKING_SIDE))
        .map_err(js)?
        .into())
}

/// The names of setosa's nine classic kernels, in the order of [`classic_weights`].
#[wasm_bindgen]
pub fn classic_names() -> Vec<String> {
    CLASSIC.iter().map(|k| k.name.to_string()).collect()
}

/// The nine classic kernels' weights, 9 numbers each, row-major.
#[wasm_bindgen]
pub fn classic_weights() -> Vec<f32> {
    CLASSIC.iter().flat_map(|k| k.weights.concat()).collect()
}

fn kernel_of(weights: &[f32]) -> Result<Kernel, JsError> {
    let w: [f32; 9] = weights
        .try_into()
        .map_err(|_| JsError::new("a 3x3 kernel has 9 weights"))?;
    Ok(Kernel::new(
        "yours",
        [[w[0], w[1], w[2]], [w[3], w[4], w[5]], [w[6], w[7], w[8]]],
    ))
}

fn gray(width: u32, height: u32, pixels: &[u8]) -> Result<image::GrayImage, JsError> {
    image::GrayImage::from_raw(width, height, pixels.to_vec())
        .ok_or_else(|| JsError::new("the pixels do not fill width x height"))
}

/// A 3×3 kernel (`weights`, row-major) slid over a picture, rendered as
/// setosa.io does (truncated, clamped to 0..255, a black border): the
/// crate's `Kernel::apply`, through the network's own convolution.
#[wasm_bindgen]
pub fn apply_kernel(
    width: u32,
    height: u32,
    pixels: &[u8],
    weights: &[f32],
) -> Result<Vec<u8>, JsError> {
    let out = kernel_of(weights)?
        .apply(&gray(width, height, pixels)?)
        .map_err(js)?;
    Ok(out.into_raw())
}

/// Where MNIST came from, and how much of it.
#[wasm_bindgen(getter_with_clone)]
pub struct DataInfo {
    /// Training images.
    pub train: u32,
    /// Test images.
    pub test: u32,
    /// Where they came from.
    pub source: String,
}

/// One batch's step, shown: each of them 288 numbers (`[32, 1, 3, 3]`).
#[wasm_bindgen(getter_with_clone)]
#[derive(Clone)]
pub struct StepShown {
    /// The batch's loss (with dropout).
    pub loss: f32,
    /// The filters before the step.
    pub before: Vec<f32>,
    /// The loss's gradient with respect to each filter weight.
    pub gradient: Vec<f32>,
    /// Adadelta's update, `after - before`.
    pub update: Vec<f32>,
    /// The filters after the step.
    pub after: Vec<f32>,
}

/// Everything the page draws after [`Session::train`]: the batches just
/// trained, where training is, the filters now, and the test accuracy when
/// it was scored.
#[wasm_bindgen(getter_with_clone)]
pub struct Update {
    /// The losses of the batches just trained (none after a change by hand).
    pub losses: Vec<f32>,
    /// The hand-chosen model's losses of the same batches (empty without it).
    pub hand_losses: Vec<f32>,
    /// Whether the hand-chosen model trains beside the learned one.
    pub hand: bool,
    /// Optimizer steps taken so far.
    pub step: u32,
    /// Epochs completed.
    pub epochs_done: u32,
    /// Batches per epoch.
    pub steps_per_epoch: u32,
    /// Whether the last batch closed an epoch (the test subset scored).
    pub epoch_ended: bool,
    /// The 32 first-layer filters now: `[32, 1, 3, 3]`, 288 numbers.
    pub filters: Vec<f32>,
    /// Each filter's nearest classic kernel (its index in the classic list)
    /// and the centred cosine similarity, as pairs `[index, score, ...]`.
    pub nearest: Vec<f32>,
    /// The frozen filters' indices, in order.
    pub frozen: Vec<u32>,
    /// The accuracy on the test subset, when it was scored.
    pub test_accuracy: Option<f32>,
    /// The hand-chosen model's, when it was scored.
    pub hand_test_accuracy: Option<f32>,
    /// The last batch's step, when it was asked to be shown.
    pub shown: Option<StepShown>,
    /// Whether training stopped at the batch the link asked for
    /// ([`Session::follow`]); it goes on from there when asked.
    pub reached_until: bool,
}

/// What the model makes of one digit: ten logits, their probabilities, and
/// the digit through each of the 32 filters.
#[wasm_bindgen(getter_with_clone)]
pub struct Reading {
    /// Ten numbers, before the softmax.
    pub logits: Vec<f32>,
    /// The softmax of the logits.
    pub probabilities: Vec<f32>,
    /// `[32, 26, 26]` raw sums: the digit through each filter.
    pub maps: Vec<f32>,
}

/// What the second layer sees ([`Session::second_layer`]): for each of
/// conv2's channels, its top images over the test images searched, as the
/// patches it saw, and its weights. Flat arrays, channel after channel.
#[wasm_bindgen(getter_with_clone)]
pub struct SecondLayer {
    /// The training step the model is at.
    pub step: u32,
    /// The epochs done.
    pub epochs_done: u32,
    /// The steps of an epoch.
    pub steps_per_epoch: u32,
    /// Test images searched.
    pub images: u32,
    /// Channels (64).
    pub channels: u32,
    /// Top images a channel (9, or fewer where fewer were searched).
    pub k: u32,
    /// Each channel's mean top patch, `[channels, 5, 5]`, 0..1.
    pub mean: Vec<f32>,
    /// Each channel's top patches, highest first, `[channels, k, 5, 5]`.
    pub patches: Vec<f32>,
    /// Their activations (the channel's ReLU output), `[channels, k]`.
    pub activations: Vec<f32>,
    /// Which test image each came from, `[channels, k]`.
    pub sources: Vec<u32>,
    /// Each channel's weights, `[channels, 32, 3, 3]`: a 3×3 filter on each
    /// of the first layer's 32 maps.
    pub weights: Vec<f32>,
}

/// Top images a channel in the second layer's section.
const TOP_IMAGES: usize = 9;

/// The figures' font, as web/build.sh copies it beside the page.
const FONT_FILE: &str = "DejaVuSans.ttf";

/// Milliseconds a frame of the filters' animation shows (the last, four times that).
const FRAME_MS: u32 = 200;
/// The animation drawn three times as large as the notebooks' (1,278 px wide), for a slide.
const GIF_ZOOM: u32 = 3;

/// A picture for slides ([`Session::figure`]): its file's name, type and
/// bytes, and what it was drawn from (JSON), so that the crate can draw it
/// again.
#[wasm_bindgen(getter_with_clone)]
pub struct FigureFile {
    /// A file name: the one `reproduce` gives the same figure.
    pub name: String,
    /// "image/png" or "image/gif".
    pub mime: String,
    /// The file.
    pub bytes: Vec<u8>,
    /// What it was drawn from, as JSON.
    pub inputs: String,
}

/// Training in the page: the data, Keras' model and the crate's trainer,
/// stepped a few batches at a time across epochs (`train::Stepper`); with
/// the hand-chosen comparison on, a second model beside it (the same
/// network and seed, its first layer the hand-chosen bank, frozen: the
/// `hand-vs-learned` experiment's `HandFrozen` arm), trained on the same
/// batches, one batch of each in turn.
#[wasm_bindgen]
pub struct Session {
    all: Mnist,
    data: Mnist,
    run: Stepper,
    hand: Option<Stepper>,
    /// The step at which the test subset was last scored.
    scored_at: Option<u32>,
    /// The changes made to the filters by hand, in order, each with its step.
    made: Vec<Edit>,
    /// A link's changes still to make ([`Session::follow`]).
    plan: Plan,
    /// A link's last batch, not reached yet.
    until: Option<usize>,
    /// Whether the model came from a file: then no link can replay it.
    opened: bool,
    /// The last batch's step shown, for its picture.
    last_step: Option<FilterStep>,
}

/// One split of a data set from the bytes of a parquet file in the Hub's layout.
fn parquet_split(name: &str, bytes: Vec<u8>) -> Result<(idx::IdxImages, Vec<u8>), JsError> {
    parquet::read_parquet_from(Path::new(name), bytes::Bytes::from(bytes)).map_err(js)
}

fn dataset_of(id: &str) -> Result<Dataset, JsError> {
    id.parse().map_err(js)
}

/// A tensor's numbers, flat.
fn values(t: &Tensor) -> Result<Vec<f32>, JsError> {
    t.flatten_all().and_then(|t| t.to_vec1()).map_err(js)
}

#[wasm_bindgen]
impl Session {
    /// The data set `dataset` ("mnist", "fashion-mnist") from the Hub's two
    /// parquet files (train, test).
    pub fn from_parquet(
        train: Vec<u8>,
        test: Vec<u8>,
        source: &str,
        dataset: &str,
    ) -> Result<Session, JsError> {
        let (train_images, train_labels) = parquet_split("train/0000.parquet", train)?;
        let (test_images, test_labels) = parquet_split("test/0000.parquet", test)?;
        let names = [
            "train/0000.parquet",
            "train/0000.parquet",
            "test/0000.parquet",
            "test/0000.parquet",
        ];
        let data = Mnist::from_parts(
            dataset_of(dataset)?,
            (train_images, train_labels),
            (test_images, test_labels),
            names,
            source,
        )
        .map_err(js)?;
        Session::with(data)
    }

    /// The data set `dataset` from the four IDX files (gzipped or not), in
    /// the order train images, train labels, test images, test labels.
    pub fn from_idx(
        train_images: Vec<u8>,
        train_labels: Vec<u8>,
        test_images: Vec<u8>,
        test_labels: Vec<u8>,
        source: &str,
        dataset: &str,
    ) -> Result<Session, JsError> {
        let names = filters_are_weights::data::IDX_FILES;
        let ti = idx::decode_images(Path::new(names[0]), train_images).map_err(js)?;
        let tl = idx::decode_labels(Path::new(names[1]), train_labels).map_err(js)?;
        let vi = idx::decode_images(Path::new(names[2]), test_images).map_err(js)?;
        let vl = idx::decode_labels(Path::new(names[3]), test_labels).map_err(js)?;
        let dataset = dataset_of(dataset)?;
        let data = Mnist::from_parts(dataset, (ti, tl), (vi, vl), names, source).map_err(js)?;
        Session::with(data)
    }

    fn with(all: Mnist) -> Result<Session, JsError> {
        let data = all.clone();
        let run = Stepper::new(new_trainer(42)?);
        Ok(Session {
            all,
            data,
            run,
            hand: None,
            scored_at: None,
            made: Vec::new(),
            plan: Plan::default(),
            until: None,
            opened: false,
            last_step: None,
        })
    }

    /// The data: how many images, from where.
    pub fn info(&self) -> DataInfo {
        DataInfo {
            train: self.all.train_len() as u32,
            test: self.all.test_len() as u32,
            source: self.all.source.clone(),
        }
    }

    /// Starts afresh: a new model from `seed`, trained on the first
    /// `train_images` training images per epoch and scored on the first
    /// `test_images` test images; with `hand_chosen`, the hand-chosen,
    /// frozen model beside it from the same seed.
    pub fn reset(
        &mut self,
        seed: u64,
        train_images: u32,
        test_images: u32,
        hand_chosen: bool,
    ) -> Result<(), JsError> {
        self.data = self
            .all
            .subset(train_images as usize, test_images as usize)
            .map_err(js)?;
        self.run = Stepper::new(new_trainer(seed)?);
        self.hand = if hand_chosen {
            let trainer = Arm::HandFrozen
                .trainer(seed, &self.run.trainer.config, &Device::Cpu)
                .map_err(js)?;
            Some(Stepper::new(trainer))
        } else {
            None
        };
        self.fresh_run(false);
        Ok(())
    }

    /// A new run's bookkeeping: nothing scored, changed by hand, planned by
    /// a link or shown yet; `opened`: its model came from a file.
    fn fresh_run(&mut self, opened: bool) {
        self.scored_at = None;
        self.made.clear();
        self.plan = Plan::default();
        self.until = None;
        self.opened = opened;
        self.last_step = None;
    }

    /// Follows a link (its query, `link=1&seed=…`: `filters_are_weights::link`)
    /// from the start of the run just reset, which must have its seed, data
    /// set, images an epoch and model beside: its filters are set and frozen
    /// at their batches as training reaches them, and training stops at its
    /// last batch (`Update::reached_until`).
    pub fn follow(&mut self, query: &str) -> Result<(), JsError> {
        let link = RunLink::parse(query)
            .map_err(js)?
            .ok_or_else(|| JsError::new("the address holds no run to replay"))?;
        let here = self.settings(false, None);
        let (a, b) = (
            (link.seed, link.dataset, link.hand_chosen),
            (here.seed, here.dataset, here.hand_chosen),
        );
        let images = link
            .train_images
            .unwrap_or(usize::MAX)
            .min(self.all.train_len());
        if a != b || images != self.data.train_len() || self.run.steps_done() > 0 {
            return Err(JsError::new(
                "the run was not started with the link's seed, data set, images an epoch and model beside",
            ));
        }
        self.plan = Plan::new(link.edits);
        self.until = link.until;
        Ok(())
    }

    /// This run as a link's query (`filters_are_weights::link`): its
    /// settings and every change made to a filter by hand, with `stops` (the
    /// post's epochs) and `until` (a batch to train to, then stop). A model
    /// opened from a file has none: a link holds settings, not weights.
    pub fn link(&self, stops: bool, until: Option<u32>) -> Result<String, JsError> {
        if self.opened {
            return Err(JsError::new(
                "this model was opened from a file, and a link holds a run's settings, not its \
                 weights: share the file (\"download the model\") instead",
            ));
        }
        // "To batch 0": no batch to train to.
        let until = until.filter(|&n| n > 0).map(|n| n as usize);
        self.settings(stops, until).to_query().map_err(js)
    }

    fn settings(&self, post_stops: bool, until: Option<usize>) -> RunLink {
        RunLink {
            seed: self.run.trainer.config.seed,
            dataset: self.all.dataset,
            train_images: Some(self.data.train_len()),
            hand_chosen: self.hand.is_some(),
            post_stops,
            until,
            edits: self
                .made
                .iter()
                .chain(self.plan.pending())
                .cloned()
                .collect(),
        }
    }

    /// Makes the link's changes whose batch has come.
    fn make_due(&mut self) -> Result<(), JsError> {
        let made = self.plan.apply_due(&mut self.run).map_err(js)?;
        self.made.extend(made);
        Ok(())
    }

    /// Whether training is at the link's last batch: then it stops there
    /// (once; asked again, it goes on).
    fn at_until(&mut self) -> bool {
        let here = self.until == Some(self.run.steps_done());
        if here {
            self.until = None;
        }
        here
    }

    /// Keeps a change made by hand to filter `i`: the nine numbers it holds
    /// now, or whether it is frozen.
    fn keep(&mut self, i: u32, change: Option<Change>) -> Result<(), JsError> {
        let change = match change {
            Some(c) => c,
            None => {
                let values = self.run.trainer.model.conv1_filter_values().map_err(js)?;
                let i = i as usize;
                Change::Set(values[i * 9..(i + 1) * 9].try_into().map_err(js)?)
            }
        };
        self.made.push(Edit {
            step: self.run.steps_done(),
            filter: i as usize,
            change,
        });
        Ok(())
    }

    /// Trains up to `n` batches (it stops at an epoch's end), the last one
    /// shown where `show` (as the notebooks' section 3 shows a step:
    /// `Trainer::train_batch_shown`, the same step); the hand-chosen model,
    /// when there is one, trains the same batches in turn. Then reports
    /// everything the page draws. The test subset is scored when an epoch
    /// closes (by the trainer), and otherwise once `score_every` steps have
    /// passed since it last was. `n = 0` trains nothing: the report after a
    /// change made by hand.
    pub fn train(&mut self, n: u32, show: bool, score_every: u32) -> Result<Update, JsError> {
        let mut losses = Vec::new();
        let mut hand_losses = Vec::new();
        let mut shown = None;
        let mut epoch_ended = false;
        let mut reached_until = false;
        for i in 0..n {
            self.make_due()?;
            if self.at_until() {
                reached_until = true;
                break;
            }
            let (loss, ended) = if show && i + 1 == n {
                let (stats, step, ended) = self.run.next_shown(&self.data).map_err(js)?;
                shown = Some(StepShown {
                    loss: step.loss,
                    before: values(&step.before)?,
                    gradient: values(&step.gradient)?,
                    update: values(&step.update)?,
                    after: values(&step.after)?,
                });
                self.last_step = Some(step);
                (stats.loss, ended)
            } else {
                let (stats, ended) = self.run.next(&self.data).map_err(js)?;
                (stats.loss, ended)
            };
            losses.push(loss);
            if let Some(hand) = &mut self.hand {
                hand_losses.push(hand.next(&self.data).map_err(js)?.0.loss);
            }
            if ended.is_some() {
                epoch_ended = true;
                break;
            }
        }
        self.make_due()?;
        reached_until |= n > 0 && self.at_until();
        let step = self.run.steps_done() as u32;
        let since = step as i64 - self.scored_at.map_or(-1, i64::from);
        let (test_accuracy, hand_test_accuracy) = if epoch_ended || since >= score_every as i64 {
            self.scored_at = Some(step);
            // At an epoch's end, the trainer's own score of it.
            let score = |s: &Stepper| match s.trainer.history.epochs.last() {
                Some(e) if epoch_ended => Ok(e.test_accuracy),
                _ => evaluate(&s.trainer.model, &self.data).map(|(_, a)| a),
            };
            let hand = self.hand.as_ref().map(score).transpose().map_err(js)?;
            (Some(score(&self.run).map_err(js)?), hand)
        } else {
            (None, None)
        };
        let trainer = &self.run.trainer;
        let filters = trainer.model.conv1_filters().map_err(js)?;
        let nearest = analysis::nearest_classic(&filters).map_err(js)?;
        Ok(Update {
            losses,
            hand_losses,
            hand: self.hand.is_some(),
            step,
            epochs_done: trainer.epochs_done() as u32,
            steps_per_epoch: self.data.train_len().div_ceil(trainer.config.batch_size) as u32,
            epoch_ended,
            filters: values(&filters)?,
            nearest: nearest
                .iter()
                .flat_map(|m| [m.classic_index() as f32, m.score])
                .collect(),
            frozen: trainer
                .config
                .frozen_filters
                .iter()
                .map(|&i| i as u32)
                .collect(),
            test_accuracy,
            hand_test_accuracy,
            shown,
            reached_until,
        })
    }

    /// What the second layer sees now: each conv2 channel's top images over
    /// the test subset (with `all`, over every test image), as the crate's
    /// `second_layer::top_patches` finds them, and its weights.
    pub fn second_layer(&self, all: bool) -> Result<SecondLayer, JsError> {
        let model = &self.run.trainer.model;
        let test = if all { &self.all } else { &self.data }.test_images.clone();
        let images = test.dim(0).map_err(js)?;
        let k = TOP_IMAGES.min(images);
        let found = top_patches(model, &test, k).map_err(js)?;
        // [3, 3, 32, 64] to [64, 32, 3, 3]: channel by channel, map by map.
        let kernel = model.conv2.weights().0.as_tensor();
        let weights = kernel.permute((3, 2, 0, 1)).map_err(js)?;
        let trainer = &self.run.trainer;
        let mut out = SecondLayer {
            step: self.run.steps_done() as u32,
            epochs_done: trainer.epochs_done() as u32,
            steps_per_epoch: self.data.train_len().div_ceil(trainer.config.batch_size) as u32,
            images: images as u32,
            channels: found.len() as u32,
            k: k as u32,
            mean: Vec::new(),
            patches: Vec::new(),
            activations: Vec::new(),
            sources: Vec::new(),
            weights: values(&weights.contiguous().map_err(js)?)?,
        };
        for ch in &found {
            out.mean.extend(ch.mean_patch());
            for p in &ch.top {
                out.patches.extend_from_slice(&p.patch);
                out.activations.push(p.activation);
                out.sources.push(p.image as u32);
            }
        }
        Ok(out)
    }

    /// A picture for slides, drawn by the crate's `viz` as `reproduce` draws
    /// it: `kind` is "filters" (the 32 filters now, each with its nearest
    /// classic kernel), "post" (the filters at the end of epochs 0, 1, 7
    /// and 15, as far as training got), "curves" (loss and accuracy per
    /// epoch), "step" (the last batch shown: before, gradient, update,
    /// after) or "evolution" (an animated GIF, a frame for each of the
    /// snapshots `steps` with their filters `filters`, 288 numbers each).
    pub fn figure(
        &self,
        kind: &str,
        steps: Vec<u32>,
        filters: Vec<f32>,
    ) -> Result<FigureFile, JsError> {
        let trainer = &self.run.trainer;
        let history = &trainer.history;
        let spe = self.data.train_len().div_ceil(trainer.config.batch_size);
        let png = |name: &str, fig: viz::Figure, inputs: serde_json::Value| FigureFile {
            name: name.into(),
            mime: "image/png".into(),
            bytes: fig.png_bytes().to_vec(),
            inputs: inputs.to_string(),
        };
        // What the picture was drawn from, so that it can be drawn again.
        let history_json = || serde_json::to_value(history).map_err(js);
        match kind {
            "filters" => {
                let now = trainer.model.conv1_filters().map_err(js)?;
                let fig = viz::nearest_kernels(&now).map_err(js)?;
                let inputs = serde_json::json!({ "filters": values(&now)? });
                Ok(png("nearest-kernels.png", fig, inputs))
            }
            "post" => {
                let snapshots = history.epoch_snapshots();
                if snapshots.len() < 2 {
                    return Err(JsError::new(
                        "no epoch has ended yet: the figure shows the filters at the end of epochs \
                         (the post's 1, 7 and 15); train to the end of epoch 1 first",
                    ));
                }
                let fig = viz::filter_evolution(&snapshots, history.steps_per_epoch).map_err(js)?;
                Ok(png("filters-evolution.png", fig, history_json()?))
            }
            "curves" => {
                if history.epochs.is_empty() {
                    return Err(JsError::new(
                        "no epoch has ended yet: these curves have a point per epoch (train and \
                         test); train to the end of epoch 1 first",
                    ));
                }
                let fig = viz::curves(history).map_err(js)?;
                Ok(png("curves.png", fig, history_json()?))
            }
            "step" => {
                let step = self
                    .last_step
                    .as_ref()
                    .ok_or_else(|| JsError::new("no step shown yet: press \"one batch\" first"))?;
                let fig = viz::filter_step(step).map_err(js)?;
                let inputs = serde_json::json!({
                    "loss": step.loss, "before": values(&step.before)?, "gradient": values(&step.gradient)?,
                    "update": values(&step.update)?, "after": values(&step.after)?,
                });
                Ok(png("filter-step.png", fig, inputs))
            }
            "evolution" => {
                // conv1.kernel [3, 3, 1, 32]: 288 numbers a snapshot.
                let per: usize = PARAMETER_SHAPES[0].iter().product();
                if steps.is_empty() || filters.len() != steps.len() * per {
                    return Err(JsError::new(&format!(
                        "an animation needs snapshots: {per} numbers for each step"
                    )));
                }
                let snapshots: Vec<Snapshot> = steps
                    .iter()
                    .zip(filters.chunks(per))
                    .map(|(&step, f)| Snapshot {
                        epoch: step as usize / spe.max(1),
                        step: step as usize,
                        filters: f.to_vec(),
                    })
                    .collect();
                let gif = viz::filter_animation_zoomed(&snapshots, spe, FRAME_MS, GIF_ZOOM)
                    .map_err(js)?;
                let inputs = serde_json::json!({
                    "snapshots": snapshots, "stepsPerEpoch": spe, "frameMs": FRAME_MS, "zoom": GIF_ZOOM,
                });
                Ok(FigureFile {
                    name: "filters-animation.gif".into(),
                    mime: "image/gif".into(),
                    bytes: gif.gif_bytes().to_vec(),
                    inputs: inputs.to_string(),
                })
            }
            _ => Err(JsError::new(&format!("there is no picture \"{kind}\""))),
        }
    }

    /// Sets filter `i` to the nine numbers `values` (row-major), exactly.
    pub fn set_filter(&mut self, i: u32, values: &[f32]) -> Result<(), JsError> {
        let kernel = kernel_of(values)?;
        let model = &self.run.trainer.model;
        model.set_conv1_filter(i as usize, &kernel).map_err(js)?;
        self.keep(i, None)
    }

    /// Sets filter `i` to classic kernel `k` (its index in
    /// [`classic_names`]), scaled to filter `i`'s length now (the mean
    /// filter's where it is all zeros), so that the layer after it gets
    /// inputs of the size it expects: the rule the hand-chosen bank follows.
    pub fn set_filter_classic(&mut self, i: u32, k: u32) -> Result<(), JsError> {
        let kernel = CLASSIC
            .get(k as usize)
            .ok_or_else(|| JsError::new("no such classic kernel"))?;
        let model = &self.run.trainer.model;
        let filters = model.conv1_filter_values().map_err(js)?;
        let scaled = scaled_like(kernel, &filters, i as usize);
        model.set_conv1_filter(i as usize, &scaled).map_err(js)?;
        self.keep(i, None)
    }

    /// Draws filter `i` again from the glorot-uniform start Keras gives the
    /// whole layer, with the random stream of `seed`.
    pub fn randomise_filter(&mut self, i: u32, seed: u64) -> Result<(), JsError> {
        let shape = PARAMETER_SHAPES[0]; // conv1.kernel [3, 3, 1, 32]
        let layer = glorot_uniform(shape, &mut Rng::new(seed));
        let n = shape[3];
        let i = i as usize;
        if i >= n {
            return Err(JsError::new(&format!("there is no filter {i} of {n}")));
        }
        // [3, 3, 1, 32]: filter i is every 32nd number from i.
        let values: Vec<f32> = (0..9).map(|j| layer[j * n + i]).collect();
        self.set_filter(i as u32, &values)
    }

    /// Freezes filter `i` (training leaves its nine weights and its bias
    /// as they are) or lets it train again.
    pub fn set_frozen(&mut self, i: u32, frozen: bool) -> Result<(), JsError> {
        let mut which = self.run.trainer.config.frozen_filters.clone();
        which.retain(|&f| f != i as usize);
        if frozen {
            which.push(i as usize);
        }
        self.run.trainer.freeze_filters(&which).map_err(js)?;
        self.keep(i, Some(Change::Freeze(frozen)))
    }

    /// What the model makes of one drawn digit (784 values, 0..1, row by
    /// row): its logits and their probabilities (one forward pass), and the
    /// digit through each of the 32 filters.
    pub fn read(&self, digit: &[f32]) -> Result<Reading, JsError> {
        let x = digit_tensor(digit)?;
        let model = &self.run.trainer.model;
        let logits = model.forward_t(&x, false).map_err(js)?;
        let probabilities = filters_are_weights::candle_nn::ops::softmax(&logits, 1).map_err(js)?;
        let filters = model.conv1_filters().map_err(js)?;
        let maps =
            analysis::feature_maps(&x.reshape((28, 28)).map_err(js)?, &filters).map_err(js)?;
        Ok(Reading {
            logits: values(&logits)?,
            probabilities: values(&probabilities)?,
            maps: values(&maps)?,
        })
    }

    /// The model now, as the bytes of a `model.safetensors` file (what
    /// `filters-are-weights analyze` reads).
    pub fn model_file(&self) -> Result<Vec<u8>, JsError> {
        self.run.trainer.model.to_safetensors_bytes().map_err(js)
    }

    /// Replaces the model with one from a `model.safetensors` file (written
    /// by `reproduce`, or downloaded from this page); training goes on from
    /// it with a fresh optimizer, counting steps from 0. The hand-chosen
    /// model beside it, if on, starts again too, so that both count from 0.
    pub fn open_model(&mut self, name: &str, bytes: &[u8]) -> Result<(), JsError> {
        let model = MnistCnn::from_safetensors_bytes(name, bytes, &Device::Cpu).map_err(js)?;
        let config = self.run.trainer.config.clone();
        if self.hand.is_some() {
            let hand = Arm::HandFrozen.trainer(config.seed, &config, &Device::Cpu);
            self.hand = Some(Stepper::new(hand.map_err(js)?));
        }
        self.run = Stepper::new(Trainer::new(model, config).map_err(js)?);
        self.fresh_run(true);
        Ok(())
    }

    /// Test image `i` (of all the test images, taken modulo their number):
    /// its 784 pixels, 0..1, row by row, for the page's pad.
    pub fn test_digit(&self, i: u32) -> Result<Vec<f32>, JsError> {
        let i = i as usize % self.all.test_len().max(1);
        let image = self.all.test_images.get(i).map_err(js)?;
        let image = filters_are_weights::data::to_unit(&image).map_err(js)?;
        image.flatten_all().and_then(|t| t.to_vec1()).map_err(js)
    }

    /// The label of test image `i` (taken modulo their number): its class.
    pub fn test_label(&self, i: u32) -> Result<u32, JsError> {
        let i = i as usize % self.all.test_len().max(1);
        let label = self.all.test_labels.get(i).map_err(js)?;
        label
            .to_dtype(DType::U32)
            .and_then(|t| t.to_scalar())
            .map_err(js)
    }
}

/// The page's trainer for a run from `seed` (the one a link replays).
fn new_trainer(seed: u64) -> Result<Trainer, JsError> {
    link::run_trainer(seed, &Device::Cpu).map_err(js)
}

/// A link's settings, for the page's controls.
#[wasm_bindgen(getter_with_clone)]
pub struct LinkSettings {
    /// The seed, in decimal (a u64 may not fit in a JavaScript number).
    pub seed: String,
    /// The data set's id ("mnist", "fashion-mnist").
    pub dataset: String,
    /// Training images an epoch; 0: all of them.
    pub train_images: u32,
    /// Whether the hand-chosen model trains beside.
    pub hand_chosen: bool,
    /// Whether playing pauses at the post's epochs.
    pub post_stops: bool,
    /// The batch to train to, then stop; 0: none.
    pub until: u32,
    /// Changes made to filters by hand.
    pub edits: u32,
}

/// Gives the crate's figures their font (`DejaVuSans.ttf`, which the page
/// serves beside it): fetched when the first picture is drawn, so that the
/// WebAssembly does not carry it.
#[wasm_bindgen]
pub fn use_font(bytes: Vec<u8>) -> Result<(), JsError> {
    viz::use_font(Vec::leak(bytes)).map_err(js)
}

/// A run's settings from the page's query (`location.search`): `None`
/// where it holds none, an error that says what is wrong where it cannot
/// be read (malformed, or from a newer page).
#[wasm_bindgen]
pub fn read_link(query: &str) -> Result<Option<LinkSettings>, JsError> {
    let Some(link) = RunLink::parse(query).map_err(js)? else {
        return Ok(None);
    };
    Ok(Some(LinkSettings {
        seed: link.seed.to_string(),
        dataset: link.dataset.id().into(),
        train_images: link.train_images.unwrap_or(0) as u32,
        hand_chosen: link.hand_chosen,
        post_stops: link.post_stops,
        until: link.until.unwrap_or(0) as u32,
        edits: link.edits.len() as u32,
    }))
}

fn digit_tensor(digit: &[f32]) -> Result<Tensor, JsError> {
    if digit.len() != 28 * 28 {
        return Err(JsError::new("a digit has 28 x 28 = 784 pixels"));
    }
    Tensor::from_slice(digit, (1, 1, 28, 28), &Device::Cpu)
        .and_then(|t| t.to_dtype(DType::F32))
        .map_err(js)
}

/// The message of the last panic, kept by the hook [`start`] sets: a panic
/// in WebAssembly aborts, which JavaScript sees only as a bare
/// "unreachable" trap.
static PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Runs when the module starts: a panic's message is kept for
/// [`last_panic`] before the module traps.
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut kept) = PANIC.lock() {
            *kept = Some(info.to_string());
        }
    }));
}

/// What the last panic said ("panicked at src/...: ..."), if the module
/// panicked. After a panic the module is stopped for good: the page starts
/// a fresh worker.
#[wasm_bindgen]
pub fn last_panic() -> Option<String> {
    PANIC.lock().ok().and_then(|kept| kept.clone())
}

/// Panics: how the page's tests make the module stop as a bug would, to
/// check that the page says so and starts again.
#[wasm_bindgen]
pub fn panic_for_tests() {
    panic!("a panic asked for by the page's tests");
}

/// The allocator: the system's (dlmalloc, in WebAssembly), watched. When
/// the browser will not grow the module's memory, an allocation is refused
/// and the module aborts, which JavaScript sees only as a bare trap; the
/// size refused is kept for [`refused_allocation`], so that the page can
/// say that the memory ran out rather than that the crate has a bug.
struct Watched;

/// The size of the last allocation refused, in bytes (0: none).
static REFUSED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Watched {
    fn watch(ptr: *mut u8, size: usize) -> *mut u8 {
        if ptr.is_null() {
            REFUSED.store(size.max(1), std::sync::atomic::Ordering::Relaxed);
        }
        ptr
    }
}

// SAFETY: every call is passed on to the system allocator unchanged; only
// the result is looked at.
unsafe impl std::alloc::GlobalAlloc for Watched {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        Self::watch(std::alloc::System.alloc(layout), layout.size())
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        Self::watch(std::alloc::System.alloc_zeroed(layout), layout.size())
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, size: usize) -> *mut u8 {
        Self::watch(std::alloc::System.realloc(ptr, layout, size), size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        std::alloc::System.dealloc(ptr, layout)
    }
}

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: Watched = Watched;

/// How many bytes the module asked for when the browser refused it more
/// memory, if it did: the trap that followed was the memory running out.
#[wasm_bindgen]
pub fn refused_allocation() -> Option<f64> {
    match REFUSED.load(std::sync::atomic::Ordering::Relaxed) {
        0 => None,
        bytes => Some(bytes as f64),
    }
}

/// Takes memory, 64 MiB at a time, until the browser refuses more: how the
/// page's tests make the module run out of memory, as a tablet's browser
/// would sooner, to check that the page says so and starts again.
#[wasm_bindgen]
pub fn exhaust_memory_for_tests() {
    loop {
        // Reserved, never written (the browser commits pages as they are
        // touched); black_box keeps the compiler from leaving it out.
        std::mem::forget(std::hint::black_box(Vec::<u8>::with_capacity(64 << 20)));
    }
}

/// Starts rayon's pool on `n` web workers (`initThreadPool(n)` in
/// JavaScript): the training then runs on `n` threads. Only in the build
/// with threads (feature `threads`), from a worker of a cross-origin
/// isolated page.
#[cfg(feature = "threads")]
pub use wasm_bindgen_rayon::init_thread_pool;

/// The threads training runs on: rayon's pool, or 1 without it.
#[wasm_bindgen]
pub fn threads() -> u32 {
    rayon::current_num_threads() as u32
}
