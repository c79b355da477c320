//! The model as a file: its weights in safetensors, by Keras' names
//! ([`PARAMETER_NAMES`]) and shapes ([`PARAMETER_SHAPES`]), as `reproduce`
//! writes `model.safetensors` and the page downloads and opens it.

use super::{MnistCnn, PARAMETER_NAMES, PARAMETER_SHAPES};
use crate::error::{Error, Result};
use crate::ops::Backend;
use candle_core::{DType, Device, Var};
use std::path::Path;

impl MnistCnn {
    /// Saves the weights to a safetensors file, atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::io::write_safetensors(path, &self.named_tensors())
    }

    /// The bytes [`MnistCnn::save`] writes (what the page downloads).
    pub fn to_safetensors_bytes(&self) -> Result<Vec<u8>> {
        crate::io::safetensors_bytes(&self.named_tensors(), "the model")
    }

    /// Loads weights saved by [`MnistCnn::save`] (or in a training
    /// checkpoint), checking every name and shape.
    pub fn load(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::Checkpoint {
            path: path.to_path_buf(),
            problem: match path.is_file() {
                false => "no such file".into(),
                true => format!("cannot be read ({e})"),
            },
        })?;
        Self::from_safetensors_bytes(path, &bytes, device)
    }

    /// [`MnistCnn::load`] from the bytes of a file (`path` names it in
    /// messages): what the page does with a model the visitor opens.
    pub fn from_safetensors_bytes(
        path: impl AsRef<Path>,
        bytes: &[u8],
        device: &Device,
    ) -> Result<Self> {
        let path = path.as_ref();
        let bad = |problem: String| Error::Checkpoint {
            path: path.to_path_buf(),
            problem,
        };
        let mut tensors = candle_core::safetensors::load_buffer(bytes, device)
            .map_err(|e| bad(format!("not a readable safetensors file ({e})")))?;
        let vars = PARAMETER_NAMES
            .iter()
            .zip(PARAMETER_SHAPES)
            .map(|(name, shape)| {
                let t = tensors.remove(*name).ok_or_else(|| {
                    bad(format!("it has no tensor {name}: not a model of this kind"))
                })?;
                if t.dims() != shape {
                    return Err(bad(format!(
                        "{name} has shape {:?}, this model needs {shape:?}",
                        t.dims()
                    )));
                }
                Ok(Var::from_tensor(&t.to_dtype(DType::F32)?)?)
            })
            .collect::<Result<Vec<_>>>()?;
        Self::from_vars(vars, Backend::of(device))
    }
}
