//! `filters-are-weights`: reproduce the post's figures from the command line.

use filters_are_weights::analysis::{self, Predictions};
use filters_are_weights::data::Mnist;
use filters_are_weights::kernels::{self, demo_picture};
use filters_are_weights::model::MnistCnn;
use filters_are_weights::train::{History, Progress, TrainConfig, Trainer};
use filters_are_weights::viz::{self, ColourScale};
use filters_are_weights::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
filters-are-weights: convolutional filters are weights, learned by gradient descent

USAGE:
    filters-are-weights reproduce [OPTIONS]   train Keras' mnist_cnn and draw the post's figures
    filters-are-weights plot HISTORY [OUT]    draw the figures again from a history.json
    filters-are-weights analyze MODEL [OUT]   what a trained model's filters do (MNIST needed)
    filters-are-weights demo-picture PATH     write the demo picture (data/demo.png) to PATH
    filters-are-weights help [COMMAND]        this text, or a command's options
    filters-are-weights --version             the version

Every command takes -h or --help. Options take their value as `--epochs 3`
or `--epochs=3`.
";

const REPRODUCE_USAGE: &str = "\
filters-are-weights reproduce [OPTIONS]: train Keras' mnist_cnn (15 epochs, batch 128,
Adadelta lr 1.0) and write the post's figures, the model and the history to OUT

OPTIONS:
    --data-dir DIR           MNIST IDX files (default: $MNIST_DIR, else data/mnist/, else the Hub)
    --epochs N               epochs to train [default: 15]
    --snapshot-epochs LIST   epochs after which the filters are kept [default: all]
    --snapshot-every N       also keep the filters every N batches
    --snapshot-steps LIST    also keep them after these batches [default: 1,2,5,10,20,50,100,200]
    --train-subset N         train on the first N training images only
    --test-subset N          test on the first N test images only
    --seed S                 seed of initialisation, shuffling and dropout [default: 42]
    --out DIR                where to write figures, model and history [default: out]
    --picture PATH           picture for the kernel gallery [default: data/demo.png]
    --device DEVICE          cpu, cuda or metal (the last two need a build with that feature)
                             [default: cpu]
    --resume                 continue from OUT/checkpoint.safetensors (saved after every epoch)
    --quiet                  no progress display
    -h, --help               this text
";

const PLOT_USAGE: &str = "\
filters-are-weights plot HISTORY [OUT]: draw the training figures again from the
history.json a reproduce run wrote, into OUT [default: out]
";

const ANALYZE_USAGE: &str = "\
filters-are-weights analyze MODEL [OUT] [OPTIONS]: what a trained model's filters do
(nearest classic kernels, feature maps, confusion, mistakes), into OUT [default: out]

OPTIONS:
    --data-dir DIR           MNIST IDX files (default: $MNIST_DIR, else data/mnist/, else the Hub)
    --picture PATH           picture for the feature maps [default: data/demo.png]
";

const DEMO_PICTURE_USAGE: &str = "\
filters-are-weights demo-picture PATH: write the demo picture the crate draws
(data/demo.png) to PATH
";

/// The help text of `command`.
fn usage_of(command: &str) -> Option<&'static str> {
    Some(match command {
        "reproduce" => REPRODUCE_USAGE,
        "plot" => PLOT_USAGE,
        "analyze" => ANALYZE_USAGE,
        "demo-picture" => DEMO_PICTURE_USAGE,
        _ => return None,
    })
}

/// A command's arguments: `--name=value` is split into `--name value`.
fn split_equals(args: impl Iterator<Item = String>) -> Vec<String> {
    args.flat_map(|a| match a.split_once('=') {
        Some((name, value)) if name.starts_with("--") => vec![name.to_string(), value.to_string()],
        _ => vec![a],
    })
    .collect()
}

fn wants_help(args: &[String]) -> bool {
    args.iter().any(|a| a == "-h" || a == "--help")
}

#[derive(Debug)]
struct Options {
    data_dir: Option<PathBuf>,
    device: String,
    config: TrainConfig,
    train_subset: Option<usize>,
    test_subset: Option<usize>,
    out: PathBuf,
    picture: Option<PathBuf>,
    resume: bool,
}

fn parse_number<T: std::str::FromStr>(flag: &str, value: Option<String>) -> Result<T> {
    let value = value.ok_or_else(|| Error::InvalidConfig(format!("{flag} needs a value")))?;
    value
        .parse()
        .map_err(|_| Error::InvalidConfig(format!("{flag}: '{value}' is not a valid number")))
}

fn parse_reproduce(mut args: impl Iterator<Item = String>) -> Result<Options> {
    let mut config = TrainConfig::default();
    let mut snapshot_epochs = None;
    config.snapshot_steps = vec![1, 2, 5, 10, 20, 50, 100, 200];
    let mut o = Options {
        data_dir: None,
        device: "cpu".into(),
        config: TrainConfig::default(),
        train_subset: None,
        test_subset: None,
        out: PathBuf::from("out"),
        picture: None,
        resume: false,
    };
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--data-dir" => o.data_dir = Some(PathBuf::from(need(&flag, args.next())?)),
            "--epochs" => config.epochs = parse_number(&flag, args.next())?,
            "--snapshot-epochs" => snapshot_epochs = Some(parse_list(&flag, args.next())?),
            "--snapshot-steps" => config.snapshot_steps = parse_list(&flag, args.next())?,
            "--snapshot-every" => {
                config.snapshot_every_batches = Some(parse_number(&flag, args.next())?)
            }
            "--train-subset" => o.train_subset = Some(parse_number(&flag, args.next())?),
            "--test-subset" => o.test_subset = Some(parse_number(&flag, args.next())?),
            "--seed" => config.seed = parse_number(&flag, args.next())?,
            "--out" => o.out = PathBuf::from(need(&flag, args.next())?),
            "--picture" => o.picture = Some(PathBuf::from(need(&flag, args.next())?)),
            "--device" => o.device = need(&flag, args.next())?,
            "--quiet" => config.progress = Progress::Silent,
            "--resume" => o.resume = true,
            other => {
                return Err(Error::InvalidConfig(format!(
                    "unknown option '{other}'\n\n{REPRODUCE_USAGE}"
                )))
            }
        }
    }
    config.snapshot_epochs = match snapshot_epochs {
        Some(list) => list,
        // Every epoch (for the animation); the post's ones get their own figures.
        None => (0..=config.epochs).collect(),
    };
    config.validate()?;
    o.config = config;
    Ok(o)
}

fn parse_list(flag: &str, value: Option<String>) -> Result<Vec<usize>> {
    need(flag, value)?
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| parse_number(flag, Some(s.trim().to_string())))
        .collect()
}

fn need(flag: &str, value: Option<String>) -> Result<String> {
    value.ok_or_else(|| Error::InvalidConfig(format!("{flag} needs a value")))
}

fn reproduce(o: Options) -> Result<()> {
    let device = device(&o.device)?;
    // The kernel gallery first: it needs no training.
    let picture = match &o.picture {
        Some(path) => {
            let picture = kernels::load_picture(path)?;
            let (w, h) = picture.dimensions();
            match image::image_dimensions(path) {
                Ok((w0, h0)) if (w0, h0) != (w, h) => println!(
                    "picture {}: {w0}x{h0}, brought to {w}x{h} for the kernels",
                    path.display()
                ),
                _ => println!("picture {}: {w}x{h}", path.display()),
            }
            picture
        }
        None => demo_picture(),
    };
    let out = |name: &str| o.out.join(name);
    viz::kernel_gallery(&picture)?.save_png(out("kernel-gallery.png"))?;
    println!("wrote {}", out("kernel-gallery.png").display());

    let data = match &o.data_dir {
        Some(dir) => Mnist::from_dir(dir)?,
        None => Mnist::load()?,
    };
    let data = data.subset(
        o.train_subset.unwrap_or(usize::MAX),
        o.test_subset.unwrap_or(usize::MAX),
    )?;
    println!(
        "MNIST from {}: {} training and {} test images",
        data.source,
        data.train_len(),
        data.test_len()
    );
    let checkpoint = out("checkpoint.safetensors");
    let mut trainer = if o.resume && checkpoint.is_file() {
        let t = resume(&checkpoint, &o.config, &data, &device)?;
        println!(
            "resuming from {} after epoch {}",
            checkpoint.display(),
            t.epochs_done()
        );
        t
    } else {
        Trainer::new(MnistCnn::new(o.config.seed, &device)?, o.config.clone())?
    };
    println!(
        "model: Keras' mnist_cnn, {} parameters; training {} epochs, batch {}, seed {}",
        trainer.model.parameter_count(),
        o.config.epochs,
        o.config.batch_size,
        o.config.seed
    );
    let remaining = o.config.epochs.saturating_sub(trainer.epochs_done());
    trainer.run_epochs_with(&data, remaining, |t| {
        // After every epoch: a checkpoint to resume from, the model and the
        // history, each complete on disk (written atomically).
        t.save_checkpoint(&checkpoint)?;
        t.model.save(out("model.safetensors"))?;
        filters_are_weights::io::write_atomic(out("history.json"), t.history.to_json()?.as_bytes())
    })?;

    let history = &trainer.history;
    write_figures(history, &o.out)?;
    write_analysis(&trainer.model, &data, &picture, &o.out)?;
    let total: f32 = history.epochs.iter().map(|e| e.train_seconds).sum();
    println!(
        "done: test accuracy {:.2}% after {} epochs ({:.1} s of training, {:.1} s per epoch); \
         figures, model.safetensors and history.json in {}",
        100.0 * history.epochs.last().map_or(0.0, |e| e.test_accuracy),
        history.epochs.len(),
        total,
        total / history.epochs.len().max(1) as f32,
        o.out.display()
    );
    Ok(())
}

/// The trainer saved in `checkpoint`, checked against this run's settings
/// and data, set to run `config.epochs` epochs in all.
fn resume(
    checkpoint: &Path,
    config: &TrainConfig,
    data: &Mnist,
    device: &candle_core::Device,
) -> Result<Trainer> {
    let mut t = Trainer::from_checkpoint(checkpoint, device)?;
    let mismatch = |what: &str, then: String, now: String| {
        Error::InvalidConfig(format!(
            "cannot resume from {}: it was made with {what} {then}, this run has {now}; \
             run with the same options, or without --resume to start afresh",
            checkpoint.display()
        ))
    };
    if t.config.seed != config.seed {
        return Err(mismatch(
            "seed",
            t.config.seed.to_string(),
            config.seed.to_string(),
        ));
    }
    if t.config.batch_size != config.batch_size {
        let (then, now) = (t.config.batch_size, config.batch_size);
        return Err(mismatch("batch size", then.to_string(), now.to_string()));
    }
    let steps = data.train_len().div_ceil(config.batch_size);
    if t.history.steps_per_epoch != steps {
        return Err(Error::InvalidConfig(format!(
            "cannot resume from {}: it was trained with {} batches per epoch, this data \
             gives {steps}; use the same data and --train-subset, or run without --resume",
            checkpoint.display(),
            t.history.steps_per_epoch
        )));
    }
    if t.epochs_done() > config.epochs {
        return Err(Error::InvalidConfig(format!(
            "{} already holds {} epochs, more than --epochs {}",
            checkpoint.display(),
            t.epochs_done(),
            config.epochs
        )));
    }
    t.config = config.clone();
    Ok(t)
}

/// Saves `fig` as `out/name` and says so.
fn save(fig: viz::Figure, out: &Path, name: &str) -> Result<()> {
    let path = out.join(name);
    fig.save_png(&path)?;
    println!("wrote {}", path.display());
    Ok(())
}

/// Draws the filter figures of `history` into `out`: one per epoch snapshot,
/// the evolution, the first steps, the change, the animation, and the curves.
fn write_figures(history: &History, out: &Path) -> Result<()> {
    let steps = history.steps_per_epoch;
    let epoch_snapshots = history.epoch_snapshots();
    // The post's epochs (0, 1, 7, 15) that this run has, and its last one.
    let last = epoch_snapshots.last().map_or(0, |s| s.epoch);
    let post = TrainConfig::post_snapshot_epochs(last);
    let post_snapshots: Vec<_> = epoch_snapshots
        .iter()
        .filter(|s| post.contains(&s.epoch))
        .cloned()
        .collect();
    for s in &post_snapshots {
        let title = match s.epoch {
            0 => "First-layer filters at initialisation".to_string(),
            1 => "First-layer filters after 1 epoch".to_string(),
            e => format!("First-layer filters after {e} epochs"),
        };
        let fig = viz::filter_grid(&s.tensor()?, &title, ColourScale::Shared)?;
        save(fig, out, &format!("filters-epoch-{:02}.png", s.epoch))?;
    }
    save(
        viz::filter_evolution(&epoch_snapshots, steps)?,
        out,
        "filters-evolution.png",
    )?;
    // The first moves away from random: every snapshot up to the first epoch's end.
    let first: Vec<_> = history
        .snapshots
        .iter()
        .filter(|s| s.step <= steps)
        .cloned()
        .collect();
    if first.len() > 2 {
        save(
            viz::filter_evolution(&first, steps)?,
            out,
            "filters-first-steps.png",
        )?;
    }
    if history.snapshots.len() > epoch_snapshots.len() {
        save(
            viz::filter_evolution(&history.snapshots, steps)?,
            out,
            "filters-steps.png",
        )?;
    }
    if let (Some(initial), Some(last)) = (history.snapshots.first(), epoch_snapshots.last()) {
        save(
            viz::filter_change(initial, last, steps)?,
            out,
            "filters-change.png",
        )?;
    }
    let animation = viz::filter_animation(&history.snapshots, steps, 400)?;
    animation.save_gif(out.join("filters-animation.gif"))?;
    println!("wrote {}", out.join("filters-animation.gif").display());
    let curves = viz::curves(history)?;
    curves.save_svg(out.join("curves.svg"))?;
    save(curves, out, "curves.png")
}

/// What the trained `model`'s filters do: the nearest classic kernels, a digit
/// and `picture` through the filters, and the model's mistakes on `data`.
fn write_analysis(
    model: &MnistCnn,
    data: &Mnist,
    picture: &image::GrayImage,
    out: &Path,
) -> Result<()> {
    let filters = model.conv1_filters()?;
    let matches = analysis::nearest_classic(&filters)?;
    let mut table = String::from("filter\tnearest classic kernel\tcentred cosine\n");
    for m in &matches {
        table += &format!("{}\t{}\t{:+.3}\n", m.filter, m.kernel.name, m.score);
    }
    filters_are_weights::io::write_atomic(out.join("nearest-kernels.tsv"), table.as_bytes())?;
    save(viz::nearest_kernels(&filters)?, out, "nearest-kernels.png")?;
    let (mean, close) = analysis::resemblance(&filters, 0.8)?;
    println!(
        "learned filters: mean best similarity to a classic kernel {mean:.2}, \
         {close} of {} at 0.8 or more",
        matches.len()
    );

    let digit = data.test_images.get(0)?.squeeze(0)?; // [28, 28]
    let names: Vec<String> = (0..filters.dim(0)?).map(|i| format!("#{i}")).collect();
    let title = "A test digit through each learned filter";
    save(
        viz::feature_maps(&digit, &filters, &names, title)?,
        out,
        "feature-maps-digit.png",
    )?;
    let classic: Vec<String> = kernels::CLASSIC
        .iter()
        .map(|k| k.name.to_string())
        .collect();
    let title = "The same digit through the classic kernels";
    let fig = viz::feature_maps(&digit, &analysis::classic_filters()?, &classic, title)?;
    save(fig, out, "classic-maps-digit.png")?;
    let pic = kernels::picture_tensor(picture)?;
    let title = "The demo picture through each learned filter";
    save(
        viz::feature_maps(&pic, &filters, &names, title)?,
        out,
        "feature-maps-picture.png",
    )?;

    let predictions = Predictions::on_test_set(model, data)?;
    save(
        viz::confusion(&predictions.confusion_matrix())?,
        out,
        "confusion.png",
    )?;
    let mistakes = predictions.mistakes();
    if !mistakes.is_empty() {
        save(
            viz::mistakes(&data.test_images, &predictions, 32)?,
            out,
            "mistakes.png",
        )?;
    }
    println!(
        "test accuracy {:.2}%: {} mistakes in {} test images",
        100.0 * predictions.accuracy(),
        mistakes.len(),
        predictions.labels.len()
    );
    Ok(())
}

/// `plot HISTORY OUT`: the figures again, from a saved history.
fn plot(history: &Path, out: &Path) -> Result<()> {
    let text = std::fs::read_to_string(history).map_err(|e| Error::io(history, e))?;
    let history: History = serde_json::from_str(&text).map_err(|e| {
        Error::bad_data(history, format!("not a history written by reproduce ({e})"))
    })?;
    write_figures(&history, out)
}

/// The device named on the command line.
fn device(name: &str) -> Result<candle_core::Device> {
    use candle_core::Device;
    let unavailable = |what: &str, feature: &str, e: candle_core::Error| {
        Error::InvalidConfig(format!(
            "--device {name}: {what} is not available ({e}); it needs a build with \
             `--features {feature}` and a {what} GPU, or use --device cpu"
        ))
    };
    match name {
        "cpu" => Ok(Device::Cpu),
        "cuda" => Device::new_cuda(0).map_err(|e| unavailable("CUDA", "cuda", e)),
        "metal" => Device::new_metal(0).map_err(|e| unavailable("Metal", "metal", e)),
        other => Err(Error::InvalidConfig(format!(
            "--device: '{other}' is not a device; choose cpu, cuda or metal"
        ))),
    }
}

/// `analyze MODEL [OUT] [--data-dir DIR] [--picture PATH]`.
fn analyze(args: Vec<String>) -> Result<()> {
    let (mut positional, mut data_dir, mut picture) = (Vec::new(), None, None);
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data-dir" => data_dir = Some(PathBuf::from(need(&a, args.next())?)),
            "--picture" => picture = Some(PathBuf::from(need(&a, args.next())?)),
            other if other.starts_with("--") => {
                return Err(Error::InvalidConfig(format!(
                    "unknown option '{other}'\n\n{ANALYZE_USAGE}"
                )))
            }
            _ => positional.push(PathBuf::from(a)),
        }
    }
    let mut positional = positional.into_iter();
    let model = positional
        .next()
        .ok_or_else(|| Error::InvalidConfig(format!("analyze needs a MODEL\n\n{ANALYZE_USAGE}")))?;
    let out = positional.next().unwrap_or_else(|| PathBuf::from("out"));
    let model = MnistCnn::load(&model, &candle_core::Device::Cpu)?;
    let data = match data_dir {
        Some(dir) => Mnist::from_dir(dir)?,
        None => Mnist::load()?,
    };
    let picture = match picture {
        Some(path) => kernels::load_picture(path)?,
        None => demo_picture(),
    };
    write_analysis(&model, &data, &picture, &out)
}

fn run() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let command = args.next();
    let rest = split_equals(args);
    if let Some(usage) = command.as_deref().and_then(usage_of) {
        if wants_help(&rest) {
            print!("{usage}");
            return Ok(());
        }
    }
    match command.as_deref() {
        Some("reproduce") => reproduce(parse_reproduce(rest.into_iter())?),
        Some("analyze") => analyze(rest),
        Some("plot") => {
            let mut rest = rest.into_iter();
            let history = rest.next().ok_or_else(|| {
                Error::InvalidConfig(format!("plot needs a HISTORY file\n\n{PLOT_USAGE}"))
            })?;
            let history = PathBuf::from(history);
            let out = rest
                .next()
                .map_or_else(|| PathBuf::from("out"), PathBuf::from);
            plot(&history, &out)
        }
        Some("demo-picture") => {
            let path = rest.into_iter().next().ok_or_else(|| {
                Error::InvalidConfig(format!("demo-picture needs a PATH\n\n{DEMO_PICTURE_USAGE}"))
            })?;
            filters_are_weights::io::write_atomic(&path, &png(&demo_picture())?)?;
            println!("wrote {path}");
            Ok(())
        }
        Some("help") => {
            let topic = rest.first().map(String::as_str);
            match topic.map(|t| usage_of(t).ok_or(t)) {
                None => print!("{USAGE}"),
                Some(Ok(usage)) => print!("{usage}"),
                Some(Err(t)) => {
                    return Err(Error::InvalidConfig(format!(
                        "no command is named '{t}'\n\n{USAGE}"
                    )))
                }
            }
            Ok(())
        }
        Some("-V" | "--version") => {
            println!("filters-are-weights {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Some("-h" | "--help") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(Error::InvalidConfig(format!(
            "unknown command '{other}'\n\n{USAGE}"
        ))),
    }
}

fn png(img: &image::GrayImage) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .map_err(|e| Error::Plot(e.to_string()))?;
    Ok(bytes)
}

fn main() -> ExitCode {
    // Training allocates the same big buffers at every step: keep them.
    filters_are_weights::train::keep_freed_memory();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
