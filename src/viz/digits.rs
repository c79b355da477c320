//! Digits (or Fashion-MNIST's articles) and how the model reads them: grids
//! of images, the mistakes, the confusion matrix, the number of images per
//! class. Each is labelled with its data set's class names.

use super::*;
use crate::data::Dataset;

/// A confusion matrix `m[true][predicted]` of `dataset`'s classes as a
/// table of counts: right answers in blue, shaded by their share of the row;
/// mistakes in red, shaded relative to the most frequent mistake. Rows are
/// labelled with the class names, columns with their short forms. PNG and
/// SVG.
pub fn confusion(matrix: &[[usize; 10]; 10], dataset: Dataset) -> Result<Figure> {
    let (names, short) = (dataset.class_names(), dataset.short_class_names());
    let widest = |names: &[&str]| names.iter().map(|n| text_width(n, 14)).max().unwrap_or(0);
    // Digits fit a 44-pixel column; words get what their widest needs.
    let cell = 44i32.max(widest(&short) + 8);
    let left = 70i32.max(widest(&names) + 20);
    let layout = ConfusionLayout {
        cell,
        left,
        top: 70,
    };
    let size = ((left + 10 * cell + 20) as u32, (70 + 10 * cell + 40) as u32);
    png_and_svg!(size, draw_confusion, matrix, dataset, &layout)
}

/// Where a confusion matrix's cells go: their side, and the margins left of
/// and above them.
struct ConfusionLayout {
    cell: i32,
    left: i32,
    top: i32,
}

fn draw_confusion<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    matrix: &[[usize; 10]; 10],
    dataset: Dataset,
    &ConfusionLayout { cell, left, top }: &ConfusionLayout,
) -> Result<()> {
    area.fill(&WHITE).map_err(plot_err)?;
    let (names, short) = (dataset.class_names(), dataset.short_class_names());
    let noun = dataset.class_noun();
    let title = format!("Confusion matrix: true {noun} (rows) read as (columns)");
    text(area, &title, (10, 10), 18)?;
    text(area, "predicted →", (left, 40), 13)?;
    for d in 0..10 {
        let (name, column) = (names[d as usize], short[d as usize]);
        let x = left + d * cell + (cell - text_width(column, 14)) / 2;
        text(area, column, (x, top - 18), 14)?;
        let y = top + d * cell + cell / 2 - 8;
        text(area, name, (left - 12 - text_width(name, 14), y), 14)?;
    }
    let worst = (0..10)
        .flat_map(|t| (0..10).filter(move |&p| p != t).map(move |p| matrix[t][p]))
        .max()
        .unwrap_or(0)
        .max(1) as f32;
    for (t, row) in matrix.iter().enumerate() {
        let total = row.iter().sum::<usize>().max(1) as f32;
        for (p, &count) in row.iter().enumerate() {
            let (x, y) = (left + p as i32 * cell, top + t as i32 * cell);
            let frac = count as f32 / total;
            // Right answers in blue by their share of the row; mistakes in
            // red relative to the most frequent mistake.
            let colour = if t == p {
                diverging(-frac, 1.0)
            } else {
                diverging(0.85 * count as f32 / worst, 1.0)
            };
            area.draw(&Rectangle::new(
                [(x, y), (x + cell, y + cell)],
                colour.filled(),
            ))
            .map_err(plot_err)?;
            if count > 0 {
                let ink = if frac > 0.5 { WHITE } else { BLACK };
                area.draw_text(
                    &count.to_string(),
                    &("sans-serif", 13).into_font().color(&ink),
                    (x + 6, y + cell / 2 - 7),
                )
                .map_err(plot_err)?;
            }
        }
    }
    Ok(())
}

/// The first `n` images `[N, 1, 28, 28]` (values 0..1) with their labels
/// `[N]` (named as `dataset`'s classes), in rows of 8; with `predictions`
/// `[N]`, wrong ones are marked in red as "label → prediction".
pub fn digit_grid(
    images: &Tensor,
    labels: &Tensor,
    n: usize,
    predictions: Option<&Tensor>,
    dataset: Dataset,
) -> Result<Figure> {
    let n = n.min(images.dim(0)?);
    let labels: Vec<u32> = labels
        .narrow(0, 0, n)?
        .to_dtype(candle_core::DType::U32)?
        .to_vec1()?;
    let predicted: Option<Vec<u32>> = match predictions {
        Some(p) => Some(
            p.narrow(0, 0, n)?
                .to_dtype(candle_core::DType::U32)?
                .to_vec1()?,
        ),
        None => None,
    };
    let (cols, scale, label) = (8usize, 3u32, 20i32);
    let cell = 28 * scale as i32;
    let names = dataset.short_class_names();
    let caption = |i: usize| -> (String, RGBColor) {
        let name = |class: u32| names[class as usize % names.len()];
        match &predicted {
            Some(p) if p[i] != labels[i] => (format!("{} → {}", name(labels[i]), name(p[i])), RED),
            _ => (name(labels[i]).to_string(), BLACK),
        }
    };
    // Room for the widest caption ("Pullover → Sneaker"); digits need none.
    let widest = (0..n)
        .map(|i| text_width(&caption(i).0, 15))
        .max()
        .unwrap_or(0);
    let gap = 10i32.max(widest - cell + 6);
    let rows = n.div_ceil(cols) as i32;
    let width = cols as i32 * (cell + gap) + gap;
    let height = rows * (cell + label + gap) + gap;
    let pictures = (0..n)
        .map(|i| crate::data::digit_picture(images, i))
        .collect::<Result<Vec<_>>>()?;
    render(width as u32, height as u32, |area| {
        for (i, pic) in pictures.iter().enumerate() {
            let (r, c) = ((i / cols) as i32, (i % cols) as i32);
            let (x, y) = (gap + c * (cell + gap), gap + r * (cell + label + gap));
            let (caption, colour) = caption(i);
            area.draw_text(
                &caption,
                &("sans-serif", 15).into_font().color(&colour),
                (x, y),
            )
            .map_err(plot_err)?;
            draw_gray(area, &enlarge(pic, cell as u32), (x, y + label))?;
        }
        Ok(())
    })
}

/// The first `n` test images that `predictions` got wrong, each labelled
/// "true → predicted" in red (with the class names of the predictions' data
/// set). `images` are the images the predictions are of.
pub fn mistakes(
    images: &Tensor,
    predictions: &crate::analysis::Predictions,
    n: usize,
) -> Result<Figure> {
    let wrong: Vec<usize> = predictions.mistakes().into_iter().take(n).collect();
    if wrong.is_empty() {
        return Err(Error::Plot("no mistakes to show".into()));
    }
    let device = images.device();
    let idx: Vec<u32> = wrong.iter().map(|&i| i as u32).collect();
    let idx = Tensor::new(idx.as_slice(), device)?;
    let labels: Vec<u8> = wrong.iter().map(|&i| predictions.labels[i]).collect();
    let predicted: Vec<u8> = wrong.iter().map(|&i| predictions.predicted[i]).collect();
    digit_grid(
        &images.index_select(&idx, 0)?,
        &Tensor::new(labels.as_slice(), device)?,
        n,
        Some(&Tensor::new(predicted.as_slice(), device)?),
        predictions.dataset,
    )
}

/// A bar chart of how many examples each class of `dataset` has.
pub fn class_counts(counts: &[usize], dataset: Dataset) -> Result<Figure> {
    let max = counts.iter().copied().max().unwrap_or(1).max(1) as f32;
    let (w, h) = (640u32, 320u32);
    let (names, noun) = (dataset.short_class_names(), dataset.class_noun());
    render(w, h, |area| {
        let caption = format!("Training images per {noun}");
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(60)
            // One segment per digit: 0..=9 (a range 0..10 would add an empty 11th).
            .build_cartesian_2d(
                (0..counts.len().max(1) as i32 - 1).into_segmented(),
                0f32..max * 1.1,
            )
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc(noun)
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(c) => names.get(*c as usize).copied().unwrap_or("").into(),
                _ => String::new(),
            })
            .y_label_formatter(&|y| format!("{y:.0}"))
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(plot_err)?;
        chart
            .draw_series(
                Histogram::vertical(&chart)
                    .style(RGBColor(33, 102, 172).filled())
                    .margin(6)
                    .data(
                        counts
                            .iter()
                            .enumerate()
                            .map(|(d, &c)| (d as i32, c as f32)),
                    ),
            )
            .map_err(plot_err)?;
        Ok(())
    })
}
