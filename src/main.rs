//! `filters-are-weights`: reproduce the post's figures from the command line.
//!
//! This file only parses the command line (clap) and says what happened;
//! the work is the library's: [`Trainer`] trains, [`Report`] writes the
//! figures and the analysis.

use clap::{Args, CommandFactory, Parser, Subcommand};
use filters_are_weights::data::{Dataset, Mnist};
use filters_are_weights::experiment::datasets::DatasetRun;
use filters_are_weights::experiment::{Experiment, ExperimentConfig, RESULTS_FILE};
use filters_are_weights::model::MnistCnn;
use filters_are_weights::picture::{self, demo_picture};
use filters_are_weights::report::Report;
use filters_are_weights::train::{
    post_model_file, History, Progress, TrainConfig, Trainer, CHECKPOINT_FILE, EARLY_STEPS,
};
use filters_are_weights::{io, Error, Result};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Convolutional filters are weights, learned by gradient descent.
#[derive(Parser)]
#[command(
    name = "filters-are-weights",
    version,
    override_usage = "\
filters-are-weights reproduce [OPTIONS]         train Keras' mnist_cnn and draw the post's figures
       filters-are-weights hand-vs-learned [OPTIONS]   filters chosen by hand against filters learned
       filters-are-weights compare-datasets [OPTIONS]  the same network trained on MNIST and Fashion-MNIST
       filters-are-weights plot HISTORY [OUT]          draw the figures again from a history.json
       filters-are-weights analyze MODEL [OUT]         what a trained model's filters do (MNIST needed)
       filters-are-weights demo-picture PATH           write the demo picture (data/demo.png) to PATH
       filters-are-weights help [COMMAND]              this text, or a command's options"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Train Keras' mnist_cnn (15 epochs, batch 128, Adadelta lr 1.0) and
    /// write the post's figures, the model and the history to OUT.
    Reproduce(Reproduce),
    /// Train the same network four ways, its first layer learned (the post's
    /// run), hand-chosen and frozen, random and frozen, or hand-chosen then
    /// learned, with several seeds; write the curves, the tables and the
    /// filters to OUT.
    HandVsLearned(HandVsLearned),
    /// Train the same network from the same seed on MNIST and on
    /// Fashion-MNIST, and write each one's filters and nearest classic
    /// kernels side by side to OUT.
    CompareDatasets(CompareDatasets),
    /// Draw the training figures again from the history.json a reproduce run
    /// wrote.
    Plot {
        /// The history.json of a reproduce run.
        history: PathBuf,
        /// Where to write the figures.
        #[arg(default_value = "out")]
        out: PathBuf,
    },
    /// What a trained model's filters do (nearest classic kernels, feature
    /// maps, confusion, mistakes).
    Analyze {
        /// A model.safetensors (or checkpoint.safetensors) written by reproduce.
        model: PathBuf,
        /// Where to write the figures.
        #[arg(default_value = "out")]
        out: PathBuf,
        #[command(flatten)]
        inputs: Inputs,
    },
    /// Write the demo picture the crate draws (data/demo.png) to PATH.
    DemoPicture {
        /// Where to write the PNG.
        path: PathBuf,
    },
}

/// Which data set, and where it comes from.
#[derive(Args)]
struct DataChoice {
    /// The data set: the post's handwritten digits, or Zalando's pictures of
    /// clothes.
    #[arg(long, default_value = "mnist", value_parser = dataset_name())]
    dataset: Dataset,
    /// Its four IDX files [default: $MNIST_DIR, else data/mnist/, else the
    /// Hub; for fashion-mnist $FASHION_MNIST_DIR, else data/fashion-mnist/,
    /// else Debian's /usr/share/datasets/fashion-mnist, else the Hub].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

/// A data set's name on the command line (clap lists the possible values).
fn dataset_name() -> impl clap::builder::TypedValueParser<Value = Dataset> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Dataset::ALL.map(Dataset::id))
        .try_map(|id| id.parse::<Dataset>())
}

/// Where the data and the picture come from.
#[derive(Args)]
struct Inputs {
    #[command(flatten)]
    data: DataChoice,
    /// The picture for the kernel gallery and the feature maps [default:
    /// data/demo.png].
    #[arg(long, value_name = "PATH")]
    picture: Option<PathBuf>,
}

#[derive(Args)]
struct Reproduce {
    #[command(flatten)]
    inputs: Inputs,
    #[command(flatten)]
    run: RunLength,
    /// Epochs after which the filters are kept [default: all].
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = number::<usize>)]
    snapshot_epochs: Option<Vec<usize>>,
    /// Also keep the filters every N batches.
    #[arg(long, value_name = "N", value_parser = number::<usize>)]
    snapshot_every: Option<usize>,
    /// Also keep them after these batches [default: 1,2,5,10,20,50,100,200].
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = number::<usize>)]
    snapshot_steps: Option<Vec<usize>>,
    /// Where to write figures, model and history.
    #[arg(long, value_name = "DIR", default_value = "out")]
    out: PathBuf,
    /// Continue from OUT/checkpoint.safetensors (saved after every epoch).
    #[arg(long)]
    resume: bool,
    #[command(flatten)]
    training: Training,
}

#[derive(Args)]
struct HandVsLearned {
    #[command(flatten)]
    data: DataChoice,
    /// Seeds per arm (42, 43, ...).
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = number::<usize>)]
    seeds: usize,
    /// Epochs per run [default: 15; with --quick, 2].
    #[arg(long, value_name = "N", value_parser = number::<usize>)]
    epochs: Option<usize>,
    /// A quick look: 2 epochs on 6,000 training and 1,000 test images
    /// (unless --epochs or the subsets say otherwise).
    #[arg(long)]
    quick: bool,
    /// Where to write the results, figures and tables.
    #[arg(long, value_name = "DIR", default_value = "out/hand-vs-learned")]
    out: PathBuf,
    /// Keep the runs already saved in OUT/hand-vs-learned.json (saved after
    /// every run) and run only the others.
    #[arg(long)]
    resume: bool,
    #[command(flatten)]
    training: Training,
}

/// How long one training run is, and its seed: the post's 15 epochs from 42.
#[derive(Args, Clone, Copy)]
struct RunLength {
    /// Epochs to train.
    #[arg(long, value_name = "N", default_value_t = 15, value_parser = number::<usize>)]
    epochs: usize,
    /// Seed of initialisation, shuffling and dropout.
    #[arg(long, value_name = "S", default_value_t = 42, value_parser = number::<u64>)]
    seed: u64,
}

#[derive(Args)]
struct CompareDatasets {
    #[command(flatten)]
    run: RunLength,
    /// MNIST's IDX files [default: $MNIST_DIR, else data/mnist/, else the Hub].
    #[arg(long, value_name = "DIR")]
    mnist_dir: Option<PathBuf>,
    /// Fashion-MNIST's IDX files [default: $FASHION_MNIST_DIR, else
    /// data/fashion-mnist/, else /usr/share/datasets/fashion-mnist, else the
    /// Hub].
    #[arg(long, value_name = "DIR")]
    fashion_mnist_dir: Option<PathBuf>,
    /// Where to write the figure and the table (each data set's model and
    /// history go in OUT/mnist and OUT/fashion-mnist).
    #[arg(long, value_name = "DIR", default_value = "out/datasets")]
    out: PathBuf,
    /// Continue each data set's run from its checkpoint (saved after every
    /// epoch).
    #[arg(long)]
    resume: bool,
    #[command(flatten)]
    training: Training,
}

/// How a command that trains runs: on how much data, where, how loudly.
#[derive(Args)]
struct Training {
    /// Train on the first N training images only.
    #[arg(long, value_name = "N", value_parser = number::<usize>)]
    train_subset: Option<usize>,
    /// Test on the first N test images only.
    #[arg(long, value_name = "N", value_parser = number::<usize>)]
    test_subset: Option<usize>,
    /// Where to train (cuda and metal need a build with that feature).
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "cuda", "metal"])]
    device: String,
    /// No progress display.
    #[arg(long)]
    quiet: bool,
}

impl Training {
    /// `dataset` from `dir` (or where the crate finds it), cut to the
    /// subsets (`(train, test)` images by default), said on stdout.
    fn data(
        &self,
        dataset: Dataset,
        dir: Option<&Path>,
        (train, test): (usize, usize),
    ) -> Result<Mnist> {
        let data = Mnist::from_dir_or_load(dataset, dir)?.subset(
            self.train_subset.unwrap_or(train),
            self.test_subset.unwrap_or(test),
        )?;
        println!("{data}");
        Ok(data)
    }

    fn progress(&self) -> Progress {
        if self.quiet {
            Progress::Silent
        } else {
            Progress::auto()
        }
    }
}

/// Says so when a run goes on from `checkpoint`, where `epochs` were done.
fn say_resumed(checkpoint: &Path, epochs: usize) {
    if epochs > 0 {
        println!(
            "resuming from {} after epoch {epochs}",
            checkpoint.display()
        );
    }
}

/// A whole number, or why the text is not one.
fn number<T: std::str::FromStr>(text: &str) -> std::result::Result<T, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a valid number"))
}

impl Reproduce {
    /// The run these options describe, checked.
    fn config(&self) -> Result<TrainConfig> {
        let RunLength { epochs, seed } = self.run;
        let config = TrainConfig {
            epochs,
            seed,
            // Every epoch by default (for the animation); the post's ones get
            // their own figures.
            snapshot_epochs: (self.snapshot_epochs.clone())
                .unwrap_or_else(|| (0..=epochs).collect()),
            snapshot_every_batches: self.snapshot_every,
            snapshot_steps: (self.snapshot_steps.clone()).unwrap_or_else(|| EARLY_STEPS.to_vec()),
            progress: self.training.progress(),
            ..TrainConfig::default()
        };
        config.validate()?;
        Ok(config)
    }
}

impl Inputs {
    /// The picture, brought to the kernels' working size (and said so).
    fn picture(&self) -> Result<image::GrayImage> {
        let Some(path) = &self.picture else {
            return Ok(demo_picture());
        };
        let picture = picture::load_picture(path)?;
        println!("{}", picture::picture_note(path, &picture));
        Ok(picture)
    }
}

fn reproduce(o: &Reproduce) -> Result<()> {
    let config = o.config()?;
    let device = filters_are_weights::device(&o.training.device)?;
    let mut report = Report::new(&o.out).telling();
    // The kernel gallery first: it needs no training.
    let picture = o.inputs.picture()?;
    report.kernel_gallery(&picture)?;

    let everything = (usize::MAX, usize::MAX);
    let choice = &o.inputs.data;
    let data = (o.training).data(choice.dataset, choice.data_dir.as_deref(), everything)?;
    let checkpoint = o.out.join(CHECKPOINT_FILE);
    let mut trainer = Trainer::resume_or_new(&checkpoint, o.resume, &config, &data, &device)?;
    say_resumed(&checkpoint, trainer.epochs_done());
    let parameters = trainer.model.parameter_count();
    println!("model: Keras' mnist_cnn, {parameters} parameters; {config}");
    trainer.run_saving(&data, &o.out)?;

    let history = &trainer.history;
    report.training_figures(history)?;
    // The second layer after the post's epochs, from the models kept then.
    let mut kept = Vec::new();
    for epoch in TrainConfig::post_snapshot_epochs(config.epochs) {
        let path = o.out.join(post_model_file(epoch));
        if epoch > 0 && path.is_file() {
            kept.push((epoch, MnistCnn::load(&path, &device)?));
        }
    }
    report.second_layer_over_training(&kept, &data)?;
    println!("{}", report.analysis(&trainer.model, &data, &picture)?);
    println!(
        "done: {history}; figures, model.safetensors and history.json in {}",
        o.out.display()
    );
    Ok(())
}

fn hand_vs_learned(o: &HandVsLearned) -> Result<()> {
    let quick = |full: usize, quick: usize| if o.quick { quick } else { full };
    let mut config = ExperimentConfig::with(o.seeds, o.epochs.unwrap_or(quick(15, 2)));
    config.train.progress = o.training.progress();
    config.validate()?;
    let device = filters_are_weights::device(&o.training.device)?;
    let subsets = (quick(usize::MAX, 6000), quick(usize::MAX, 1000));
    let data = (o.training).data(o.data.dataset, o.data.data_dir.as_deref(), subsets)?;
    let arms = config.arms.len() * config.seeds.len();
    let (seeds, train) = (&config.seeds, &config.train);
    println!(
        "{arms} runs: {} first layers x seeds {seeds:?}, {} epochs each, batch {}",
        config.arms.len(),
        train.epochs,
        train.batch_size
    );
    let saved = o.out.join(RESULTS_FILE);
    if saved.is_file() && !o.resume {
        println!(
            "{} holds an earlier run: it is replaced as this one goes \
             (--resume keeps its runs instead)",
            saved.display()
        );
    }
    let results = Experiment::new(config)
        .saving_to(&o.out)
        .resuming(o.resume)
        .run(&data, &device)?;
    let mut report = Report::new(&o.out).telling();
    report.hand_vs_learned(&results)?;
    println!("{results}");
    Ok(())
}

fn compare_datasets(o: &CompareDatasets) -> Result<()> {
    let config = TrainConfig {
        epochs: o.run.epochs,
        seed: o.run.seed,
        snapshot_epochs: (0..=o.run.epochs).collect(),
        progress: o.training.progress(),
        ..TrainConfig::default()
    };
    config.validate()?;
    let device = filters_are_weights::device(&o.training.device)?;
    let dirs = [o.mnist_dir.as_deref(), o.fashion_mnist_dir.as_deref()];
    let everything = (usize::MAX, usize::MAX);
    let mut runs = Vec::new();
    for (dataset, dir) in Dataset::ALL.into_iter().zip(dirs) {
        let data = o.training.data(dataset, dir, everything)?;
        let run_dir = o.out.join(dataset.id());
        let run = DatasetRun::train(&data, &config, &run_dir, o.resume, &device)?;
        say_resumed(&run_dir.join(CHECKPOINT_FILE), run.resumed_after);
        println!("{dataset}: {}", run.history);
        runs.push(run);
    }
    Report::new(&o.out).telling().datasets(&runs)?;
    Ok(())
}

fn plot(history: &Path, out: &Path) -> Result<()> {
    Report::new(out)
        .telling()
        .training_figures(&History::load(history)?)
}

fn analyze(model: &Path, out: &Path, inputs: &Inputs) -> Result<()> {
    let model = MnistCnn::load(model, &candle_core::Device::Cpu)?;
    let data = Mnist::from_dir_or_load(inputs.data.dataset, inputs.data.data_dir.as_deref())?;
    let picture = inputs.picture()?;
    let summary = Report::new(out)
        .telling()
        .analysis(&model, &data, &picture)?;
    println!("{summary}");
    Ok(())
}

fn demo(path: &Path) -> Result<()> {
    io::write_png(path, &demo_picture())?;
    println!("wrote {}", path.display());
    Ok(())
}

/// What the command line's options can do about a library error, said
/// after it (the library's messages speak of its own settings).
fn advice(e: &Error) -> Option<&'static str> {
    match e {
        Error::Write { .. } => Some("--out DIR writes the outputs somewhere else."),
        Error::CannotResume { .. } => Some(
            "Run with the options it was made with, leave out --resume to start afresh, \
             or choose another folder with --out DIR.",
        ),
        Error::DatasetUnavailable(_) => Some("--data-dir DIR reads the four IDX files from DIR."),
        Error::WrongDataset { .. } => Some(
            "--dataset names the data set; --data-dir DIR must hold that set's four IDX files.",
        ),
        Error::DeviceUnavailable(_) => Some(
            "--device cuda needs a build with `cargo build --release --features cuda` \
             (--features metal for --device metal); --device cpu always works.",
        ),
        _ => None,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let done = match &cli.command {
        Some(Command::Reproduce(o)) => reproduce(o),
        Some(Command::HandVsLearned(o)) => hand_vs_learned(o),
        Some(Command::CompareDatasets(o)) => compare_datasets(o),
        Some(Command::Plot { history, out }) => plot(history, out),
        Some(Command::Analyze { model, out, inputs }) => analyze(model, out, inputs),
        Some(Command::DemoPicture { path }) => demo(path),
        None => Cli::command()
            .print_help()
            .map_err(|e| Error::io("stdout", e)),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            if let Some(advice) = advice(&e) {
                eprintln!("{advice}");
            }
            ExitCode::FAILURE
        }
    }
}
