//! Mini-batches: the training set shuffled by a seed, the test set in order.

use crate::error::{Error, Result};
use crate::rng::Rng;
use candle_core::Tensor;

/// An iterator over `(images [b, 1, 28, 28], labels [b])` mini-batches: the
/// images f32 in `0..1` ([`to_unit`](super::to_unit) of the stored bytes),
/// the labels u8.
#[derive(Debug)]
pub struct Batches {
    images: Tensor,
    labels: Tensor,
    order: Option<Vec<u32>>,
    batch_size: usize,
    next: usize,
    len: usize,
}

impl Batches {
    /// Batches of `images` and `labels`, shuffled by `rng` when given.
    pub fn new(
        images: &Tensor,
        labels: &Tensor,
        batch_size: usize,
        rng: Option<&mut Rng>,
    ) -> Result<Self> {
        if batch_size == 0 {
            return Err(Error::InvalidConfig("batch size must be at least 1".into()));
        }
        let len = labels.dim(0)?;
        let order = rng.map(|rng| {
            let mut order: Vec<u32> = (0..len as u32).collect();
            rng.shuffle(&mut order);
            order
        });
        Ok(Self {
            images: images.clone(),
            labels: labels.clone(),
            order,
            batch_size,
            next: 0,
            len,
        })
    }

    /// Number of batches in all.
    pub fn num_batches(&self) -> usize {
        self.len.div_ceil(self.batch_size)
    }

    fn take(&mut self) -> Result<(Tensor, Tensor)> {
        let n = self.batch_size.min(self.len - self.next);
        let batch = match &self.order {
            Some(order) => {
                let idx =
                    Tensor::from_slice(&order[self.next..self.next + n], n, self.images.device())?;
                (
                    self.images.index_select(&idx, 0)?,
                    self.labels.index_select(&idx, 0)?,
                )
            }
            None => (
                self.images.narrow(0, self.next, n)?,
                self.labels.narrow(0, self.next, n)?,
            ),
        };
        self.next += n;
        // [n, 1, 28, 28] bytes → f32 in 0..1, only this batch's.
        Ok((super::to_unit(&batch.0)?, batch.1))
    }
}

impl Iterator for Batches {
    type Item = Result<(Tensor, Tensor)>;

    fn next(&mut self) -> Option<Self::Item> {
        (self.next < self.len).then(|| self.take())
    }
}
