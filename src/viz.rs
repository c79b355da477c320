//! Pictures of the lesson: filters, kernels, curves.
//!
//! Every function returns a [`Figure`]: a PNG (and for curves an SVG too) that
//! saves to a file with [`Figure::save_png`] and shows inline in an evcxr
//! notebook (it implements `evcxr_display`).
//!
//! Filters are drawn as 3×3 blocks of colour on a diverging scale: white is 0,
//! red positive, blue negative, and by default one symmetric scale
//! `[-m, m]` (with `m` the largest `|weight|` shown) is shared by every filter
//! in the figure, so that filters can be compared with each other.
//!
//! ```
//! use filters_are_weights::{model::MnistCnn, viz};
//! let model = MnistCnn::new(1, &candle_core::Device::Cpu)?;
//! let fig = viz::filter_grid(&model.conv1_filters()?, "random filters", viz::ColourScale::Shared)?;
//! assert!(fig.png_bytes().starts_with(b"\x89PNG"));
//! # Ok::<(), filters_are_weights::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::kernels::{Kernel, CLASSIC};
use crate::train::{History, Snapshot};
use candle_core::Tensor;
use image::GrayImage;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// A rendered figure.
#[derive(Debug, Clone)]
pub struct Figure {
    png: Vec<u8>,
    svg: Option<String>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Figure {
    /// The PNG file's bytes.
    pub fn png_bytes(&self) -> &[u8] {
        &self.png
    }

    /// The SVG text, for figures drawn as vectors too.
    pub fn svg(&self) -> Option<&str> {
        self.svg.as_deref()
    }

    /// Writes the PNG to `path`, atomically.
    pub fn save_png(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::io::write_atomic(path, &self.png)
    }

    /// Writes the SVG to `path`, atomically (an error if the figure has none).
    pub fn save_svg(&self, path: impl AsRef<Path>) -> Result<()> {
        match &self.svg {
            Some(svg) => crate::io::write_atomic(path, svg.as_bytes()),
            None => Err(Error::Plot("this figure has no SVG version".into())),
        }
    }

    /// Shows the figure inline in an evcxr notebook.
    pub fn evcxr_display(&self) {
        use std::io::Write;
        let msg = format!(
            "EVCXR_BEGIN_CONTENT image/png\n{}\nEVCXR_END_CONTENT\n",
            base64(&self.png)
        );
        // One write, so the notebook receives the image whole.
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(msg.as_bytes());
        let _ = out.flush();
    }
}

/// Standard base64 (RFC 4648, with padding).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// How filters are coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColourScale {
    /// One symmetric scale for every filter in the figure.
    Shared,
    /// Each filter scaled by its own largest `|weight|` (shows shape, hides size).
    PerFilter,
}

fn plot_err(e: impl std::fmt::Display) -> Error {
    Error::Plot(e.to_string())
}

/// Registers the embedded DejaVu Sans font, so text renders without any
/// system font library. Idempotent (and per evcxr cell, as it must be).
fn ensure_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Draws with `draw` on a white `width × height` canvas and encodes a PNG.
fn render(width: u32, height: u32, draw: impl FnOnce(&Area) -> Result<()>) -> Result<Figure> {
    ensure_font();
    let mut buf = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        draw(&root)?;
        root.present().map_err(plot_err)?;
    }
    let img = image::RgbImage::from_raw(width, height, buf)
        .ok_or_else(|| Error::Plot("canvas size mismatch".into()))?;
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(plot_err)?;
    Ok(Figure {
        png,
        svg: None,
        width,
        height,
    })
}

/// Colour of `v` on the diverging scale `[-scale, scale]`: blue, white, red.
pub fn diverging(v: f32, scale: f32) -> RGBColor {
    let t = if scale > 0.0 {
        (v / scale).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let (end, t) = if t >= 0.0 {
        ((178.0, 24.0, 43.0), t)
    } else {
        ((33.0, 102.0, 172.0), -t)
    };
    let mix = |e: f32| (255.0 + (e - 255.0) * t).round() as u8;
    RGBColor(mix(end.0), mix(end.1), mix(end.2))
}

fn text(area: &Area, s: &str, (x, y): (i32, i32), size: u32) -> Result<()> {
    area.draw_text(s, &("sans-serif", size).into_font().color(&BLACK), (x, y))
        .map_err(plot_err)
}

fn largest_abs(values: &[f32]) -> f32 {
    values.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

/// Draws one 3×3 filter as a block of `9·px` squares with its top-left at `(x, y)`.
fn draw_filter(area: &Area, filter: &[f32], (x, y): (i32, i32), px: i32, scale: f32) -> Result<()> {
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

/// A horizontal colour bar for `[-scale, scale]` with its three ticks.
fn draw_colour_bar(area: &Area, (x, y): (i32, i32), width: i32, scale: f32) -> Result<()> {
    for i in 0..width {
        let v = scale * (2.0 * i as f32 / (width - 1) as f32 - 1.0);
        area.draw(&Rectangle::new(
            [(x + i, y), (x + i + 1, y + 12)],
            diverging(v, scale).filled(),
        ))
        .map_err(plot_err)?;
    }
    text(area, &format!("{:+.2}", -scale), (x - 4, y + 15), 13)?;
    text(area, "0", (x + width / 2 - 3, y + 15), 13)?;
    text(
        area,
        &format!("{:+.2}", scale),
        (x + width - 32, y + 15),
        13,
    )
}

/// The filters `[n, 1, 3, 3]` as rows of 3×3 values each.
fn filter_rows(filters: &Tensor) -> Result<Vec<Vec<f32>>> {
    let (n, c, h, w) = filters.dims4()?;
    if (c, h, w) != (1, 3, 3) {
        return Err(Error::Plot(format!(
            "expected filters [n, 1, 3, 3], got {:?}",
            filters.dims()
        )));
    }
    let flat = filters.flatten_all()?.to_vec1::<f32>()?;
    Ok(flat.chunks(9).take(n).map(|c| c.to_vec()).collect())
}

/// The post's figure: the first layer's filters `[32, 1, 3, 3]` in a grid of
/// 4 rows of 8, with a colour bar.
pub fn filter_grid(filters: &Tensor, title: &str, scale: ColourScale) -> Result<Figure> {
    let rows = filter_rows(filters)?;
    let (px, gap, cols) = (14, 10, 8);
    let block = 3 * px;
    let grid_rows = rows.len().div_ceil(cols) as i32;
    let width = (cols as i32 * (block + gap) + gap).max(360);
    let height = 40 + grid_rows * (block + gap) + gap + 40;
    let shared = largest_abs(&rows.concat());
    render(width as u32, height as u32, |area| {
        text(area, title, (gap, 10), 18)?;
        for (i, f) in rows.iter().enumerate() {
            let (r, c) = ((i / cols) as i32, (i % cols) as i32);
            let s = match scale {
                ColourScale::Shared => shared,
                ColourScale::PerFilter => largest_abs(f),
            };
            draw_filter(
                area,
                f,
                (gap + c * (block + gap), 40 + r * (block + gap)),
                px,
                s,
            )?;
        }
        if scale == ColourScale::Shared {
            draw_colour_bar(area, (width / 2 - 100, height - 36), 200, shared)?;
        }
        Ok(())
    })
}

/// The filters at several moments in one figure: a row per snapshot, all on
/// one shared colour scale, labelled "epoch N" (or "step N").
pub fn filter_evolution(snapshots: &[Snapshot], steps_per_epoch: usize) -> Result<Figure> {
    if snapshots.is_empty() {
        return Err(Error::Plot("no snapshots to draw".into()));
    }
    let (px, gap, label) = (10, 4, 96);
    let block = 3 * px;
    let n = snapshots
        .iter()
        .map(|s| s.filters.len() / 9)
        .max()
        .unwrap_or(0) as i32;
    let width = label + n * (block + gap) + gap;
    let height = 44 + snapshots.len() as i32 * (block + 12) + 44;
    let all: Vec<f32> = snapshots
        .iter()
        .flat_map(|s| s.filters.iter().copied())
        .collect();
    let scale = largest_abs(&all);
    render(width as u32, height as u32, |area| {
        text(
            area,
            "First-layer filters during training (one colour scale)",
            (10, 10),
            18,
        )?;
        for (r, s) in snapshots.iter().enumerate() {
            let y = 44 + r as i32 * (block + 12);
            text(area, &s.label(steps_per_epoch), (10, y + block / 2 - 8), 15)?;
            for (i, f) in s.filters.chunks(9).enumerate() {
                draw_filter(area, f, (label + i as i32 * (block + gap), y), px, scale)?;
            }
        }
        draw_colour_bar(area, (width / 2 - 100, height - 38), 200, scale)
    })
}

/// Scales `picture` down (never up) to fit in a `side × side` square.
fn fit(picture: &GrayImage, side: u32) -> GrayImage {
    let (w, h) = picture.dimensions();
    if w <= side && h <= side {
        return picture.clone();
    }
    let k = side as f32 / w.max(h) as f32;
    let (nw, nh) = (
        ((w as f32 * k) as u32).max(3),
        ((h as f32 * k) as u32).max(3),
    );
    image::imageops::resize(picture, nw, nh, image::imageops::FilterType::Triangle)
}

fn draw_gray(area: &Area, img: &GrayImage, (x, y): (i32, i32)) -> Result<()> {
    for (px, py, p) in img.enumerate_pixels() {
        let v = p.0[0];
        area.draw_pixel((x + px as i32, y + py as i32), &RGBColor(v, v, v))
            .map_err(plot_err)?;
    }
    Ok(())
}

/// The picture and what each of `kernels` makes of it, rendered as setosa.io
/// does, in a grid of 5 columns with labels.
pub fn kernel_gallery_of(picture: &GrayImage, kernels: &[Kernel]) -> Result<Figure> {
    let side = 192;
    let pic = fit(picture, side);
    let mut panels = vec![("original".to_string(), pic.clone())];
    for k in kernels {
        panels.push((k.name.to_string(), k.apply(&pic)?));
    }
    let (cols, gap, label) = (5usize, 12, 24);
    let rows = panels.len().div_ceil(cols) as i32;
    let cell = side as i32;
    let width = cols as i32 * (cell + gap) + gap;
    let height = 40 + rows * (cell + label + gap) + gap;
    render(width as u32, height as u32, |area| {
        text(area, "Classic image kernels, chosen by hand", (gap, 10), 18)?;
        for (i, (name, img)) in panels.iter().enumerate() {
            let (r, c) = ((i / cols) as i32, (i % cols) as i32);
            let (x, y) = (gap + c * (cell + gap), 40 + r * (cell + label + gap));
            text(area, name, (x, y), 15)?;
            draw_gray(area, img, (x, y + label))?;
        }
        Ok(())
    })
}

/// [`kernel_gallery_of`] with all nine classic kernels: the post's first figure.
pub fn kernel_gallery(picture: &GrayImage) -> Result<Figure> {
    kernel_gallery_of(picture, &CLASSIC)
}

/// A labelled line of `(epoch, value)` points.
type Line = (&'static str, Vec<(f32, f32)>);

fn draw_curves<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, history: &History) -> Result<()> {
    root.fill(&WHITE).map_err(plot_err)?;
    let epochs: Vec<f32> = history.epochs.iter().map(|e| e.epoch as f32).collect();
    let last = epochs.last().copied().unwrap_or(1.0).max(1.0);
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
    for (panel, (name, lines)) in panels.iter().zip(plots) {
        let values: Vec<f32> = lines
            .iter()
            .flat_map(|(_, l)| l.iter().map(|p| p.1))
            .collect();
        let lo = values.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let (lo, hi) = if lo.is_finite() && hi > lo {
            let pad = 0.05 * (hi - lo);
            (lo - pad, hi + pad)
        } else {
            (0.0, 1.0)
        };
        let mut chart = ChartBuilder::on(panel)
            .caption(name, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(1f32..last, lo..hi)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(plot_err)?;
        for ((label, points), colour) in lines.into_iter().zip([BLUE, RED]) {
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                .map_err(plot_err)?
                .label(label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour));
        }
        chart
            .configure_series_labels()
            .label_font(("sans-serif", 13))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(plot_err)?;
    }
    Ok(())
}

/// Loss and accuracy per epoch, train and test, as PNG and SVG.
pub fn curves(history: &History) -> Result<Figure> {
    if history.epochs.is_empty() {
        return Err(Error::Plot("no epochs in the history yet".into()));
    }
    let (w, h) = (960u32, 400u32);
    let mut fig = render(w, h, |area| draw_curves(area, history))?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        draw_curves(&root, history)?;
        root.present().map_err(plot_err)?;
    }
    fig.svg = Some(svg);
    Ok(fig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        // Test vectors of RFC 4648, section 10.
        for (raw, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(raw.as_bytes()), enc);
        }
    }

    #[test]
    fn diverging_scale_ends_and_middle() {
        assert_eq!(diverging(0.0, 1.0), RGBColor(255, 255, 255));
        assert_eq!(diverging(2.0, 1.0), RGBColor(178, 24, 43));
        assert_eq!(diverging(-1.0, 1.0), RGBColor(33, 102, 172));
    }

    #[test]
    fn filter_grid_colours_follow_the_weights() {
        // Filter 0 all +1, filter 1 all -1: red and blue blocks.
        let mut v = vec![0f32; 32 * 9];
        v[..9].fill(1.0);
        v[9..18].fill(-1.0);
        let t = Tensor::from_vec(v, (32, 1, 3, 3), &candle_core::Device::Cpu).unwrap();
        let fig = filter_grid(&t, "test", ColourScale::Shared).unwrap();
        let img = image::load_from_memory(fig.png_bytes()).unwrap().to_rgb8();
        // Centres of the first two blocks (gap 10, block 42, top 40).
        assert_eq!(img.get_pixel(10 + 21, 40 + 21).0, [178, 24, 43]);
        assert_eq!(img.get_pixel(10 + 52 + 21, 40 + 21).0, [33, 102, 172]);
        assert_eq!(img.get_pixel(10 + 2 * 52 + 21, 40 + 21).0, [255, 255, 255]);
    }
}
