//! The figures' text, drawn by the crate: DejaVu Sans (embedded) through
//! `ab_glyph`, exactly as plotters' own `ab_glyph` font backend lays it
//! out and rasterises it (the same advances and kerning, the same coverage
//! blended into the same pixels), so that a figure is the same image, byte
//! for byte, natively and in WebAssembly. There plotters would measure and
//! draw text with a browser's DOM, which a web worker does not have.

use crate::error::Result;
use ab_glyph::{Font, FontRef, ScaleFont};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};
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
    let font = FontRef::try_from_slice(bytes).map_err(super::plot_err)?;
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
pub(super) fn size_of(s: &str, size: f64) -> Result<(i32, i32)> {
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

/// Each pixel `s` covers at `size`, its top left corner at the origin, and
/// how much of it (0..1), as plotters rasterises it.
fn coverage(s: &str, size: f64, mut put: impl FnMut(i32, i32, f32)) -> Result<()> {
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
            q.draw(|x, y, a| put(x as i32 + left, y as i32 + top, a));
        }
        shift += font.h_advance(font.glyph_id(c));
    }
    Ok(())
}

/// A drawing backend whose text is the crate's own ([`size_of`],
/// [`coverage`]), placed as plotters' default `draw_text` places it (its
/// anchor, its transform, clipped to the canvas); everything else is `B`'s.
pub(super) struct Glyphed<B>(pub B);

impl<B: DrawingBackend> DrawingBackend for Glyphed<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }
    fn ensure_prepared(&mut self) -> std::result::Result<(), DrawingErrorKind<B::ErrorType>> {
        self.0.ensure_prepared()
    }
    fn present(&mut self) -> std::result::Result<(), DrawingErrorKind<B::ErrorType>> {
        self.0.present()
    }
    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        colour: BackendColor,
    ) -> std::result::Result<(), DrawingErrorKind<B::ErrorType>> {
        self.0.draw_pixel(point, colour)
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> std::result::Result<(), DrawingErrorKind<B::ErrorType>> {
        self.0.draw_line(from, to, style)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> std::result::Result<(), DrawingErrorKind<B::ErrorType>> {
        self.0.draw_rect(upper_left, bottom_right, style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> std::result::Result<(), DrawingErrorKind<B::ErrorType>> {
        self.0.draw_path(path, style)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> std::result::Result<(), DrawingErrorKind<B::ErrorType>> {
        self.0.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> std::result::Result<(), DrawingErrorKind<B::ErrorType>> {
        self.0.fill_polygon(vert, style)
    }
    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> std::result::Result<(), DrawingErrorKind<B::ErrorType>> {
        self.0.blit_bitmap(pos, size, src)
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> std::result::Result<(), DrawingErrorKind<B::ErrorType>> {
        let colour = style.color();
        if colour.alpha == 0.0 {
            return Ok(());
        }
        let font_error =
            |e: crate::Error| DrawingErrorKind::FontError(Box::new(Failed(e.to_string())));
        let (width, height) = size_of(text, style.size()).map_err(font_error)?;
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let transform = style.transform();
        let (w, h) = self.get_size();
        let mut pixels = Vec::new();
        coverage(text, style.size(), |x, y, a| pixels.push((x, y, a))).map_err(font_error)?;
        for (x, y, a) in pixels {
            let (x, y) = transform.transform(x + dx, y + dy);
            let (x, y) = (pos.0 + x, pos.1 + y);
            if x >= 0 && x < w as i32 && y >= 0 && y < h as i32 {
                let alpha = colour.alpha * f64::from(a);
                self.draw_pixel(
                    (x, y),
                    BackendColor {
                        alpha,
                        rgb: colour.rgb,
                    },
                )?;
            }
        }
        Ok(())
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> std::result::Result<(u32, u32), DrawingErrorKind<B::ErrorType>> {
        let (w, h) = size_of(text, style.size())
            .map_err(|e| DrawingErrorKind::FontError(Box::new(Failed(e.to_string()))))?;
        Ok((w as u32, h as u32))
    }
}

/// Why the text could not be laid out (no font given).
#[derive(Debug)]
struct Failed(String);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failed {}
