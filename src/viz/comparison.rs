//! The hand-chosen against the learned first layer: each arm's test accuracy
//! and loss per epoch (the mean over seeds as a line, the range as a band),
//! and the first seed's filters at the start and at the end.

use super::curves::{draw_legend, epoch_chart, padded};
use super::*;
use crate::experiment::{Arm, Results, Spread};
use crate::train::EpochStats;

/// An arm's colour, the same in every panel.
fn colour(arm: Arm) -> RGBColor {
    match arm {
        Arm::Learned => RGBColor(33, 102, 172),
        Arm::HandFrozen => RGBColor(178, 24, 43),
        Arm::RandomFrozen => RGBColor(90, 90, 90),
        Arm::HandThenLearned => RGBColor(230, 140, 20),
    }
}

/// For each epoch, the mean, smallest and largest of a value over an arm's
/// seeds: `(epoch, [mean, min, max])`.
type Band = Vec<(f32, [f32; 3])>;

/// One panel: its title, the value it shows (times `unit`), where its legend goes.
struct Panel {
    name: &'static str,
    value: fn(&EpochStats) -> f32,
    unit: f32,
    legend: SeriesLabelPosition,
}

/// The [`Band`] of `value` for `arm`, scaled by `unit`.
fn band(results: &Results, arm: Arm, value: fn(&EpochStats) -> f32, unit: f32) -> Band {
    let runs = results.runs_of(arm);
    let epochs = runs.iter().map(|r| r.epochs.len()).min().unwrap_or(0);
    (0..epochs)
        .map(|i| {
            let v: Vec<f32> = runs.iter().map(|r| value(&r.epochs[i])).collect();
            let s = Spread::of(&v);
            ((i + 1) as f32, [s.mean, s.min, s.max].map(|y| y * unit))
        })
        .collect()
}

fn draw_comparison<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    results: &Results,
) -> Result<()> {
    root.fill(&WHITE).map_err(plot_err)?;
    let panels = root.split_evenly((1, 2));
    // Accuracy rises and loss falls: each legend goes where its curves are not.
    let plots = [
        Panel {
            name: "test accuracy (%)",
            value: |e| e.test_accuracy,
            unit: 100.0,
            legend: SeriesLabelPosition::LowerRight,
        },
        Panel {
            name: "test loss",
            value: |e| e.test_loss,
            unit: 1.0,
            legend: SeriesLabelPosition::UpperRight,
        },
    ];
    let arms: Vec<Arm> = Arm::ALL
        .into_iter()
        .filter(|&a| !results.runs_of(a).is_empty())
        .collect();
    for (area, panel) in panels.iter().zip(plots) {
        let (name, unit) = (panel.name, panel.unit);
        let bands: Vec<(Arm, Band)> = arms
            .iter()
            .map(|&a| (a, band(results, a, panel.value, unit)))
            .collect();
        let all: Vec<f32> = bands
            .iter()
            .flat_map(|(_, b)| b.iter().flat_map(|p| p.1))
            .collect();
        let epochs = bands.iter().map(|(_, b)| b.len()).max().unwrap_or(1);
        let mut chart = epoch_chart(area, name, epochs, padded(&all, (0.0, unit)))?;
        for (arm, points) in bands {
            let c = colour(arm);
            // The range over seeds: the band from the smallest to the largest.
            let mut outline: Vec<(f32, f32)> = points.iter().map(|(x, v)| (*x, v[2])).collect();
            outline.extend(points.iter().rev().map(|(x, v)| (*x, v[1])));
            chart
                .draw_series(std::iter::once(Polygon::new(outline, c.mix(0.18).filled())))
                .map_err(plot_err)?;
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|(x, v)| (*x, v[0])),
                    c.stroke_width(2),
                ))
                .map_err(plot_err)?
                .label(arm.label())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], c.stroke_width(2)));
        }
        draw_legend(&mut chart, panel.legend)?;
    }
    Ok(())
}

/// Test accuracy and test loss per epoch, one line per arm (the mean over
/// its seeds) in a band (their range), as PNG and SVG.
pub fn arm_comparison(results: &Results) -> Result<Figure> {
    if results.runs.iter().all(|r| r.epochs.is_empty()) {
        return Err(Error::Plot(
            "no run of the experiment has an epoch yet".into(),
        ));
    }
    let (w, h) = (1000u32, 420u32);
    let mut fig = render(w, h, |area| draw_comparison(area, results))?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        draw_comparison(&root, results)?;
        root.present().map_err(plot_err)?;
    }
    fig.svg = Some(svg);
    Ok(fig)
}

/// The first seed's first-layer filters, one row each, on one colour scale:
/// the random start, the learned filters, the hand-chosen bank, the bank
/// after training, and that training's change. `None` when no run of the
/// first seed is there yet.
pub fn arm_filters(results: &Results) -> Result<Option<Figure>> {
    let Some(&seed) = results.config.seeds.first() else {
        return Ok(None);
    };
    let run = |arm| results.run(arm, seed);
    let random = [Arm::Learned, Arm::RandomFrozen].into_iter().find_map(run);
    let hand = [Arm::HandFrozen, Arm::HandThenLearned]
        .into_iter()
        .find_map(run);
    let mut rows = Vec::new();
    if let Some(r) = random {
        rows.push(("random start".to_string(), r.start.clone()));
    }
    if let Some(r) = run(Arm::Learned) {
        rows.push(("learned".to_string(), r.end.clone()));
    }
    if let Some(r) = hand {
        rows.push(("hand-chosen".to_string(), r.start.clone()));
    }
    if let Some(r) = run(Arm::HandThenLearned) {
        rows.push(("hand, then learned".to_string(), r.end.clone()));
        let change = r.end.iter().zip(&r.start).map(|(e, s)| e - s).collect();
        rows.push(("its change".to_string(), change));
    }
    if rows.is_empty() {
        return Ok(None);
    }
    let epochs = results.config.train.epochs;
    let title = format!(
        "First-layer filters, seed {seed}: at the start, and after {epochs} epochs (one colour scale)"
    );
    Ok(Some(filter_table(&rows, &title)?))
}
