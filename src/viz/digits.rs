//! Digits and how the model reads them: grids of digits, the mistakes, the
//! confusion matrix, the number of images per digit.

use super::*;

/// A confusion matrix `m[true][predicted]` as a table of counts: right
/// answers in blue, shaded by their share of the row; mistakes in red, shaded
/// relative to the most frequent mistake.
pub fn confusion(matrix: &[[usize; 10]; 10]) -> Result<Figure> {
    let (cell, left, top) = (44i32, 70i32, 70i32);
    let width = left + 10 * cell + 20;
    let height = top + 10 * cell + 40;
    render(width as u32, height as u32, |area| {
        text(
            area,
            "Confusion matrix: true digit (rows) read as (columns)",
            (10, 10),
            18,
        )?;
        text(area, "predicted →", (left, 40), 13)?;
        for d in 0..10 {
            text(
                area,
                &d.to_string(),
                (left + d * cell + cell / 2 - 4, top - 18),
                14,
            )?;
            text(
                area,
                &d.to_string(),
                (left - 20, top + d * cell + cell / 2 - 8),
                14,
            )?;
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
    })
}

/// The first `n` images `[N, 1, 28, 28]` (values 0..1) with their labels
/// `[N]`, in rows of 8; with `predictions` `[N]`, wrong ones are marked in red
/// as "label → prediction".
pub fn digit_grid(
    images: &Tensor,
    labels: &Tensor,
    n: usize,
    predictions: Option<&Tensor>,
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
    let (cols, scale, gap, label) = (8usize, 3u32, 10i32, 20i32);
    let cell = 28 * scale as i32;
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
            let (caption, colour) = match &predicted {
                Some(p) if p[i] != labels[i] => (format!("{} → {}", labels[i], p[i]), RED),
                _ => (labels[i].to_string(), BLACK),
            };
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
/// "true → predicted" in red. `images` are the images the predictions are of.
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
    )
}

/// A bar chart of how many examples each digit has.
pub fn class_counts(counts: &[usize]) -> Result<Figure> {
    let max = counts.iter().copied().max().unwrap_or(1).max(1) as f32;
    let (w, h) = (640u32, 320u32);
    render(w, h, |area| {
        let mut chart = ChartBuilder::on(area)
            .caption("Training images per digit", ("sans-serif", 18))
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
            .x_desc("digit")
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
