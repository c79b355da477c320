//! The first layer's 32 filters, the lesson's weights: read them, or set
//! them by hand (to classic kernels, say) before training. Filters are
//! `[32, 1, 3, 3]` here (filter, channel, row, column); the layer keeps them
//! as Keras does, `[3, 3, 1, 32]`.
//!
//! ```
//! use filters_are_weights::{kernels::Kernel, model::MnistCnn};
//! use candle_core::Device;
//! let model = MnistCnn::new(42, &Device::Cpu)?;
//! model.set_conv1_filter(0, &Kernel::by_name("top sobel")?)?;
//! assert_eq!(&model.conv1_filter_values()?[..3], &[1., 2., 1.]);
//! # Ok::<(), filters_are_weights::Error>(())
//! ```

use super::MnistCnn;
use crate::error::{Error, Result};
use crate::kernels::Kernel;
use candle_core::{DType, Tensor};

impl MnistCnn {
    /// The 32 first-layer filters, `[32, 1, 3, 3]` (filter, channel, row, column).
    pub fn conv1_filters(&self) -> Result<Tensor> {
        self.conv1.filters()
    }

    /// The 32 first-layer filters as plain numbers, `[32, 1, 3, 3]` row-major.
    pub fn conv1_filter_values(&self) -> Result<Vec<f32>> {
        Ok(self
            .conv1_filters()?
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?)
    }

    /// Sets the first layer's filters to `filters` `[32, 1, 3, 3]`: exactly
    /// those numbers (in the model's dtype), in the very variables the
    /// model trains.
    pub fn set_conv1_filters(&self, filters: &Tensor) -> Result<()> {
        let (kernel, _) = self.conv1.weights(); // [3, 3, 1, 32]
        let (kh, kw, c, o) = kernel.dims4()?;
        if filters.dims() != [o, c, kh, kw] {
            return Err(Error::BadArgument(format!(
                "filters of shape {:?} for a layer of {o} filters [{o}, {c}, {kh}, {kw}]",
                filters.dims()
            )));
        }
        let keras = filters
            .to_dtype(kernel.dtype())?
            .to_device(kernel.device())?
            .permute((2, 3, 1, 0))? // [kh, kw, c, o]
            .contiguous()?;
        Ok(kernel.set(&keras)?)
    }

    /// Sets filter `i` (0..32) to `kernel`'s nine numbers; the other filters
    /// keep theirs.
    pub fn set_conv1_filter(&self, i: usize, kernel: &Kernel) -> Result<()> {
        let mut values = self.conv1_filter_values()?;
        let n = values.len() / 9;
        if i >= n {
            return Err(Error::BadArgument(format!(
                "no filter #{i}: the first layer has filters #0 to #{}",
                n - 1
            )));
        }
        values[i * 9..(i + 1) * 9].copy_from_slice(&kernel.weights.concat());
        let device = self.device();
        self.set_conv1_filters(&Tensor::from_vec(values, (n, 1, 3, 3), device)?)
    }
}
