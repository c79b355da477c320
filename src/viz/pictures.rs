//! Pictures through kernels and filters: the kernel gallery (the post's
//! first figure) and feature maps.

use super::filters::draw_filter;
use super::*;

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
    let picture = crate::picture::working_size_tensor(picture)?;
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

/// One grayscale picture with a title, enlarged to about `side` pixels when small.
pub fn picture(picture: &GrayImage, title: &str) -> Result<Figure> {
    let img = enlarge(picture, 256);
    let (w, h) = img.dimensions();
    render((w + 20).max(200), h + 50, |area| {
        text(area, title, (10, 10), 16)?;
        draw_gray(area, &img, (10, 40))
    })
}

/// The picture and what each of `kernels` makes of it, rendered as setosa.io
/// does, in a grid of 5 columns with labels. The kernels run on the picture
/// scaled down (never up) to fit the 192-pixel panels, so that every panel
/// shows the kernel's output pixel for pixel (small pictures, a 28×28 digit,
/// are enlarged for display only); the caption gives the size they ran at.
pub fn kernel_gallery_of(picture: &GrayImage, kernels: &[Kernel]) -> Result<Figure> {
    let side = 192;
    let pic = crate::picture::working_size(picture, side);
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
