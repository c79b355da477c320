//! Loss and accuracy per epoch.

use super::*;

/// A labelled line of `(epoch, value)` points.
type Line = (&'static str, Vec<(f32, f32)>);

fn draw_curves<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, history: &History) -> Result<()> {
    root.fill(&WHITE).map_err(plot_err)?;
    let epochs = &history.epochs;
    let panels = root.split_evenly((1, 2));
    let series = |f: fn(&crate::train::EpochStats) -> f32| -> Vec<(f32, f32)> {
        history
            .epochs
            .iter()
            .map(|e| (e.epoch as f32, f(e)))
            .collect()
    };
    let plots: [(&str, [Line; 2]); 2] = [
        (
            "loss",
            [
                ("train (with dropout)", series(|e| e.train_loss)),
                ("test", series(|e| e.test_loss)),
            ],
        ),
        (
            "accuracy",
            [
                ("train (with dropout)", series(|e| e.train_accuracy)),
                ("test", series(|e| e.test_accuracy)),
            ],
        ),
    ];
    // The post's data set goes without saying; another is named.
    let on = match history.dataset {
        crate::data::Dataset::Mnist => String::new(),
        other => format!(" on {other}"),
    };
    for (panel, (name, lines)) in panels.iter().zip(plots) {
        let values: Vec<f32> = lines
            .iter()
            .flat_map(|(_, l)| l.iter().map(|p| p.1))
            .collect();
        let name = format!("{name}{on}");
        let mut chart = epoch_chart(panel, &name, epochs.len(), padded(&values, (0.0, 1.0)))?;
        let mut legend = Vec::new();
        for ((label, points), colour) in lines.into_iter().zip([BLUE, RED]) {
            // One epoch is one point, which a line does not show: a dot.
            if let [point] = points[..] {
                chart
                    .draw_series(std::iter::once(Circle::new(point, 4, colour.filled())))
                    .map_err(plot_err)?;
            }
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                .map_err(plot_err)?;
            legend.push((label, ShapeStyle::from(&colour)));
        }
        draw_legend(&mut chart, SeriesLabelPosition::MiddleRight, &legend)?;
    }
    Ok(())
}

/// The smallest and largest of `values` with 5% to spare on each side
/// (`fallback` when there are none, or all are equal).
pub(super) fn padded(values: &[f32], fallback: (f32, f32)) -> (f32, f32) {
    let lo = values.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if lo.is_finite() && hi > lo {
        let pad = 0.05 * (hi - lo);
        (lo - pad, hi + pad)
    } else {
        fallback
    }
}

/// A chart captioned `name` of values in `lo..hi` against epochs 1 to
/// `epochs`, its mesh drawn: at most one label per epoch (a short run would
/// otherwise read 1, 1, 1, 2, 2), ten at most.
pub(super) fn epoch_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    name: &str,
    epochs: usize,
    (lo, hi): (f32, f32),
) -> Result<EpochChart<'a, DB>> {
    let (x0, x1) = if epochs > 1 {
        (1.0, epochs as f32)
    } else {
        (0.5, 1.5)
    };
    let mut chart = ChartBuilder::on(area)
        .caption(name, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(x0..x1, lo..hi)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_labels(epochs.clamp(2, 10))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(plot_err)?;
    Ok(chart)
}

/// A chart of values per epoch.
pub(super) type EpochChart<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf32, plotters::coord::types::RangedCoordf32>,
>;

/// The chart's legend, at `position`: each line of `entries` (a label and
/// its line's style), laid out and drawn as plotters' series labels are
/// (a 10-pixel margin, 30 pixels for the line's sample, lines 1.25 of the
/// font's size apart, on white at 0.8 in a black frame), with the text's
/// size measured by the crate ([`super::glyphs`]): plotters measures a
/// legend with its own fonts, which in WebAssembly it does not have.
pub(super) fn draw_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut EpochChart<'a, DB>,
    position: SeriesLabelPosition,
    entries: &[(&str, ShapeStyle)],
) -> Result<()> {
    let area = chart.plotting_area().strip_coord_spec();
    let (size, margin, sample) = (13u32, 10i32, 30i32);
    let line = |i: usize| (f64::from(i as u32) * f64::from(size) * 1.25).round() as i32;
    let (mut w, mut h) = (0, 0);
    for (i, (label, _)) in entries.iter().enumerate() {
        let (dx, dy) = super::glyphs::size_of(label, f64::from(size))?;
        w = w.max(dx);
        h = h.max(line(i) + dy);
    }
    let (w, h) = (w + sample + 2 * margin, h + 2 * margin);
    let (area_w, area_h) = area.dim_in_pixel();
    let (x, y) = layout(position, (w, h), (area_w as i32, area_h as i32));
    let frame = [(x, y), (x + w, y + h)];
    area.draw(&Rectangle::new(frame, WHITE.mix(0.8).filled()))
        .map_err(plot_err)?;
    area.draw(&Rectangle::new(frame, ShapeStyle::from(&BLACK)))
        .map_err(plot_err)?;
    let font = ("sans-serif", size).into_font().color(&BLACK);
    // The labels first, then each line's sample beside its label's middle.
    let tops: Vec<i32> = (0..entries.len()).map(|i| y + margin + line(i)).collect();
    for ((label, _), &top) in entries.iter().zip(&tops) {
        area.draw_text(label, &font, (x + sample + margin, top))
            .map_err(plot_err)?;
    }
    for ((label, style), &top) in entries.iter().zip(&tops) {
        let (_, dy) = super::glyphs::size_of(label, f64::from(size))?;
        let mid = (top + top + dy) / 2;
        area.draw(&PathElement::new(
            [(x + margin, mid), (x + margin + 18, mid)],
            *style,
        ))
        .map_err(plot_err)?;
    }
    Ok(())
}

/// Where a legend `(w, h)` goes in an area `(area_w, area_h)`: as plotters
/// places series labels, 5 pixels from the edges.
fn layout(
    position: SeriesLabelPosition,
    (w, h): (i32, i32),
    (area_w, area_h): (i32, i32),
) -> (i32, i32) {
    use SeriesLabelPosition::*;
    let x = match position {
        UpperLeft | MiddleLeft | LowerLeft => 5,
        UpperMiddle | MiddleMiddle | LowerMiddle => (area_w - w) / 2,
        UpperRight | MiddleRight | LowerRight => area_w - w - 5,
        Coordinate(x, _) => x,
    };
    let y = match position {
        UpperLeft | UpperMiddle | UpperRight => 5,
        MiddleLeft | MiddleMiddle | MiddleRight => (area_h - h) / 2,
        LowerLeft | LowerMiddle | LowerRight => area_h - h - 5,
        Coordinate(_, y) => y,
    };
    (x, y)
}
/// Loss and accuracy per epoch, train and test, as PNG and SVG.
pub fn curves(history: &History) -> Result<Figure> {
    if history.epochs.is_empty() {
        return Err(Error::Plot("no epochs in the history yet".into()));
    }
    png_and_svg!((960, 400), draw_curves, history)
}
