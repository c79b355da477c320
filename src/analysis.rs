//! What the learned filters do, beyond the post.
//!
//! * [`nearest_classic`]: for each learned 3×3 filter, the most similar of the
//!   classic kernels. Similarity is the cosine of the two kernels *after
//!   removing each one's mean*: `cos(a, b) = (a - ā)·(b - b̄) / (|a - ā| |b - b̄|)`,
//!   between -1 and 1. Removing the mean ignores how bright a filter makes the
//!   picture overall and compares only its *pattern*; the sign is kept, since
//!   a filter and its negative see opposite edges (and ReLU keeps only one
//!   side). The identity kernel, once centred, is exactly the outline kernel
//!   divided by 9, so it is left out: the two would always tie.
//! * [`feature_maps`]: a picture through each filter, as the network's first
//!   layer sees it (before bias and ReLU).
//! * [`Predictions`]: the model's answers on the test set, for a confusion
//!   matrix and the digits it gets wrong.
//!
//! ```
//! use filters_are_weights::analysis::centred_cosine;
//! use filters_are_weights::kernels::Kernel;
//! let left = Kernel::by_name("left sobel")?.weights.concat();
//! let right = Kernel::by_name("right sobel")?.weights.concat();
//! assert!((centred_cosine(&left, &left) - 1.0).abs() < 1e-6);
//! assert!((centred_cosine(&left, &right) + 1.0).abs() < 1e-6);
//! # Ok::<(), filters_are_weights::Error>(())
//! ```

use crate::data::{Dataset, Mnist, CLASSES};
use crate::error::{Error, Result};
use crate::kernels::{Kernel, CLASSIC};
use crate::model::MnistCnn;
use crate::ops;
use candle_core::{DType, Tensor};

/// Cosine similarity of `a` and `b` after subtracting each one's mean
/// (0 when either is constant).
pub fn centred_cosine(a: &[f32], b: &[f32]) -> f32 {
    let centre = |v: &[f32]| {
        let mean = v.iter().sum::<f32>() / v.len() as f32;
        v.iter().map(|x| x - mean).collect::<Vec<f32>>()
    };
    let (a, b) = (centre(a), centre(b));
    let dot: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let denominator = norm(&a) * norm(&b);
    if denominator > 0.0 {
        dot / denominator
    } else {
        0.0
    }
}

/// A learned filter and the classic kernel most like it.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelMatch {
    /// Index of the filter (0..32).
    pub filter: usize,
    /// The most similar classic kernel.
    pub kernel: Kernel,
    /// Its centred cosine similarity, -1..1.
    pub score: f32,
}

impl KernelMatch {
    /// The kernel's place in [`CLASSIC`] (the order in which the page and
    /// the notebooks list the classic kernels).
    pub fn classic_index(&self) -> usize {
        CLASSIC
            .iter()
            .position(|k| k.name == self.kernel.name)
            .expect("a match is with one of the classic kernels")
    }
}

/// The filters `[n, 1, 3, 3]` as `n` rows of 9 values (row-major 3×3).
pub fn filter_values(filters: &Tensor) -> Result<Vec<Vec<f32>>> {
    let (_, c, h, w) = filters.dims4()?;
    if (c, h, w) != (1, 3, 3) {
        return Err(Error::BadArgument(format!(
            "expected filters [n, 1, 3, 3], got {:?}",
            filters.dims()
        )));
    }
    let flat = filters.flatten_all()?.to_vec1::<f32>()?;
    Ok(flat.chunks(9).map(|c| c.to_vec()).collect())
}

/// For each filter of `filters` `[n, 1, 3, 3]`, the most similar classic kernel
/// (all but identity), by centred cosine similarity.
pub fn nearest_classic(filters: &Tensor) -> Result<Vec<KernelMatch>> {
    Ok(filter_values(filters)?
        .iter()
        .enumerate()
        .map(|(i, f)| {
            CLASSIC
                .iter()
                .filter(|k| k.name != "identity")
                .map(|k| KernelMatch {
                    filter: i,
                    kernel: k.clone(),
                    score: centred_cosine(f, &k.weights.concat()),
                })
                .fold(None::<KernelMatch>, |best, m| match best {
                    Some(b) if b.score >= m.score => Some(b),
                    _ => Some(m),
                })
                .expect("there are classic kernels")
        })
        .collect())
}

/// How much `filters` resemble the classic kernels, in two numbers: the mean,
/// over the filters, of each one's best similarity (see [`nearest_classic`]),
/// and how many filters reach `threshold`.
pub fn resemblance(filters: &Tensor, threshold: f32) -> Result<(f32, usize)> {
    let matches = nearest_classic(filters)?;
    let mean = matches.iter().map(|m| m.score).sum::<f32>() / matches.len().max(1) as f32;
    let close = matches.iter().filter(|m| m.score >= threshold).count();
    Ok((mean, close))
}

/// The classic kernels as filters `[9, 1, 3, 3]`, in the order of [`CLASSIC`].
pub fn classic_filters() -> Result<Tensor> {
    crate::kernels::as_filters(&CLASSIC)
}

/// `picture` `[h, w]` through each filter of `filters` `[n, 1, 3, 3]`: the maps
/// `[n, h - 2, w - 2]`, computed by the network's own convolution.
pub fn feature_maps(picture: &Tensor, filters: &Tensor) -> Result<Tensor> {
    let (h, w) = picture.dims2()?;
    let n = filters.dim(0)?;
    let x = picture.to_dtype(DType::F32)?.reshape((1, h, w, 1))?; // [1, h, w, 1]
    let k = filters.permute((2, 3, 1, 0))?.contiguous()?; // [3, 3, 1, n]
    let maps = ops::conv2d(&x, &k)?; // [1, h-2, w-2, n]
    Ok(maps
        .reshape((h - 2, w - 2, n))?
        .permute((2, 0, 1))?
        .contiguous()?)
}

/// The model's answers on a set of images.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// The true labels.
    pub labels: Vec<u8>,
    /// The predicted classes.
    pub predicted: Vec<u8>,
    /// The data set they are of (what the classes are called).
    pub dataset: Dataset,
}

impl Predictions {
    /// The predictions of `model` on `data`'s test set.
    pub fn on_test_set(model: &MnistCnn, data: &Mnist) -> Result<Self> {
        let (mut labels, mut predicted) = (Vec::new(), Vec::new());
        for batch in data.test_batches(1000)? {
            let (x, y) = batch?;
            labels.extend(y.to_vec1::<u8>()?);
            predicted.extend(
                model
                    .predict(&x)?
                    .to_vec1::<u32>()?
                    .into_iter()
                    .map(|p| p as u8),
            );
        }
        let dataset = data.dataset;
        Ok(Self {
            labels,
            predicted,
            dataset,
        })
    }

    /// Fraction of right answers.
    pub fn accuracy(&self) -> f32 {
        let right = self
            .labels
            .iter()
            .zip(&self.predicted)
            .filter(|(l, p)| l == p)
            .count();
        right as f32 / self.labels.len().max(1) as f32
    }

    /// `matrix[true][predicted]`: how often each class was read as each class.
    pub fn confusion_matrix(&self) -> [[usize; CLASSES]; CLASSES] {
        let mut m = [[0; CLASSES]; CLASSES];
        for (&l, &p) in self.labels.iter().zip(&self.predicted) {
            m[l as usize][p as usize] += 1;
        }
        m
    }

    /// Indices of the wrong answers, in order.
    pub fn mistakes(&self) -> Vec<usize> {
        (0..self.labels.len())
            .filter(|&i| self.labels[i] != self.predicted[i])
            .collect()
    }
}
