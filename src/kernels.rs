//! Classic image kernels: filters chosen by hand.
//!
//! An image kernel is a small matrix slid over a picture; each output pixel is
//! the sum of the products of the kernel with the pixels under it (a
//! cross-correlation, with no kernel flip):
//!
//! `out[y, x] = Σ_{i, j} picture[y + i, x + j] · kernel[i, j]`
//!
//! This is exactly what the first layer of a CNN computes, so [`Kernel::filter`]
//! runs through the very same [`ops::conv2d`] as the network. The nine kernels
//! of setosa.io's "Image Kernels" page are in [`CLASSIC`]; [`Kernel::apply`]
//! renders a result the way that page does (truncated to integers, clamped to
//! 0..255, a black border where the 3×3 window does not fit).
//!
//! ```
//! use filters_are_weights::kernels::{Kernel, demo_picture};
//! let outline = Kernel::by_name("outline")?;
//! let edges = outline.apply(&demo_picture())?; // a GrayImage
//! assert_eq!(edges.dimensions(), demo_picture().dimensions());
//! let mine = Kernel::new("mine", [[0., 1., 0.], [1., -4., 1.], [0., 1., 0.]]);
//! assert_eq!(mine.name, "mine");
//! assert!(Kernel::by_name("edges").unwrap_err().to_string().contains("outline"));
//! # Ok::<(), filters_are_weights::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::ops;
use candle_core::{Device, Tensor};
use image::GrayImage;
use std::path::Path;

/// A named 3×3 kernel, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Kernel {
    /// The kernel's name.
    pub name: &'static str,
    /// Its weights, `weights[row][col]`.
    pub weights: [[f32; 3]; 3],
}

/// setosa.io's nine classic kernels, in the order of its menu.
pub const CLASSIC: [Kernel; 9] = [
    Kernel::new(
        "blur",
        [
            [0.0625, 0.125, 0.0625],
            [0.125, 0.25, 0.125],
            [0.0625, 0.125, 0.0625],
        ],
    ),
    Kernel::new(
        "bottom sobel",
        [[-1., -2., -1.], [0., 0., 0.], [1., 2., 1.]],
    ),
    Kernel::new("emboss", [[-2., -1., 0.], [-1., 1., 1.], [0., 1., 2.]]),
    Kernel::new("identity", [[0., 0., 0.], [0., 1., 0.], [0., 0., 0.]]),
    Kernel::new("left sobel", [[1., 0., -1.], [2., 0., -2.], [1., 0., -1.]]),
    Kernel::new(
        "outline",
        [[-1., -1., -1.], [-1., 8., -1.], [-1., -1., -1.]],
    ),
    Kernel::new("right sobel", [[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]]),
    Kernel::new("sharpen", [[0., -1., 0.], [-1., 5., -1.], [0., -1., 0.]]),
    Kernel::new("top sobel", [[1., 2., 1.], [0., 0., 0.], [-1., -2., -1.]]),
];

/// Where the demo picture lives in the repository.
pub const DEMO_PICTURE_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/demo.png");

impl std::fmt::Display for Kernel {
    /// The kernel's name, then its three rows, aligned.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cells: Vec<String> = self
            .weights
            .iter()
            .flatten()
            .map(|&v| crate::viz::number(v))
            .collect();
        let width = cells.iter().map(|c| c.chars().count()).max().unwrap_or(1);
        write!(f, "{}", self.name)?;
        for row in cells.chunks(3) {
            let row: Vec<String> = row.iter().map(|c| format!("{c:>width$}")).collect();
            write!(f, "\n  {}", row.join("  "))?;
        }
        Ok(())
    }
}

impl Kernel {
    /// A kernel of your own.
    pub const fn new(name: &'static str, weights: [[f32; 3]; 3]) -> Self {
        Self { name, weights }
    }

    /// One of [`CLASSIC`], by name (`"outline"`, `"left sobel"`, ...).
    pub fn by_name(name: &str) -> Result<Kernel> {
        CLASSIC
            .iter()
            .find(|k| k.name == name)
            .cloned()
            .ok_or_else(|| {
                let names: Vec<&str> = CLASSIC.iter().map(|k| k.name).collect();
                Error::InvalidConfig(format!(
                    "no classic kernel is named '{name}'; they are: {}",
                    names.join(", ")
                ))
            })
    }

    /// The kernel as a convolution weight `[3, 3, 1, 1]`, the layout of the
    /// network's first layer (`[kh, kw, in, out]`).
    pub fn tensor(&self, device: &Device) -> Result<Tensor> {
        let flat: Vec<f32> = self.weights.iter().flatten().copied().collect();
        Ok(Tensor::from_vec(flat, (3, 3, 1, 1), device)?)
    }

    /// Slides the kernel over `picture` `[h, w]` and returns the raw sums
    /// `[h - 2, w - 2]`, computed by the network's own convolution.
    pub fn filter(&self, picture: &Tensor) -> Result<Tensor> {
        let (h, w) = picture.dims2()?;
        let x = picture.reshape((1, h, w, 1))?; // [1, h, w, 1]
        let y = ops::conv2d(&x, &self.tensor(picture.device())?)?; // [1, h-2, w-2, 1]
        Ok(y.reshape((h - 2, w - 2))?)
    }

    /// Applies the kernel to a grayscale picture and renders the result as
    /// setosa.io does: truncated to integers, clamped to 0..255, black border.
    pub fn apply(&self, picture: &GrayImage) -> Result<GrayImage> {
        let out = self.filter(&picture_tensor(picture)?)?;
        render_like_setosa(&out)
    }
}

/// A grayscale picture as a tensor `[h, w]` of f32 intensities 0..255.
pub fn picture_tensor(picture: &GrayImage) -> Result<Tensor> {
    let (w, h) = picture.dimensions();
    let t = Tensor::from_slice(picture.as_raw(), (h as usize, w as usize), &Device::Cpu)?;
    Ok(t.to_dtype(candle_core::DType::F32)?)
}

/// Turns the raw output `[h - 2, w - 2]` of a 3×3 kernel into an `h × w`
/// picture: each value truncated toward zero, clamped to 0..255, and a
/// one-pixel black border.
pub fn render_like_setosa(filtered: &Tensor) -> Result<GrayImage> {
    let (oh, ow) = filtered.dims2()?;
    let values = filtered.flatten_all()?.to_vec1::<f32>()?;
    let mut img = GrayImage::new(ow as u32 + 2, oh as u32 + 2);
    for y in 0..oh {
        for x in 0..ow {
            let v = values[y * ow + x].trunc().clamp(0.0, 255.0) as u8;
            img.put_pixel(x as u32 + 1, y as u32 + 1, image::Luma([v]));
        }
    }
    Ok(img)
}

/// The longest side, in pixels, a picture is brought to before any kernel
/// runs on it: twice the 192-pixel panels of [`crate::viz::kernel_gallery`].
/// A 48-megapixel photo is 8000 pixels wide; the figures show 192.
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

/// on a 48-megapixel photo needs gigabytes.
pub fn load_picture_full(path: impl AsRef<Path>) -> Result<GrayImage> {
    read_picture(path.as_ref(), None)
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

    /// The 3x4 picture used below: two 3x3 windows,
    /// W1 = [0 0 9; 0 9 9; 0 0 9] and W2 = [0 9 0; 9 9 0; 0 9 9].
    fn tiny() -> Tensor {
        let p = [0f32, 0., 9., 0., 0., 9., 9., 0., 0., 0., 9., 9.];
        Tensor::from_slice(&p, (3, 4), &Device::Cpu).unwrap()
    }

    #[test]
    fn each_classic_kernel_matches_hand_computed_values() {
        // Sums of products worked out by hand on W1 and W2.
        let expected: [(&str, [f32; 2]); 9] = [
            // W1: (9 + 36 + 18 + 9) / 16; W2: (18 + 18 + 36 + 18 + 9) / 16
            ("blur", [4.5, 6.1875]),
            // W1: -(9) + (9); W2: -(18) + (18 + 9)
            ("bottom sobel", [0., 9.]),
            // W1: 9 + 9 + 18; W2: -9 - 9 + 9 + 9 + 18
            ("emboss", [36., 18.]),
            ("identity", [9., 9.]),
            // W1: -9 - 18 - 9; W2: 18 - 9
            ("left sobel", [-36., 9.]),
            // W1: 8*9 - 27; W2: 8*9 - 36
            ("outline", [45., 36.]),
            ("right sobel", [36., -9.]),
            // W1: 5*9 - 9; W2: 5*9 - 27
            ("sharpen", [36., 18.]),
            ("top sobel", [0., -9.]),
        ];
        for (name, want) in expected {
            let k = Kernel::by_name(name).unwrap();
            let got = k.filter(&tiny()).unwrap();
            assert_eq!(got.dims(), &[1, 2]);
            assert_eq!(
                got.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn rendering_truncates_clamps_and_blackens_the_border() {
        let raw = Tensor::from_slice(&[-3.7f32, 2.9, 300.0, 254.99], (2, 2), &Device::Cpu).unwrap();
        let img = render_like_setosa(&raw).unwrap();
        assert_eq!(img.dimensions(), (4, 4));
        let inner: Vec<u8> = [(1, 1), (2, 1), (1, 2), (2, 2)]
            .iter()
            .map(|&(x, y)| img.get_pixel(x, y).0[0])
            .collect();
        assert_eq!(inner, vec![0, 2, 255, 254]);
        for i in 0..4 {
            for (x, y) in [(i, 0), (i, 3), (0, i), (3, i)] {
                assert_eq!(img.get_pixel(x, y).0[0], 0);
            }
        }
    }

    #[test]
    fn outline_unveils_the_demo_pictures_edges() {
        let pic = demo_picture();
        let edges = Kernel::by_name("outline").unwrap().apply(&pic).unwrap();
        // Inside a flat wall: black. On the door's left edge: bright.
        assert_eq!(edges.get_pixel(60, 140).0[0], 0);
        assert!(edges.get_pixel(104, 140).0[0] > 100);
        let bright = edges.pixels().filter(|p| p.0[0] > 50).count();
        let total = (pic.width() * pic.height()) as usize;
        assert!(bright > 200 && bright < total / 10, "{bright} edge pixels");
    }

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
