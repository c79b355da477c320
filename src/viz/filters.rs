//! Filters as pictures: grids of 3×3 blocks, their evolution during
//! training, one step of gradient descent, an animation, and the nearest
//! classic kernels.

use super::*;
use crate::train::FilterStep;

/// Draws one 3×3 filter as a block of `9·px` squares with its top-left at `(x, y)`.
pub(super) fn draw_filter(
    area: &Area,
    filter: &[f32],
    (x, y): (i32, i32),
    px: i32,
    scale: f32,
) -> Result<()> {
    for (i, &v) in filter.iter().enumerate() {
        let (r, c) = ((i / 3) as i32, (i % 3) as i32);
        let (x0, y0) = (x + c * px, y + r * px);
        area.draw(&Rectangle::new(
            [(x0, y0), (x0 + px, y0 + px)],
            diverging(v, scale).filled(),
        ))
        .map_err(plot_err)?;
    }
    area.draw(&Rectangle::new(
        [(x, y), (x + 3 * px, y + 3 * px)],
        RGBColor(120, 120, 120).stroke_width(1),
    ))
    .map_err(plot_err)
}

/// A horizontal colour bar for `[-scale, scale]` with its three ticks,
/// `zoom` times the size it has in the figures (12 px high, 13 px text).
fn draw_colour_bar(
    area: &Area,
    (x, y): (i32, i32),
    width: i32,
    scale: f32,
    zoom: i32,
) -> Result<()> {
    for i in 0..width {
        let v = scale * (2.0 * i as f32 / (width - 1) as f32 - 1.0);
        area.draw(&Rectangle::new(
            [(x + i, y), (x + i + 1, y + 12 * zoom)],
            diverging(v, scale).filled(),
        ))
        .map_err(plot_err)?;
    }
    let (below, size) = (y + 15 * zoom, 13 * zoom as u32);
    text(
        area,
        &format!("{:+.2}", -scale),
        (x - 4 * zoom, below),
        size,
    )?;
    text(area, "0", (x + width / 2 - 3 * zoom, below), size)?;
    text(
        area,
        &format!("{:+.2}", scale),
        (x + width - 32 * zoom, below),
        size,
    )
}

/// The post's figure: the first layer's filters `[32, 1, 3, 3]` in a grid of
/// 4 rows of 8, with a colour bar.
pub fn filter_grid(filters: &Tensor, title: &str, scale: ColourScale) -> Result<Figure> {
    png_figure(filter_grid_rgb(filters, title, scale, 1)?)
}

/// The grid of [`filter_grid`], every length and text `zoom` times as large.
fn filter_grid_rgb(
    filters: &Tensor,
    title: &str,
    scale: ColourScale,
    zoom: i32,
) -> Result<image::RgbImage> {
    let rows = crate::analysis::filter_values(filters)?;
    let (px, gap, cols) = (14 * zoom, 10 * zoom, 8);
    let block = 3 * px;
    let grid_rows = rows.len().div_ceil(cols) as i32;
    let (header, footer) = (40 * zoom, 40 * zoom);
    let width = (cols as i32 * (block + gap) + gap).max(360 * zoom);
    let height = header + grid_rows * (block + gap) + gap + footer;
    let shared = match scale {
        ColourScale::Fixed(m) => m,
        _ => largest_abs(&rows.concat()),
    };
    render_rgb(width as u32, height as u32, |area| {
        text(area, title, (gap, 10 * zoom), 18 * zoom as u32)?;
        for (i, f) in rows.iter().enumerate() {
            let (r, c) = ((i / cols) as i32, (i % cols) as i32);
            let s = match scale {
                ColourScale::PerFilter => largest_abs(f),
                _ => shared,
            };
            draw_filter(
                area,
                f,
                (gap + c * (block + gap), header + r * (block + gap)),
                px,
                s,
            )?;
        }
        if scale != ColourScale::PerFilter {
            let bar = (width / 2 - 100 * zoom, height - 36 * zoom);
            draw_colour_bar(area, bar, 200 * zoom, shared, zoom)?;
        }
        Ok(())
    })
}

/// The filters at several moments in one figure: a row per snapshot, all on
/// one shared colour scale, labelled "epoch N" (or "step N").
pub fn filter_evolution(snapshots: &[Snapshot], steps_per_epoch: usize) -> Result<Figure> {
    let rows: Vec<(String, Vec<f32>)> = snapshots
        .iter()
        .map(|s| (s.label(steps_per_epoch), s.filters.clone()))
        .collect();
    filter_table(
        &rows,
        "First-layer filters during training (one colour scale)",
    )
}

/// The filters at initialisation, after training, and the change between
/// them (trained minus initial), on one colour scale.
pub fn filter_change(
    initial: &Snapshot,
    trained: &Snapshot,
    steps_per_epoch: usize,
) -> Result<Figure> {
    let change: Vec<f32> = trained
        .filters
        .iter()
        .zip(&initial.filters)
        .map(|(t, i)| t - i)
        .collect();
    let rows = vec![
        (initial.label(steps_per_epoch), initial.filters.clone()),
        (trained.label(steps_per_epoch), trained.filters.clone()),
        ("change".to_string(), change),
    ];
    filter_table(&rows, "What training did to each filter (one colour scale)")
}

/// Rows of filters (9 values each, concatenated), each with a label, on one
/// shared colour scale.
pub fn filter_table(rows: &[(String, Vec<f32>)], title: &str) -> Result<Figure> {
    let all: Vec<f32> = rows.iter().flat_map(|(_, f)| f.iter().copied()).collect();
    let scale = largest_abs(&all);
    let rows: Vec<_> = rows
        .iter()
        .map(|(n, f)| (n.clone(), f.clone(), scale))
        .collect();
    filter_rows(&rows, title, Some(scale))
}

/// One step of gradient descent on the 32 filters (see
/// [`crate::train::Trainer::filter_step`]), one row each: the filters before
/// and after the step on one colour scale, the gradient and the update each
/// on a symmetric scale of its own (given in its label).
pub fn filter_step(step: &FilterStep) -> Result<Figure> {
    let values = |t: &Tensor| -> Result<Vec<f32>> {
        Ok(t.to_dtype(candle_core::DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?)
    };
    let (before, after) = (values(&step.before)?, values(&step.after)?);
    let (gradient, update) = (values(&step.gradient)?, values(&step.update)?);
    let filters = largest_abs(&before).max(largest_abs(&after));
    let (g, u) = (largest_abs(&gradient), largest_abs(&update));
    let rows = vec![
        ("before".to_string(), before, filters),
        (format!("gradient ±{g:.1e}"), gradient, g),
        (format!("update ±{u:.1e}"), update, u),
        ("after".to_string(), after, filters),
    ];
    let title = format!(
        "One step of gradient descent on the filters (batch loss {:.3})",
        step.loss
    );
    filter_rows(&rows, &title, None)
}

/// Rows of filters, each with a label and its own colour scale; with
/// `bar`, a colour bar for that scale under them.
fn filter_rows(rows: &[(String, Vec<f32>, f32)], title: &str, bar: Option<f32>) -> Result<Figure> {
    if rows.is_empty() {
        return Err(Error::Plot("no filters to draw".into()));
    }
    ensure_font();
    let widest = rows
        .iter()
        .map(|(name, _, _)| super::text_width(name, 15))
        .max()
        .unwrap_or(0);
    let (px, gap, label) = (10, 4, (widest + 24).max(120));
    let block = 3 * px;
    let n = rows.iter().map(|(_, f, _)| f.len() / 9).max().unwrap_or(0) as i32;
    let width = label + n * (block + gap) + gap;
    let footer = if bar.is_some() { 44 } else { 10 };
    let height = 44 + rows.len() as i32 * (block + 12) + footer;
    render(width as u32, height as u32, |area| {
        text(area, title, (10, 10), 18)?;
        for (r, (name, filters, scale)) in rows.iter().enumerate() {
            let y = 44 + r as i32 * (block + 12);
            text(area, name, (10, y + block / 2 - 8), 15)?;
            for (i, f) in filters.chunks(9).enumerate() {
                draw_filter(area, f, (label + i as i32 * (block + gap), y), px, *scale)?;
            }
        }
        match bar {
            Some(scale) => draw_colour_bar(area, (width / 2 - 100, height - 38), 200, scale, 1),
            None => Ok(()),
        }
    })
}

/// An animated GIF.
#[derive(Debug, Clone)]
pub struct Animation {
    gif: Vec<u8>,
}

impl Animation {
    /// The GIF file's bytes.
    pub fn gif_bytes(&self) -> &[u8] {
        &self.gif
    }

    /// Writes the GIF to `path`, atomically.
    pub fn save_gif(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::io::write_atomic(path, &self.gif)
    }

    /// Shows the animation inline in an evcxr notebook.
    pub fn evcxr_display(&self) {
        evcxr_send("image/gif", &self.gif);
    }
}

/// The 32 filters changing over training: one frame per snapshot, all on one
/// colour scale, `frame_ms` milliseconds each (the last one lingers), looping.
/// Each frame is the grid of [`filter_grid`] (426 px wide).
pub fn filter_animation(
    snapshots: &[Snapshot],
    steps_per_epoch: usize,
    frame_ms: u32,
) -> Result<Animation> {
    filter_animation_zoomed(snapshots, steps_per_epoch, frame_ms, 1)
}

/// [`filter_animation`] drawn `zoom` times as large, its text too (not
/// pixels blown up): 3 makes frames 1,278 px wide, for a slide.
pub fn filter_animation_zoomed(
    snapshots: &[Snapshot],
    steps_per_epoch: usize,
    frame_ms: u32,
    zoom: u32,
) -> Result<Animation> {
    if snapshots.is_empty() {
        return Err(Error::Plot("no snapshots to animate".into()));
    }
    if !(1..=8).contains(&zoom) {
        return Err(Error::Plot(format!(
            "an animation is drawn 1 to 8 times as large, not {zoom}"
        )));
    }
    let all: Vec<f32> = snapshots
        .iter()
        .flat_map(|s| s.filters.iter().copied())
        .collect();
    let scale = ColourScale::Fixed(largest_abs(&all));
    let frame = |i: usize| {
        let s = &snapshots[i];
        let title = format!("First-layer filters, {}", s.label(steps_per_epoch));
        filter_grid_rgb(&s.tensor()?, &title, scale, zoom as i32)
    };
    let n = snapshots.len();
    let delay = |i: usize| if i + 1 == n { frame_ms * 4 } else { frame_ms };
    Ok(Animation {
        gif: gif_of(n, frame, delay)?,
    })
}

/// An animated GIF of `n` frames, frame `i` drawn by `frame(i)` (one at a
/// time: they are large) and shown for `delay_ms(i)` milliseconds, looping.
/// GIF has at most 256 colours a frame; these frames share one colour
/// scale, so one palette serves them all, learnt by NeuQuant from the first,
/// middle and last frames, and each colour's nearest entry is looked up once.
fn gif_of(
    n: usize,
    frame: impl Fn(usize) -> Result<image::RgbImage>,
    delay_ms: impl Fn(usize) -> u32,
) -> Result<Vec<u8>> {
    use std::collections::HashMap;
    let mut sample = Vec::new();
    let mut size = (0, 0);
    for i in [0, n / 2, n - 1] {
        let rgb = frame(i)?;
        size = rgb.dimensions();
        sample.extend(rgb.pixels().flat_map(|p| [p[0], p[1], p[2], 255]));
    }
    let (w, h) = size;
    let quant = color_quant::NeuQuant::new(10, 256, &sample);
    let mut index: HashMap<[u8; 3], u8> = HashMap::new();
    let mut gif = Vec::new();
    let too_big = |_| Error::Plot(format!("a GIF is at most 65535 pixels a side, not {w}×{h}"));
    let (gw, gh) = (
        u16::try_from(w).map_err(too_big)?,
        u16::try_from(h).map_err(too_big)?,
    );
    let mut encoder =
        gif::Encoder::new(&mut gif, gw, gh, &quant.color_map_rgb()).map_err(plot_err)?;
    encoder
        .set_repeat(gif::Repeat::Infinite)
        .map_err(plot_err)?;
    for i in 0..n {
        let rgb = frame(i)?;
        // Runs of one colour are long: the last pixel's entry first.
        let mut last = ([255, 255, 255], quant.index_of(&[255; 4]) as u8);
        let pixels: Vec<u8> = rgb
            .pixels()
            .map(|p| {
                if p.0 != last.0 {
                    let at = *index
                        .entry(p.0)
                        .or_insert_with(|| quant.index_of(&[p[0], p[1], p[2], 255]) as u8);
                    last = (p.0, at);
                }
                last.1
            })
            .collect();
        let mut indexed = gif::Frame::from_indexed_pixels(gw, gh, pixels, None);
        // GIF counts in hundredths of a second.
        indexed.delay = u16::try_from(delay_ms(i).div_ceil(10)).unwrap_or(u16::MAX);
        encoder.write_frame(&indexed).map_err(plot_err)?;
    }
    drop(encoder);
    Ok(gif)
}

/// Each learned filter with the classic kernel most like it and their
/// centred cosine similarity (see [`crate::analysis::nearest_classic`]).
pub fn nearest_kernels(filters: &Tensor) -> Result<Figure> {
    let matches = crate::analysis::nearest_classic(filters)?;
    let rows = crate::analysis::filter_values(filters)?;
    let scale = largest_abs(&rows.concat());
    let (cols, cell_w, cell_h, gap) = (8i32, 118i32, 98i32, 8i32);
    let grid_rows = (rows.len() as i32 + cols - 1) / cols;
    let width = cols * (cell_w + gap) + gap;
    let height = 40 + grid_rows * (cell_h + gap) + gap;
    render(width as u32, height as u32, |area| {
        text(
            area,
            "Each learned filter and the classic kernel most like it (centred cosine)",
            (gap, 10),
            18,
        )?;
        for (i, (f, m)) in rows.iter().zip(&matches).enumerate() {
            let (r, c) = (i as i32 / cols, i as i32 % cols);
            let (x, y) = (gap + c * (cell_w + gap), 40 + r * (cell_h + gap));
            draw_filter(area, f, (x, y), 12, scale)?;
            let k = m.kernel.weights.concat();
            draw_filter(area, &k, (x + 50, y + 6), 8, largest_abs(&k))?;
            text(area, &format!("#{i}"), (x + 78, y + 42), 12)?;
            text(area, m.kernel.name, (x, y + 44), 13)?;
            text(area, &format!("{:+.2}", m.score), (x, y + 62), 13)?;
        }
        Ok(())
    })
}
