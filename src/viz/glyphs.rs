//! The figures' text, drawn by the crate: DejaVu Sans (embedded) through
//! `ab_glyph`, exactly as plotters' own `ab_glyph` font backend lays it
//! out and rasterises it (the same advances and kerning, the same coverage
//! blended into the same pixels), so that a figure is the same image, byte
//! for byte, natively and in WebAssembly. There plotters would measure and
//! draw text with a browser's DOM, which a web worker does not have.

use super::plot_err;
use crate::error::Result;
use ab_glyph::{Font, FontRef, ScaleFont};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::sync::OnceLock;

/// The font in WebAssembly, given by [`use_font`].
#[cfg(target_arch = "wasm32")]
static GIVEN: OnceLock<FontRef<'static>> = OnceLock::new();

/// Gives the figures their font in WebAssembly: the bytes of DejaVu Sans
/// (`DejaVuSans.ttf`, version 2.37, as the `dejavu` crate has it), which
/// a page fetches when it first draws a figure rather than carry 0.7 MB of
/// font in its WebAssembly. Natively the crate embeds it.
#[cfg(target_arch = "wasm32")]
pub fn use_font(bytes: &'static [u8]) -> Result<()> {
    let font = FontRef::try_from_slice(bytes).map_err(plot_err)?;
    let _ = GIVEN.set(font);
    Ok(())
}

/// The font: DejaVu Sans, as the crate embeds it (in WebAssembly, as given).
fn font() -> Result<&'static FontRef<'static>> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
        Ok(FONT.get_or_init(|| {
            FontRef::try_from_slice(dejavu::sans::regular()).expect("DejaVu Sans is a font")
        }))
    }
    #[cfg(target_arch = "wasm32")]
    GIVEN.get().ok_or_else(|| {
        crate::Error::Plot("the figures' font was not given: call viz::use_font first".into())
    })
}

/// The width and height in pixels of `s` at `size`, as plotters lays it
/// out (the sum of the advances and kernings; 1/1.24 of the size high).
pub(super) fn size_of(s: &str, size: u32) -> Result<(i32, i32)> {
    let size = f64::from(size);
    let font = font()?.as_scaled(size as f32);
    let mut width = 0f32;
    let mut prev = None;
    for c in s.chars() {
        let id = font.glyph_id(c);
        width += font.h_advance(id);
        if let Some(p) = prev {
            width += font.kern(p, id);
        }
        prev = Some(id);
    }
    Ok((width as i32, (size / 1.24) as i32))
}

/// Draws `s` in `colour` with its top left corner at `(x, y)` of `area`.
pub(super) fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &str,
    (x, y): (i32, i32),
    size: u32,
    colour: &RGBColor,
) -> Result<()> {
    let (w, h) = area.dim_in_pixel();
    let font = font()?.as_scaled(size as f32);
    let mut shift = 0f32;
    let mut prev = None;
    for c in s.chars() {
        if let Some(p) = prev {
            shift += font.kern(font.glyph_id(p), font.glyph_id(c));
        }
        prev = Some(c);
        if let Some(q) = font.outline_glyph(font.scaled_glyph(c)) {
            let top = ((size as f32) / 2.0 + q.px_bounds().min.y) as i32;
            let left = shift as i32;
            let mut covered = Vec::new();
            q.draw(|gx, gy, a| covered.push((gx as i32 + left + x, gy as i32 + top + y, a)));
            for (px, py, a) in covered {
                if px >= 0 && px < w as i32 && py >= 0 && py < h as i32 {
                    area.draw_pixel((px, py), &colour.mix(f64::from(a)))
                        .map_err(plot_err)?;
                }
            }
        }
        shift += font.h_advance(font.glyph_id(c));
    }
    Ok(())
}
