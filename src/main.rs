//! `filters-are-weights`: reproduce the post's figures from the command line.

use filters_are_weights::data::Mnist;
use filters_are_weights::kernels::{self, demo_picture};
use filters_are_weights::model::MnistCnn;
use filters_are_weights::train::{Progress, TrainConfig, Trainer};
use filters_are_weights::viz::{self, ColourScale};
use filters_are_weights::{Error, Result};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
filters-are-weights: convolutional filters are weights, learned by gradient descent

USAGE:
    filters-are-weights reproduce [OPTIONS]   train Keras' mnist_cnn and draw the post's figures
    filters-are-weights demo-picture PATH     write the demo picture (data/demo.png) to PATH

OPTIONS of reproduce:
    --data-dir DIR           MNIST IDX files (default: $MNIST_DIR, else data/mnist/, else the Hub)
    --epochs N               epochs to train [default: 15]
    --snapshot-epochs LIST   epochs whose filters are drawn [default: 0,1,7,15, within --epochs]
    --snapshot-every N       also keep the filters every N batches
    --train-subset N         train on the first N training images only
    --test-subset N          test on the first N test images only
    --seed S                 seed of initialisation, shuffling and dropout [default: 42]
    --out DIR                where to write figures, model and history [default: out]
    --picture PATH           picture for the kernel gallery [default: data/demo.png]
    --quiet                  no progress display
";

#[derive(Debug)]
struct Options {
    data_dir: Option<PathBuf>,
    config: TrainConfig,
    train_subset: Option<usize>,
    test_subset: Option<usize>,
    out: PathBuf,
    picture: Option<PathBuf>,
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
    let mut o = Options {
        data_dir: None,
        config: TrainConfig::default(),
        train_subset: None,
        test_subset: None,
        out: PathBuf::from("out"),
        picture: None,
    };
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--data-dir" => o.data_dir = Some(PathBuf::from(need(&flag, args.next())?)),
            "--epochs" => config.epochs = parse_number(&flag, args.next())?,
            "--snapshot-epochs" => {
                let list = need(&flag, args.next())?;
                let epochs = list
                    .split(',')
                    .map(|s| parse_number(&flag, Some(s.trim().to_string())))
                    .collect::<Result<Vec<usize>>>()?;
                snapshot_epochs = Some(epochs);
            }
            "--snapshot-every" => {
                config.snapshot_every_batches = Some(parse_number(&flag, args.next())?)
            }
            "--train-subset" => o.train_subset = Some(parse_number(&flag, args.next())?),
            "--test-subset" => o.test_subset = Some(parse_number(&flag, args.next())?),
            "--seed" => config.seed = parse_number(&flag, args.next())?,
            "--out" => o.out = PathBuf::from(need(&flag, args.next())?),
            "--picture" => o.picture = Some(PathBuf::from(need(&flag, args.next())?)),
            "--quiet" => config.progress = Progress::Silent,
            other => {
                return Err(Error::InvalidConfig(format!(
                    "unknown option '{other}'\n\n{USAGE}"
                )))
            }
        }
    }
    config.snapshot_epochs = match snapshot_epochs {
        Some(list) => list,
        // The post's epochs that fit in this run, and the last one.
        None => {
            let mut list: Vec<usize> = [0, 1, 7, 15]
                .into_iter()
                .filter(|&e| e <= config.epochs)
                .collect();
            if !list.contains(&config.epochs) {
                list.push(config.epochs);
            }
            list
        }
    };
    config.validate()?;
    o.config = config;
    Ok(o)
}

fn need(flag: &str, value: Option<String>) -> Result<String> {
    value.ok_or_else(|| Error::InvalidConfig(format!("{flag} needs a value")))
}

fn reproduce(o: Options) -> Result<()> {
    // The kernel gallery first: it needs no training.
    let picture = match &o.picture {
        Some(path) => kernels::load_picture(path)?,
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
    let device = candle_core::Device::Cpu;
    let model = MnistCnn::new(o.config.seed, &device)?;
    println!(
        "model: Keras' mnist_cnn, {} parameters; training {} epochs, batch {}, seed {}",
        model.parameter_count(),
        o.config.epochs,
        o.config.batch_size,
        o.config.seed
    );
    let mut trainer = Trainer::new(model, o.config.clone())?;
    let epochs = o.config.epochs;
    trainer.run_epochs_with(&data, epochs, |t| {
        // After every epoch the model and history on disk are complete.
        t.model.save(out("model.safetensors"))?;
        filters_are_weights::io::write_atomic(out("history.json"), t.history.to_json()?.as_bytes())
    })?;

    let history = &trainer.history;
    let mut epoch_snapshots = Vec::new();
    for &e in &o.config.snapshot_epochs {
        if let Some(s) = history.at_epoch(e) {
            let title = if e == 0 {
                "First-layer filters at initialisation".to_string()
            } else {
                format!(
                    "First-layer filters after {e} epoch{}",
                    if e == 1 { "" } else { "s" }
                )
            };
            let path = out(&format!("filters-epoch-{e:02}.png"));
            viz::filter_grid(&s.tensor()?, &title, ColourScale::Shared)?.save_png(&path)?;
            println!("wrote {}", path.display());
            epoch_snapshots.push(s.clone());
        }
    }
    viz::filter_evolution(&epoch_snapshots, history.steps_per_epoch)?
        .save_png(out("filters-evolution.png"))?;
    if o.config.snapshot_every_batches.is_some() {
        viz::filter_evolution(&history.snapshots, history.steps_per_epoch)?
            .save_png(out("filters-steps.png"))?;
    }
    let curves = viz::curves(history)?;
    curves.save_png(out("curves.png"))?;
    curves.save_svg(out("curves.svg"))?;
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

fn run() -> Result<()> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("reproduce") => reproduce(parse_reproduce(args)?),
        Some("demo-picture") => {
            let path = need("demo-picture", args.next())?;
            filters_are_weights::io::write_atomic(&path, &png(&demo_picture())?)?;
            println!("wrote {path}");
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
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
