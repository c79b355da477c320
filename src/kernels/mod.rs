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
//! 0..255, a black border where the 3×3 window does not fit). [`hand_chosen`]
//! builds from them a whole first layer chosen by hand, 32 filters (see
//! [`bank`] for the rule), to train against the filters the network learns.
//!
//! ```
//! use filters_are_weights::kernels::Kernel;
//! use filters_are_weights::picture::demo_picture;
//! let outline = Kernel::by_name("outline")?;
//! let edges = outline.apply(&demo_picture())?; // a GrayImage
//! assert_eq!(edges.dimensions(), demo_picture().dimensions());
//! let mine = Kernel::new("mine", [[0., 1., 0.], [1., -4., 1.], [0., 1., 0.]]);
//! assert_eq!(mine.name, "mine");
//! assert!(Kernel::by_name("edges").unwrap_err().to_string().contains("outline"));
//! # Ok::<(), filters_are_weights::Error>(())
//! ```

pub mod bank;

pub use bank::{as_filters, filter_lengths, hand_chosen, scaled_like, scaled_to, turned};

use crate::error::{Error, Result};
use crate::ops;
use crate::picture::picture_tensor;
use candle_core::{Device, Tensor};
use image::GrayImage;

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

impl std::fmt::Display for Kernel {
    /// The kernel's name, then its three rows, aligned.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cells: Vec<String> = self
            .weights
            .iter()
            .flatten()
            .map(|&v| crate::text::number(v))
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
                Error::BadArgument(format!(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::picture::demo_picture;

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
}
