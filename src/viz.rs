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
        evcxr_send("image/png", &self.png);
    }
}

/// Sends `bytes` of type `mime` to an evcxr notebook, in one write so that
/// the notebook receives them whole (evcxr's display protocol).
fn evcxr_send(mime: &str, bytes: &[u8]) {
    use std::io::Write;
    let msg = format!(
        "EVCXR_BEGIN_CONTENT {mime}\n{}\nEVCXR_END_CONTENT\n",
        base64(bytes)
    );
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(msg.as_bytes());
    let _ = out.flush();
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
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ColourScale {
    /// One symmetric scale for every filter in the figure.
    Shared,
    /// Each filter scaled by its own largest `|weight|` (shows shape, hides size).
    PerFilter,
    /// One given scale `[-m, m]` (to compare several figures).
    Fixed(f32),
}

fn plot_err(e: impl std::fmt::Display) -> Error {
    Error::Plot(e.to_string())
}

/// Registers the embedded DejaVu Sans font, so text renders without any
/// system font library. Idempotent (and per evcxr cell, as it must be). In
/// WebAssembly plotters draws text with the browser's fonts instead.
fn ensure_font() {
    #[cfg(not(target_arch = "wasm32"))]
    static ONCE: std::sync::Once = std::sync::Once::new();
    #[cfg(not(target_arch = "wasm32"))]
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Draws with `draw` on a white `width × height` canvas.
fn render_rgb(
    width: u32,
    height: u32,
    draw: impl FnOnce(&Area) -> Result<()>,
) -> Result<image::RgbImage> {
    ensure_font();
    let mut buf = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        draw(&root)?;
        root.present().map_err(plot_err)?;
    }
    image::RgbImage::from_raw(width, height, buf)
        .ok_or_else(|| Error::Plot("canvas size mismatch".into()))
}

/// Draws with `draw` on a white `width × height` canvas and encodes a PNG.
fn render(width: u32, height: u32, draw: impl FnOnce(&Area) -> Result<()>) -> Result<Figure> {
    png_figure(render_rgb(width, height, draw)?)
}

/// A figure of `img`, encoded as PNG.
fn png_figure(img: image::RgbImage) -> Result<Figure> {
    let (width, height) = img.dimensions();
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

/// The post's figure: the first layer's filters `[32, 1, 3, 3]` in a grid of
/// 4 rows of 8, with a colour bar.
pub fn filter_grid(filters: &Tensor, title: &str, scale: ColourScale) -> Result<Figure> {
    png_figure(filter_grid_rgb(filters, title, scale)?)
}

fn filter_grid_rgb(filters: &Tensor, title: &str, scale: ColourScale) -> Result<image::RgbImage> {
    let rows = crate::analysis::filter_values(filters)?;
    let (px, gap, cols) = (14, 10, 8);
    let block = 3 * px;
    let grid_rows = rows.len().div_ceil(cols) as i32;
    let width = (cols as i32 * (block + gap) + gap).max(360);
    let height = 40 + grid_rows * (block + gap) + gap + 40;
    let shared = match scale {
        ColourScale::Fixed(m) => m,
        _ => largest_abs(&rows.concat()),
    };
    render_rgb(width as u32, height as u32, |area| {
        text(area, title, (gap, 10), 18)?;
        for (i, f) in rows.iter().enumerate() {
            let (r, c) = ((i / cols) as i32, (i % cols) as i32);
            let s = match scale {
                ColourScale::PerFilter => largest_abs(f),
                _ => shared,
            };
            draw_filter(
                area,
                f,
                (gap + c * (block + gap), 40 + r * (block + gap)),
                px,
                s,
            )?;
        }
        if scale != ColourScale::PerFilter {
            draw_colour_bar(area, (width / 2 - 100, height - 36), 200, shared)?;
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
    if rows.is_empty() {
        return Err(Error::Plot("no filters to draw".into()));
    }
    let (px, gap, label) = (10, 4, 96);
    let block = 3 * px;
    let n = rows.iter().map(|(_, f)| f.len() / 9).max().unwrap_or(0) as i32;
    let width = label + n * (block + gap) + gap;
    let height = 44 + rows.len() as i32 * (block + 12) + 44;
    let all: Vec<f32> = rows.iter().flat_map(|(_, f)| f.iter().copied()).collect();
    let scale = largest_abs(&all);
    render(width as u32, height as u32, |area| {
        text(area, title, (10, 10), 18)?;
        for (r, (name, filters)) in rows.iter().enumerate() {
            let y = 44 + r as i32 * (block + 12);
            text(area, name, (10, y + block / 2 - 8), 15)?;
            for (i, f) in filters.chunks(9).enumerate() {
                draw_filter(area, f, (label + i as i32 * (block + gap), y), px, scale)?;
            }
        }
        draw_colour_bar(area, (width / 2 - 100, height - 38), 200, scale)
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
pub fn filter_animation(
    snapshots: &[Snapshot],
    steps_per_epoch: usize,
    frame_ms: u32,
) -> Result<Animation> {
    use image::codecs::gif::{GifEncoder, Repeat};
    use image::{Delay, Frame};
    if snapshots.is_empty() {
        return Err(Error::Plot("no snapshots to animate".into()));
    }
    let all: Vec<f32> = snapshots
        .iter()
        .flat_map(|s| s.filters.iter().copied())
        .collect();
    let scale = ColourScale::Fixed(largest_abs(&all));
    let mut gif = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut gif, 10);
        encoder.set_repeat(Repeat::Infinite).map_err(plot_err)?;
        for (i, s) in snapshots.iter().enumerate() {
            let title = format!("First-layer filters, {}", s.label(steps_per_epoch));
            let rgb = filter_grid_rgb(&s.tensor()?, &title, scale)?;
            let rgba = image::DynamicImage::ImageRgb8(rgb).to_rgba8();
            let ms = if i + 1 == snapshots.len() {
                frame_ms * 4
            } else {
                frame_ms
            };
            let frame = Frame::from_parts(rgba, 0, 0, Delay::from_numer_denom_ms(ms, 1));
            encoder.encode_frame(frame).map_err(plot_err)?;
        }
    }
    Ok(Animation { gif })
}

/// Renders a signed map `[h, w]` on the diverging scale of its own largest
/// `|value|`, resized (nearest) to `size × size` at most, keeping its shape.
fn signed_map_rgb(map: &[f32], (h, w): (usize, usize), size: u32) -> image::RgbImage {
    let scale = largest_abs(map);
    let k = size as f32 / h.max(w) as f32;
    let (dw, dh) = (
        ((w as f32 * k) as u32).max(1),
        ((h as f32 * k) as u32).max(1),
    );
    image::RgbImage::from_fn(dw, dh, |x, y| {
        let sx = ((x as f32 / k) as usize).min(w - 1);
        let sy = ((y as f32 / k) as usize).min(h - 1);
        let c = diverging(map[sy * w + sx], scale);
        image::Rgb([c.0, c.1, c.2])
    })
}

/// A picture `[h, w]` scaled down by a whole factor (averaging) until its
/// longest side is at most [`crate::kernels::WORKING_SIDE`]; smaller ones as they are.
fn to_working_size(picture: &Tensor) -> Result<Tensor> {
    let (h, w) = picture.dims2()?;
    let side = crate::kernels::WORKING_SIDE as usize;
    let k = h.max(w).div_ceil(side);
    if k <= 1 {
        return Ok(picture.clone());
    }
    let x = picture.reshape((1, 1, h, w))?.avg_pool2d(k)?; // [1, 1, h / k, w / k]
    let (_, _, nh, nw) = x.dims4()?;
    if nh < 3 || nw < 3 {
        return Ok(picture.clone());
    }
    Ok(x.reshape((nh, nw))?)
}

/// A picture `[h, w]` through each of `filters` `[n, 1, 3, 3]`: each map shown
/// under its filter and label, on its own symmetric colour scale (red where
/// the filter responds positively, blue negatively). Computed by
/// [`crate::analysis::feature_maps`].
pub fn feature_maps(
    picture: &Tensor,
    filters: &Tensor,
    labels: &[String],
    title: &str,
) -> Result<Figure> {
    // Big pictures are brought to the working size first: 32 maps of a
    // 48-megapixel photo would need 6 GB, and the figure shows 96 pixels.
    let (h0, w0) = picture.dims2()?;
    let picture = to_working_size(picture)?;
    let (h, w) = picture.dims2()?;
    let title = if (h, w) == (h0, w0) {
        title.to_string()
    } else {
        format!(
            "{title} ({})",
            worked_at((w0 as u32, h0 as u32), (w as u32, h as u32))
        )
    };
    let maps = crate::analysis::feature_maps(&picture, filters)?; // [n, h-2, w-2]
    let (n, mh, mw) = maps.dims3()?;
    let values = maps.flatten_all()?.to_vec1::<f32>()?;
    let kernels = crate::analysis::filter_values(filters)?;
    let kernel_scale = largest_abs(&kernels.concat());
    let (cols, cell, gap, head) = (8usize.min(n), 96i32, 10i32, 52i32);
    let rows = n.div_ceil(cols) as i32;
    let width = cols as i32 * (cell + gap) + gap;
    let height = 40 + rows * (cell + head + gap) + gap;
    render(width as u32, height as u32, |area| {
        text(area, &title, (gap, 10), 18)?;
        for i in 0..n {
            let (r, c) = ((i / cols) as i32, (i % cols) as i32);
            let (x, y) = (gap + c * (cell + gap), 40 + r * (cell + head + gap));
            draw_filter(area, &kernels[i], (x, y), 10, kernel_scale)?;
            if let Some(label) = labels.get(i) {
                text(area, label, (x + 36, y + 8), 13)?;
            }
            let map = &values[i * mh * mw..(i + 1) * mh * mw];
            let img = signed_map_rgb(map, (mh, mw), cell as u32);
            for (px, py, p) in img.enumerate_pixels() {
                area.draw_pixel(
                    (x + px as i32, y + head - 14 + py as i32),
                    &RGBColor(p.0[0], p.0[1], p.0[2]),
                )
                .map_err(plot_err)?;
            }
        }
        Ok(())
    })
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

/// Enlarges `picture` by the largest whole factor that fits `side`, with
/// square pixels (nearest neighbour), so small pictures stay crisp.
fn enlarge(picture: &GrayImage, side: u32) -> GrayImage {
    let (w, h) = picture.dimensions();
    let k = (side / w.max(h).max(1)).max(1);
    if k == 1 {
        return picture.clone();
    }
    image::imageops::resize(picture, w * k, h * k, image::imageops::FilterType::Nearest)
}

/// One grayscale picture with a title, enlarged to about `side` pixels when small.
pub fn picture(picture: &GrayImage, title: &str) -> Result<Figure> {
    let img = enlarge(picture, 256);
    let (w, h) = img.dimensions();
    render((w + 20).max(200), h + 50, |area| {
        text(area, title, (10, 10), 16)?;
        draw_gray(area, &img, (10, 40))
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
            .build_cartesian_2d((0..counts.len() as i32).into_segmented(), 0f32..max * 1.1)
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

fn draw_gray(area: &Area, img: &GrayImage, (x, y): (i32, i32)) -> Result<()> {
    for (px, py, p) in img.enumerate_pixels() {
        let v = p.0[0];
        area.draw_pixel((x + px as i32, y + py as i32), &RGBColor(v, v, v))
            .map_err(plot_err)?;
    }
    Ok(())
}

/// The picture and what each of `kernels` makes of it, rendered as setosa.io
/// does, in a grid of 5 columns with labels. The kernels run on the picture
/// scaled down (never up) to fit the 192-pixel panels, so that every panel
/// shows the kernel's output pixel for pixel (small pictures, a 28×28 digit,
/// are enlarged for display only); the caption gives the size they ran at.
pub fn kernel_gallery_of(picture: &GrayImage, kernels: &[Kernel]) -> Result<Figure> {
    let side = 192;
    let pic = crate::kernels::working_size(picture, side);
    let mut panels = vec![("original".to_string(), enlarge(&pic, side))];
    for k in kernels {
        panels.push((k.name.to_string(), enlarge(&k.apply(&pic)?, side)));
    }
    let (cols, gap, label, head) = (5usize, 12, 24, 62);
    let rows = panels.len().div_ceil(cols) as i32;
    let cell = side as i32;
    let width = cols as i32 * (cell + gap) + gap;
    let height = head + rows * (cell + label + gap) + gap;
    let caption = worked_at(picture.dimensions(), pic.dimensions());
    render(width as u32, height as u32, |area| {
        text(area, "Classic image kernels, chosen by hand", (gap, 10), 18)?;
        text(area, &caption, (gap, 36), 13)?;
        for (i, (name, img)) in panels.iter().enumerate() {
            let (r, c) = ((i / cols) as i32, (i % cols) as i32);
            let (x, y) = (gap + c * (cell + gap), head + r * (cell + label + gap));
            text(area, name, (x, y), 15)?;
            draw_gray(area, img, (x, y + label))?;
        }
        Ok(())
    })
}

/// "worked at 192×128 pixels", and the original size when it was larger.
fn worked_at((w0, h0): (u32, u32), (w, h): (u32, u32)) -> String {
    if (w0, h0) == (w, h) {
        format!("worked at {w}×{h} pixels")
    } else {
        format!("worked at {w}×{h} pixels (the picture, {w0}×{h0}, scaled down)")
    }
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
            .x_label_formatter(&|x| format!("{x:.0}"))
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
