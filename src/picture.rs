//! Pictures for the kernels to run on: loading any PNG, JPEG or GIF within
//! limits, one way of bringing a big picture to a working size, and the demo
//! picture the crate draws.
//!
//! A 48-megapixel photo is 8000 pixels wide, and 32 feature maps of it would
//! need 6 GB; the figures show 192 pixels. So pictures are brought to
//! [`WORKING_SIDE`] pixels on their longest side before any kernel runs, by
//! area averaging (`image`'s thumbnail), always the same way: [`fit_within`]
//! gives the size, [`working_size`] (a picture) and [`working_size_tensor`]
//! (a picture as a tensor) scale to it, and decoding does the same in colour
//! before converting to gray.
//!
//! ```
//! use filters_are_weights::picture::{demo_picture, fit_within, WORKING_SIDE};
//! assert_eq!(demo_picture().dimensions(), (192, 192));
//! assert_eq!(fit_within(8000, 6000, WORKING_SIDE), (384, 288));
//! ```

use crate::error::{Error, Result};
use candle_core::{Device, Tensor};
use image::GrayImage;
use std::path::Path;

/// A grayscale picture as a tensor `[h, w]` of f32 intensities 0..255.
pub fn picture_tensor(picture: &GrayImage) -> Result<Tensor> {
    let (w, h) = picture.dimensions();
    let t = Tensor::from_slice(picture.as_raw(), (h as usize, w as usize), &Device::Cpu)?;
    Ok(t.to_dtype(candle_core::DType::F32)?)
}

/// The longest side, in pixels, a picture is brought to before any kernel
/// runs on it: twice the 192-pixel panels of [`crate::viz::kernel_gallery`].
pub const WORKING_SIDE: u32 = 384;

/// The most memory a picture's decoder may use, 512 MiB: enough for a
/// 150-megapixel colour photo.
pub const MAX_DECODE_BYTES: u64 = 512 << 20;

/// Opens any picture the `image` crate can decode (PNG, JPEG, GIF) as
/// grayscale, brought down to [`WORKING_SIDE`] pixels on its longest side
/// (see [`working_size`]). [`load_picture_full`] keeps every pixel.
pub fn load_picture(path: impl AsRef<Path>) -> Result<GrayImage> {
    read_picture(path.as_ref(), Some(WORKING_SIDE))
}

/// [`load_picture`] at full resolution, for who wants every pixel: a kernel
/// on a 48-megapixel photo needs gigabytes.
pub fn load_picture_full(path: impl AsRef<Path>) -> Result<GrayImage> {
    read_picture(path.as_ref(), None)
}

/// What became of the picture at `path` that [`load_picture`] gave as
/// `picture`: "picture P: 8000x6000, brought to 384x288 for the kernels",
/// or "picture P: 300x200" where it kept its size.
pub fn picture_note(path: impl AsRef<Path>, picture: &GrayImage) -> String {
    let path = path.as_ref();
    let (w, h) = picture.dimensions();
    match image::image_dimensions(path) {
        Ok((w0, h0)) if (w0, h0) != (w, h) => format!(
            "picture {}: {w0}x{h0}, brought to {w}x{h} for the kernels",
            path.display()
        ),
        _ => format!("picture {}: {w}x{h}", path.display()),
    }
}

fn read_picture(path: &Path, max_side: Option<u32>) -> Result<GrayImage> {
    if !path.exists() {
        return Err(Error::Picture {
            path: path.to_path_buf(),
            problem: "no such file; check the path (the demo picture is data/demo.png)".into(),
        });
    }
    let reader = image::ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| Error::io(path, e))?;
    decode_with(path, reader, max_side)
}

/// Decodes the bytes of a picture (PNG, JPEG, GIF), as [`load_picture`] does
/// with a file: grayscale, its longest side at most `max_side` pixels when
/// given. `name` only names the picture in errors.
pub fn decode_picture(name: &str, bytes: &[u8], max_side: Option<u32>) -> Result<GrayImage> {
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::io(name, e))?;
    decode_with(Path::new(name), reader, max_side)
}

fn decode_with<R: std::io::BufRead + std::io::Seek>(
    path: &Path,
    mut reader: image::ImageReader<R>,
    max_side: Option<u32>,
) -> Result<GrayImage> {
    let bad = |problem: String| Error::Picture {
        path: path.to_path_buf(),
        problem,
    };
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(e) => bad(format!(
            "it is too large to decode in {} MiB of memory ({e}); scale it down first",
            MAX_DECODE_BYTES >> 20
        )),
        e => bad(format!("cannot decode it as a PNG or JPEG picture ({e})")),
    })?;
    if img.width() < 3 || img.height() < 3 {
        return Err(bad(format!(
            "it is {}x{}, too small for a 3x3 kernel",
            img.width(),
            img.height()
        )));
    }
    // Scaled down in colour, then made gray: only the small copy is converted.
    Ok(match max_side {
        Some(side) if img.width().max(img.height()) > side => {
            let (w, h) = fit_within(img.width(), img.height(), side);
            img.thumbnail_exact(w, h).to_luma8()
        }
        _ => img.to_luma8(),
    })
}

/// The size of a `w × h` picture scaled to fit `side × side`, keeping its
/// shape (and at least 3 pixels a side, for a 3×3 kernel).
pub fn fit_within(w: u32, h: u32, side: u32) -> (u32, u32) {
    if w <= side && h <= side {
        return (w, h);
    }
    let k = side as f64 / w.max(h) as f64;
    let scale = |v: u32| ((v as f64 * k).round() as u32).clamp(3, side);
    (scale(w), scale(h))
}

/// `picture`, scaled down (never up) by area averaging so that its longest
/// side is at most `side` pixels.
pub fn working_size(picture: &GrayImage, side: u32) -> GrayImage {
    let (w, h) = fit_within(picture.width(), picture.height(), side);
    if (w, h) == picture.dimensions() {
        picture.clone()
    } else {
        image::imageops::thumbnail(picture, w, h)
    }
}

/// A picture tensor `[h, w]` brought to [`WORKING_SIDE`] pixels on its
/// longest side as [`working_size`] does (area averaging), in f32; small
/// ones as they are.
pub fn working_size_tensor(picture: &Tensor) -> Result<Tensor> {
    let (h, w) = picture.dims2()?;
    let (nw, nh) = fit_within(w as u32, h as u32, WORKING_SIDE);
    if (nw as usize, nh as usize) == (w, h) {
        return Ok(picture.clone());
    }
    let values = picture
        .to_dtype(candle_core::DType::F32)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let img = image::ImageBuffer::<image::Luma<f32>, _>::from_raw(w as u32, h as u32, values)
        .ok_or_else(|| Error::BadArgument("a picture tensor of the wrong size".into()))?;
    let small = image::imageops::thumbnail(&img, nw, nh);
    let t = Tensor::from_vec(
        small.into_raw(),
        (nh as usize, nw as usize),
        picture.device(),
    )?;
    Ok(t.to_dtype(picture.dtype())?)
}

/// Where the demo picture lives in the repository.
pub const DEMO_PICTURE_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/demo.png");

/// The demo picture, drawn by this crate: a house with a door and a window, a
/// sun, and ground under a shaded sky, 192×192. Flat areas and a smooth sky
/// make the outline kernel's result black except on the edges.
pub fn demo_picture() -> GrayImage {
    let side = 192u32;
    GrayImage::from_fn(side, side, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        let inside = |x0: u32, y0: u32, x1: u32, y1: u32| x >= x0 && x < x1 && y >= y0 && y < y1;
        // The roof: a triangle with its apex at (96, 40) and base y = 88.
        let roof = (40.0..88.0).contains(&fy) && (fx - 96.0).abs() <= (fy - 40.0) * 1.25;
        let sun = (fx - 152.0).powi(2) + (fy - 36.0).powi(2) <= 18.0f32.powi(2);
        let v = if inside(84, 124, 104, 160) {
            40 // door
        } else if inside(112, 100, 136, 120) || inside(56, 100, 80, 120) {
            235 // windows
        } else if inside(44, 88, 148, 160) {
            165 // walls
        } else if roof {
            70
        } else if y >= 160 {
            95 // ground
        } else if sun {
            250
        } else {
            // A smooth sky, lighter towards the horizon: no edges in it.
            (150.0 + 50.0 * fy / 160.0) as u8
        };
        image::Luma([v])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_demo_picture_is_the_generated_one() {
        let on_disk = load_picture(DEMO_PICTURE_PATH).unwrap();
        assert_eq!(on_disk, demo_picture(), "regenerate data/demo.png");
    }

    #[test]
    fn big_pictures_are_brought_to_the_working_size_and_full_keeps_every_pixel() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wide.png");
        GrayImage::from_fn(1000, 500, |x, y| image::Luma([(x ^ y) as u8]))
            .save(&path)
            .unwrap();
        assert_eq!(load_picture(&path).unwrap().dimensions(), (384, 192));
        assert_eq!(load_picture_full(&path).unwrap().dimensions(), (1000, 500));
        // Averaging keeps a flat picture flat; small pictures stay as they are.
        let mut png = Vec::new();
        GrayImage::from_pixel(800, 600, image::Luma([200]))
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let flat = decode_picture("flat.png", &png, Some(WORKING_SIDE)).unwrap();
        assert_eq!(flat.dimensions(), (384, 288));
        assert!(flat.pixels().all(|p| p.0[0] == 200));
        assert_eq!(working_size(&demo_picture(), WORKING_SIDE), demo_picture());
        // A thin picture keeps at least 3 pixels a side, for a 3x3 kernel.
        assert_eq!(fit_within(4, 4000, 384), (3, 384));
    }

    #[test]
    fn missing_and_undecodable_pictures_are_explained() {
        let err = load_picture("/no/such/picture.png")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/no/such/picture.png") && err.contains("no such file"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.png");
        std::fs::write(&bad, b"\x89PNG\r\n\x1a\nnot really").unwrap();
        let err = load_picture(&bad).unwrap_err().to_string();
        assert!(
            err.contains("bad.png") && err.contains("cannot decode"),
            "{err}"
        );
    }
}
