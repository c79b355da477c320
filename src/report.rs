//! The report of a run: the post's figures and the analysis, written to a
//! folder. The command line's `reproduce`, `plot` and `analyze` write it;
//! notebook 04 shows the same figures one by one.
//!
//! | file | what it shows | from |
//! |---|---|---|
//! | `kernel-gallery.png` | the classic kernels applied to a picture (the post's first half) | [`Report::kernel_gallery`] |
//! | `filters-epoch-NN.png` | the 32 filters after the post's epochs (0, 1, 7, 15) | [`Report::training_figures`] |
//! | `filters-evolution.png` | every epoch's filters, one row each | |
//! | `filters-first-steps.png` | the snapshots of the first epoch (see [`first_steps`]) | |
//! | `filters-steps.png`, `filters-animation.gif` | every snapshot | |
//! | `filters-replay.html` | every snapshot, with a slider, play/pause and the nearest classic kernels | |
//! | `filters-change.png` | initial, trained, and the difference | |
//! | `curves.png`, `curves.svg` | loss and accuracy per epoch | |
//! | `nearest-kernels.{png,tsv}` | each filter's nearest classic kernel | [`Report::analysis`] |
//! | `feature-maps-*.png`, `classic-maps-digit.png` | a digit and the picture through the filters | |
//! | `confusion.{png,svg}`, `mistakes.png` | the test set's confusion matrix and mistakes | |
//! | `second-layer-top-patches.png` | each conv2 channel's top 9 test images, as the 5×5 patches it saw | [`Report::second_layer`] |
//! | `second-layer-classes.png`, `second-layer-channels.png` | the input that drives each class's score, and each channel's total answer, highest | |
//! | `second-layer-epochs.png` | the mean top patches and class pictures after the post's epochs | [`Report::second_layer_over_training`] |
//! | `hand-vs-learned.{png,svg}` | each arm's test accuracy and loss per epoch (the post's claim tested) | [`Report::hand_vs_learned`] |
//! | `hand-vs-learned.tsv`, `-epochs.tsv`, `-drift.tsv` | the arms over their seeds, every epoch, where each hand-chosen filter went | |
//! | `hand-vs-learned-filters.png` | the first seed's filters: random, learned, hand-chosen, hand-chosen then learned | |
//! | `hand-vs-learned-second-layer.{png,tsv}` | how alike the arms' second layers are: each random-frozen channel beside its closest learned one; channels matched, arm against arm | |
//! | `datasets.png`, `datasets.tsv` | the same seed trained on each data set: filters and nearest-kernel counts | [`Report::datasets`] |

use crate::analysis::{self, Predictions};
use crate::data::Mnist;
use crate::error::Result;
use crate::experiment::datasets::{self, DatasetRun};
use crate::experiment::{Arm, Results};
use crate::kernels::CLASSIC;
use crate::model::MnistCnn;
use crate::second_layer::{self, AscentConfig, Target};
use crate::train::{History, Snapshot, TrainConfig};
use crate::viz::{self, ColourScale, Figure};
use image::GrayImage;
use std::path::{Path, PathBuf};

/// A folder the figures go to, and the files written so far.
#[derive(Debug)]
pub struct Report {
    dir: PathBuf,
    written: Vec<PathBuf>,
    telling: bool,
}

/// What [`Report::analysis`] found, for a summary line.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisSummary {
    /// The filters' mean best centred cosine to a classic kernel.
    pub mean_similarity: f32,
    /// How many filters reach 0.8 or more.
    pub close: usize,
    /// The number of filters.
    pub filters: usize,
    /// Accuracy on the test set, 0..1.
    pub accuracy: f32,
    /// How many test images the model gets wrong.
    pub mistakes: usize,
    /// How many test images there are.
    pub test_images: usize,
}

impl std::fmt::Display for AnalysisSummary {
    /// Two lines: how the filters resemble the classic kernels, and the
    /// test accuracy.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "learned filters: mean best similarity to a classic kernel {:.2}, \
             {} of {} at 0.8 or more",
            self.mean_similarity, self.close, self.filters
        )?;
        write!(
            f,
            "test accuracy {:.2}%: {} mistakes in {} test images",
            100.0 * self.accuracy,
            self.mistakes,
            self.test_images
        )
    }
}

/// The snapshots up to the end of the first epoch: the first moves away
/// from random (with [`crate::train::EARLY_STEPS`] kept, there are several).
pub fn first_steps(history: &History) -> Vec<Snapshot> {
    let steps = history.steps_per_epoch;
    history
        .snapshots
        .iter()
        .filter(|s| s.step <= steps)
        .cloned()
        .collect()
}

/// Top images a channel in the second layer's figures.
const TOP_IMAGES: usize = 9;

/// The input optimised for each class of `data`'s data set, captioned with
/// its class and score.
fn class_pictures(
    model: &MnistCnn,
    data: &Mnist,
    config: &AscentConfig,
) -> Result<Vec<(String, candle_core::Tensor)>> {
    let names = data.dataset.short_class_names();
    let targets: Vec<Target> = (0..names.len()).map(Target::Class).collect();
    Ok(second_layer::optimise_inputs(model, &targets, config)?
        .into_iter()
        .zip(names)
        .map(|((x, score), name)| (format!("{name} ({score:.1})"), x))
        .collect())
}

/// The title of the filter grid after `epoch` epochs.
pub fn epoch_title(epoch: usize) -> String {
    match epoch {
        0 => "First-layer filters at initialisation".to_string(),
        1 => "First-layer filters after 1 epoch".to_string(),
        e => format!("First-layer filters after {e} epochs"),
    }
}

/// The labels of `n` filters: `#0`, `#1`, ...
pub fn filter_names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("#{i}")).collect()
}

/// The nearest classic kernel of each filter as a table: filter, kernel,
/// centred cosine (tab-separated, with a header line).
pub fn nearest_kernels_tsv(matches: &[analysis::KernelMatch]) -> String {
    let mut table = String::from("filter\tnearest classic kernel\tcentred cosine\n");
    for m in matches {
        table += &format!("{}\t{}\t{:+.3}\n", m.filter, m.kernel.name, m.score);
    }
    table
}

impl Report {
    /// A report written into `dir` (created as needed).
    pub fn new(dir: impl AsRef<Path>) -> Self {
        Self {
            dir: dir.as_ref().to_path_buf(),
            written: Vec::new(),
            telling: false,
        }
    }

    /// The same report, saying "wrote PATH" on stdout for each file (the
    /// command line's).
    pub fn telling(self) -> Self {
        Self {
            telling: true,
            ..self
        }
    }

    /// The files written so far, in order.
    pub fn written(&self) -> &[PathBuf] {
        &self.written
    }

    /// Writes `dir/name` with `write`, and counts it as written.
    fn write(&mut self, name: &str, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
        let path = self.dir.join(name);
        write(&path)?;
        if self.telling {
            println!("wrote {}", path.display());
        }
        self.written.push(path);
        Ok(())
    }

    fn save(&mut self, fig: Figure, name: &str) -> Result<()> {
        self.write(name, |path| fig.save_png(path))
    }

    /// The classic kernels applied to `picture`: the post's first figure.
    pub fn kernel_gallery(&mut self, picture: &GrayImage) -> Result<()> {
        self.save(viz::kernel_gallery(picture)?, "kernel-gallery.png")
    }

    /// The filter figures of `history`: one grid per post epoch the run
    /// has, the evolution, the first steps, every step, the change, the
    /// animation, and the curves.
    pub fn training_figures(&mut self, history: &History) -> Result<()> {
        let steps = history.steps_per_epoch;
        let epoch_snapshots = history.epoch_snapshots();
        let last = epoch_snapshots.last().map_or(0, |s| s.epoch);
        let post = TrainConfig::post_snapshot_epochs(last);
        for s in epoch_snapshots.iter().filter(|s| post.contains(&s.epoch)) {
            let fig = viz::filter_grid(&s.tensor()?, &epoch_title(s.epoch), ColourScale::Shared)?;
            self.save(fig, &format!("filters-epoch-{:02}.png", s.epoch))?;
        }
        let evolution = viz::filter_evolution(&epoch_snapshots, steps)?;
        self.save(evolution, "filters-evolution.png")?;
        let first = first_steps(history);
        if first.len() > 2 {
            let fig = viz::filter_evolution(&first, steps)?;
            self.save(fig, "filters-first-steps.png")?;
        }
        if history.snapshots.len() > epoch_snapshots.len() {
            let fig = viz::filter_evolution(&history.snapshots, steps)?;
            self.save(fig, "filters-steps.png")?;
        }
        if let (Some(initial), Some(last)) = (history.snapshots.first(), epoch_snapshots.last()) {
            self.save(
                viz::filter_change(initial, last, steps)?,
                "filters-change.png",
            )?;
        }
        // The replay carries the animation as its fallback: one GIF for both.
        let replay = viz::filter_replay(&history.snapshots, steps)?;
        let animation = replay.animation();
        self.write("filters-animation.gif", |path| animation.save_gif(path))?;
        self.write("filters-replay.html", |path| replay.save_html(path))?;
        let curves = viz::curves(history)?;
        self.write("curves.svg", |path| curves.save_svg(path))?;
        self.save(curves, "curves.png")
    }

    /// What the trained `model`'s filters do: the nearest classic kernels, a
    /// test digit and `picture` through the filters, and the model's
    /// mistakes on `data`'s test set.
    pub fn analysis(
        &mut self,
        model: &MnistCnn,
        data: &Mnist,
        picture: &GrayImage,
    ) -> Result<AnalysisSummary> {
        let filters = model.conv1_filters()?; // [32, 1, 3, 3]
        let matches = analysis::nearest_classic(&filters)?;
        let table = nearest_kernels_tsv(&matches);
        self.write("nearest-kernels.tsv", |path| {
            crate::io::write_atomic(path, table.as_bytes())
        })?;
        self.save(viz::nearest_kernels(&filters)?, "nearest-kernels.png")?;
        let (mean_similarity, close) = analysis::resemblance(&filters, 0.8)?;

        let digit = crate::data::to_unit(&data.test_images.get(0)?)?.squeeze(0)?; // [28, 28]
        let names = filter_names(filters.dim(0)?);
        let noun = data.dataset.image_noun();
        let title = format!("A test {noun} through each learned filter");
        let fig = viz::feature_maps(&digit, &filters, &names, &title)?;
        self.save(fig, "feature-maps-digit.png")?;
        let classic: Vec<String> = CLASSIC.iter().map(|k| k.name.to_string()).collect();
        let title = format!("The same {noun} through the classic kernels");
        let fig = viz::feature_maps(&digit, &analysis::classic_filters()?, &classic, &title)?;
        self.save(fig, "classic-maps-digit.png")?;
        let pic = crate::picture::picture_tensor(picture)?;
        let title = "The demo picture through each learned filter";
        let fig = viz::feature_maps(&pic, &filters, &names, title)?;
        self.save(fig, "feature-maps-picture.png")?;

        let predictions = Predictions::on_test_set(model, data)?;
        let fig = viz::confusion(&predictions.confusion_matrix(), predictions.dataset)?;
        self.write("confusion.svg", |path| fig.save_svg(path))?;
        self.save(fig, "confusion.png")?;
        let mistakes = predictions.mistakes().len();
        if mistakes > 0 {
            let fig = viz::mistakes(&data.test_images, &predictions, 32)?;
            self.save(fig, "mistakes.png")?;
        }
        self.second_layer(model, data)?;
        Ok(AnalysisSummary {
            mean_similarity,
            close,
            filters: matches.len(),
            accuracy: predictions.accuracy(),
            mistakes,
            test_images: predictions.labels.len(),
        })
    }

    /// What the second layer sees ([`crate::second_layer`]): each conv2
    /// channel's top patches over the test set, and the inputs optimised
    /// for each class and for each channel.
    pub fn second_layer(&mut self, model: &MnistCnn, data: &Mnist) -> Result<()> {
        let k = TOP_IMAGES.min(data.test_len());
        let channels = second_layer::top_patches(model, &data.test_images, k)?;
        let noun = data.dataset.image_noun();
        let title = format!(
            "What each conv2 channel answers most: its mean top patch and its top {k}, over {} test {noun}s",
            data.test_len()
        );
        self.save(
            viz::top_patches(&channels, &title)?,
            "second-layer-top-patches.png",
        )?;
        let config = AscentConfig::default();
        let title = format!(
            "What the network thinks each {} looks like: the input that drives its score highest",
            data.dataset.class_noun()
        );
        let classes = class_pictures(model, data, &config)?;
        self.save(
            viz::optimised_inputs(&classes, &title, 10)?,
            "second-layer-classes.png",
        )?;
        let targets: Vec<Target> = (0..channels.len()).map(Target::Channel).collect();
        let pictures = second_layer::optimise_inputs(model, &targets, &config)?
            .into_iter()
            .enumerate()
            .map(|(ch, (x, total))| (format!("#{ch} ({total:.0})"), x))
            .collect::<Vec<_>>();
        let title = "What drives each conv2 channel: the input that makes its total answer largest";
        self.save(
            viz::optimised_inputs(&pictures, title, 8)?,
            "second-layer-channels.png",
        )
    }

    /// The second layer after each of the post's epochs, from the models
    /// `reproduce` kept then ([`crate::train::post_model_file`]): each
    /// channel's mean top patch over the test set, and the class pictures.
    pub fn second_layer_over_training(
        &mut self,
        models: &[(usize, MnistCnn)],
        data: &Mnist,
    ) -> Result<()> {
        let k = TOP_IMAGES.min(data.test_len());
        let config = AscentConfig::default();
        let rows = models
            .iter()
            .map(|(epoch, model)| {
                let patches = second_layer::mean_top_patches(model, &data.test_images, k)?;
                let label = match epoch {
                    1 => "After 1 epoch".to_string(),
                    e => format!("After {e} epochs"),
                };
                Ok((label, patches, class_pictures(model, data, &config)?))
            })
            .collect::<Result<Vec<viz::TrainingRow>>>()?;
        let title = "The second layer as it learns: what each conv2 channel answers most, and what each class's score likes most";
        self.save(viz::over_training(&rows, title)?, "second-layer-epochs.png")
    }

    /// The experiment's figures and tables (see [`crate::experiment`]): the
    /// arms' curves, their summary, every epoch, the drift of the
    /// hand-chosen start, and the first seed's filters.
    pub fn hand_vs_learned(&mut self, results: &Results) -> Result<()> {
        let fig = viz::arm_comparison(results)?;
        self.write("hand-vs-learned.svg", |path| fig.save_svg(path))?;
        self.save(fig, "hand-vs-learned.png")?;
        let tables = [
            ("hand-vs-learned.tsv", results.summary_tsv()),
            ("hand-vs-learned-epochs.tsv", results.epochs_tsv()),
            ("hand-vs-learned-drift.tsv", results.drift_tsv()),
        ];
        for (name, table) in tables {
            if table.lines().count() > 1 {
                self.write(name, |path| crate::io::write_atomic(path, table.as_bytes()))?;
            }
        }
        if let Some(fig) = viz::arm_filters(results)? {
            self.save(fig, "hand-vs-learned-filters.png")?;
        }
        let table = results.second_layer_tsv();
        if table.lines().count() > 1 {
            self.write("hand-vs-learned-second-layer.tsv", |path| {
                crate::io::write_atomic(path, table.as_bytes())
            })?;
        }
        let seed = results.config.seeds.first().copied();
        let pair = seed.and_then(|s| {
            Some((
                results.run(Arm::Learned, s)?,
                results.run(Arm::RandomFrozen, s)?,
            ))
        });
        if let Some((learned, random)) = pair {
            if !learned.second_layer.is_empty() && !random.second_layer.is_empty() {
                let (a, b) = (&learned.second_layer, &random.second_layer);
                let matches = second_layer::best_matches(b, a)?;
                let title = format!(
                    "Does the second layer see the same over a random first layer? Mean top patches, seed {}",
                    learned.seed
                );
                let names = ("the learned-first-layer network", "the random-frozen one");
                let fig = viz::channel_pairs(a, b, &matches, names, &title)?;
                self.save(fig, "hand-vs-learned-second-layer.png")?;
            }
        }
        Ok(())
    }

    /// The same network and seed trained on each data set (see
    /// [`crate::experiment::datasets`]): the figure and the table.
    pub fn datasets(&mut self, runs: &[DatasetRun]) -> Result<()> {
        let table = datasets::summary_tsv(runs)?;
        self.write("datasets.tsv", |path| {
            crate::io::write_atomic(path, table.as_bytes())
        })?;
        self.save(viz::dataset_filters(runs)?, "datasets.png")
    }
}
