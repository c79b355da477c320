//! The hand-chosen against the learned first layer: each arm's test accuracy
//! and loss per epoch (the mean over seeds as a line, the range as a band),
//! and the first seed's filters at the start and at the end. Beside them,
//! the same network trained on each data set.

use super::curves::{draw_legend, epoch_chart, padded};
use super::filters::draw_filter;
use super::*;
use crate::experiment::datasets::{DatasetRun, CLOSE};
use crate::experiment::{Arm, Results, Spread};
use crate::train::EpochStats;

/// An arm's colour, the same in every panel and on the page (the learned
/// arm blue, the hand-chosen frozen one red).
pub fn arm_colour(arm: Arm) -> RGBColor {
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
        let mut legend = Vec::new();
        for (arm, points) in bands {
            let c = arm_colour(arm);
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
                .map_err(plot_err)?;
            legend.push((arm.label(), c.stroke_width(2)));
        }
        draw_legend(&mut chart, panel.legend, &legend)?;
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
    png_and_svg!((1000, 420), draw_comparison, results)
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

/// The same network and seed trained on each data set, side by side: each
/// one's 32 filters (each filter on its own colour scale), how alike they are to the
/// classic kernels, and how many filters are nearest each kernel.
pub fn dataset_filters(runs: &[DatasetRun]) -> Result<Figure> {
    if runs.is_empty() {
        return Err(Error::Plot("no data set has been trained on yet".into()));
    }
    let mut columns = Vec::new();
    let others = crate::experiment::datasets::likeness_to_others(runs)?;
    for (run, other) in runs.iter().zip(others) {
        let (mean, close) = run.resemblance()?;
        let rows = crate::analysis::filter_values(&run.filters)?;
        let facts = [
            format!("mean similarity to the nearest classic kernel {mean:.2}"),
            format!(
                "{close} of {} at {CLOSE} or more; like the hand-chosen bank {:.2}",
                rows.len(),
                run.likeness_to_bank()?
            ),
            format!(
                "like their random start {:.2}; like the other data set's {other:.2}",
                run.likeness_to_start()?
            ),
        ];
        columns.push((run, rows, run.kernel_counts()?, facts));
    }
    let (px, gap, cols) = (12i32, 10i32, 8usize);
    let block = 3 * px;
    let column_w = 420i32;
    let (grid_top, grid_rows) = (86i32, 4i32);
    let facts_top = grid_top + grid_rows * (block + gap) + 6;
    let bars_top = facts_top + 66;
    let (bar_h, bar_max) = (24i32, 180f32);
    let kernels = columns[0].2.len() as i32;
    let width = gap + columns.len() as i32 * column_w;
    let height = bars_top + kernels * bar_h + 16;
    render(width as u32, height as u32, |area| {
        let epochs = runs[0].history.epochs.len();
        let title = format!("The same network and seed, {epochs} epochs on each data set");
        text(area, &title, (gap, 10), 18)?;
        for (c, (run, rows, counts, facts)) in columns.iter().enumerate() {
            let left = gap + c as i32 * column_w;
            text(area, run.dataset.name(), (left, 42), 17)?;
            let accuracy = format!(
                "test accuracy {:.2}%; each filter on its own colour scale",
                100.0 * run.test_accuracy()
            );
            text(area, &accuracy, (left, 63), 13)?;
            // Each filter on its own scale: the pattern is what is compared,
            // and one large filter would leave the others white.
            for (i, f) in rows.iter().enumerate() {
                let (r, k) = ((i / cols) as i32, (i % cols) as i32);
                let at = (left + k * (block + gap), grid_top + r * (block + gap));
                draw_filter(area, f, at, px, largest_abs(f))?;
            }
            let n = rows.len();
            for (j, line) in facts.iter().enumerate() {
                text(area, line, (left, facts_top + 18 * j as i32), 13)?;
            }
            for (j, (name, count)) in counts.iter().enumerate() {
                let y = bars_top + j as i32 * bar_h;
                text(area, name, (left, y + 4), 13)?;
                let kernel = CLASSIC.iter().find(|k| k.name == *name);
                if let Some(k) = kernel {
                    let w = k.weights.concat();
                    draw_filter(area, &w, (left + 92, y + 1), 6, largest_abs(&w))?;
                }
                let x = left + 122;
                let len = (bar_max * *count as f32 / n.max(1) as f32).round() as i32;
                if len > 0 {
                    area.draw(&Rectangle::new(
                        [(x, y + 4), (x + len, y + bar_h - 6)],
                        RGBColor(33, 102, 172).filled(),
                    ))
                    .map_err(plot_err)?;
                }
                text(area, &count.to_string(), (x + len + 6, y + 4), 13)?;
            }
        }
        Ok(())
    })
}
