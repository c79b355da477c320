//! Pictures of the lesson: filters, kernels, digits, curves.
//!
//! | module | figures |
//! |---|---|
//! | `filters` | [`filter_grid`], [`filter_evolution`], [`filter_change`], [`filter_step`], [`filter_animation`], [`filter_animation_zoomed`], [`nearest_kernels`] |
//! | `replay` | [`filter_replay`]: the snapshots in one HTML output, with a slider and play/pause |
//! | `pictures` | [`kernel_gallery`], [`feature_maps`], [`picture`] |
//! | `digits` | [`digit_grid`], [`mistakes`], [`confusion`], [`class_counts`] |
//! | `curves` | [`curves`] |
//! | `comparison` | [`arm_comparison`], [`arm_filters`]: the hand-chosen against the learned first layer; [`dataset_filters`]: one network trained on each data set |
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

/// A figure of `$size` (`(w, h)` pixels) drawn by `$draw(area, args...)`,
/// a function generic over the drawing backend, twice: as PNG and as SVG.
/// In WebAssembly, as PNG only: plotters' SVG text is laid out with its
/// fonts, which it does not have there.
macro_rules! png_and_svg {
    ($size:expr, $draw:path $(, $arg:expr)*) => {{
        let (w, h): (u32, u32) = $size;
        #[allow(unused_mut)]
        let mut fig = render(w, h, |area| $draw(area $(, $arg)*))?;
        #[cfg(not(target_arch = "wasm32"))]
        {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
                $draw(&root $(, $arg)*)?;
                root.present().map_err(plot_err)?;
            }
            fig.svg = Some(svg);
        }
        Ok(fig)
    }};
}

mod comparison;
mod curves;
mod digits;
mod filters;
mod glyphs;
#[cfg(target_arch = "wasm32")]
pub use glyphs::use_font;
mod pictures;
mod replay;
mod second_layer;

pub use comparison::{arm_colour, arm_comparison, arm_filters, dataset_filters};
pub use curves::curves;
pub use digits::{class_counts, confusion, digit_grid, mistakes};
pub use filters::{
    filter_animation, filter_animation_zoomed, filter_change, filter_evolution, filter_grid,
    filter_step, filter_table, nearest_kernels, Animation,
};
pub use pictures::{feature_maps, kernel_gallery, kernel_gallery_of, picture};
pub use replay::{filter_replay, Replay};
pub use second_layer::{channel_pairs, optimised_inputs, over_training, top_patches, TrainingRow};

// Numbers and matrices as text live in `crate::text`; the figures use them.
pub use crate::text::{number, table};

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
    evcxr_send_text(mime, &base64(bytes));
}

/// Sends `content` of type `mime` (text, or binary in base64) to an evcxr
/// notebook, in one write.
fn evcxr_send_text(mime: &str, content: &str) {
    use std::io::Write;
    let msg = format!("EVCXR_BEGIN_CONTENT {mime}\n{content}\nEVCXR_END_CONTENT\n");
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(msg.as_bytes());
    let _ = out.flush();
}

/// Standard base64 (RFC 4648, with padding), as the notebooks' HTML and
/// image outputs carry pictures.
pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
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

/// Registers the embedded DejaVu Sans font for plotters' charts (their
/// axes and legends), so that their text renders without any system font
/// library. Idempotent (and per evcxr cell, as it must be). The PNG
/// figures' text is the crate's own ([`glyphs`]), which needs no
/// registration and draws the same in WebAssembly, where plotters has no
/// font (it would ask a browser's DOM).
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

type Area<'a> = DrawingArea<glyphs::Glyphed<BitMapBackend<'a>>, Shift>;

/// Draws with `draw` on a white `width × height` canvas.
fn render_rgb(
    width: u32,
    height: u32,
    draw: impl FnOnce(&Area) -> Result<()>,
) -> Result<image::RgbImage> {
    ensure_font();
    let mut buf = vec![255u8; width as usize * height as usize * 3];
    {
        let backend = glyphs::Glyphed(BitMapBackend::with_buffer(&mut buf, (width, height)));
        let root = backend.into_drawing_area();
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

fn text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &str,
    (x, y): (i32, i32),
    size: u32,
) -> Result<()> {
    area.draw_text(s, &("sans-serif", size).into_font().color(&BLACK), (x, y))
        .map_err(plot_err)
}

/// The width in pixels of `s` in the figures' font at `size`.
fn text_width(s: &str, size: u32) -> i32 {
    glyphs::size_of(s, f64::from(size)).map_or(s.len() as i32 * size as i32 / 2, |(w, _)| w)
}

fn largest_abs(values: &[f32]) -> f32 {
    values.iter().fold(0.0f32, |m, v| m.max(v.abs()))
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

fn draw_gray(area: &Area, img: &GrayImage, (x, y): (i32, i32)) -> Result<()> {
    for (px, py, p) in img.enumerate_pixels() {
        let v = p.0[0];
        area.draw_pixel((x + px as i32, y + py as i32), &RGBColor(v, v, v))
            .map_err(plot_err)?;
    }
    Ok(())
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

    #[test]
    fn curves_after_one_epoch_show_each_value_as_a_dot() {
        let stats = crate::train::EpochStats {
            epoch: 1,
            train_loss: 0.5,
            train_accuracy: 0.85,
            test_loss: 0.2,
            test_accuracy: 0.94,
            train_seconds: 1.0,
        };
        let history = History {
            epochs: vec![stats],
            ..History::default()
        };
        let fig = curves(&history).unwrap();
        if let Ok(dir) = std::env::var("FAW_KEEP_FIGURES") {
            fig.save_png(Path::new(&dir).join("curves-one-epoch.png"))
                .unwrap();
        }
        let img = image::load_from_memory(fig.png_bytes()).unwrap().to_rgb8();
        // Each panel's plot is centred on epoch 1, the legend at its right:
        // the dots are the only colour in its middle.
        let (w, h) = img.dimensions();
        for panel in 0..2 {
            let middle = panel * w / 2 + w / 4 + 20;
            let colours = |c: [u8; 3]| {
                (middle - 15..middle + 15)
                    .flat_map(|x| (0..h).map(move |y| (x, y)))
                    .filter(|&(x, y)| img.get_pixel(x, y).0 == c)
                    .count()
            };
            assert!(colours([0, 0, 255]) >= 20, "panel {panel}: no blue dot");
            assert!(colours([255, 0, 0]) >= 20, "panel {panel}: no red dot");
        }
    }

    #[test]
    fn an_animation_zoomed_is_drawn_that_many_times_as_large() {
        let snapshots: Vec<Snapshot> = (0..3)
            .map(|i| Snapshot {
                epoch: i,
                step: 10 * i,
                filters: (0..32 * 9)
                    .map(|k| ((k * (i + 1)) % 7) as f32 - 3.0)
                    .collect(),
            })
            .collect();
        let frames = |zoom| {
            let a = filter_animation_zoomed(&snapshots, 10, 100, zoom).unwrap();
            let mut options = gif::DecodeOptions::new();
            options.set_color_output(gif::ColorOutput::RGBA);
            let mut decoder = options.read_info(a.gif_bytes()).unwrap();
            let mut sizes = Vec::new();
            while let Some(f) = decoder.read_next_frame().unwrap() {
                sizes.push((f.width as u32, f.height as u32, f.delay));
            }
            sizes
        };
        let (one, three) = (frames(1), frames(3));
        assert_eq!(one.len(), 3);
        assert_eq!(one[0].0, 426, "{one:?}");
        // Every length three times as long; the last frame lingers 4x.
        for (a, b) in one.iter().zip(&three) {
            assert_eq!((3 * a.0, 3 * a.1, a.2), *b);
        }
        assert_eq!((one[0].2, one[2].2), (10, 40));
        for zoom in [0, 9] {
            let e = filter_animation_zoomed(&snapshots, 10, 100, zoom).unwrap_err();
            assert!(e.to_string().contains("1 to 8 times as large"), "{e}");
        }
    }
}
