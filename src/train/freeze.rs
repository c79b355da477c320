//! Filters chosen by hand, kept as they are. [`TrainConfig::frozen_filters`]
//! names first-layer filters that training must not move. Their gradient is
//! still computed (a [`super::FilterStep`] shows it); before the optimizer's
//! step it is set to zero for them, kernel and bias, and Adadelta's update
//! of a zero gradient is exactly zero (`u = 0 · sqrt(d + eps) / sqrt(a +
//! eps)`): those filters stay bit for bit what they were, while every other
//! weight trains as before, around them.

use super::{Gradients, TrainConfig, Trainer};
use crate::error::Result;
use candle_core::backprop::GradStore;
use candle_core::Tensor;

impl Trainer {
    /// Freezes exactly the first-layer filters `which` (0..32; an empty list
    /// unfreezes them all), from the next step on.
    pub fn freeze_filters(&mut self, which: &[usize]) -> Result<()> {
        let mut which = which.to_vec();
        which.sort_unstable();
        which.dedup();
        let config = TrainConfig {
            frozen_filters: which,
            ..self.config.clone()
        };
        config.validate()?;
        self.config = config;
        Ok(())
    }

    /// One optimizer step from `grads`, the frozen filters' gradients
    /// (kernel and bias) zeroed first.
    pub(super) fn optimizer_step(&mut self, grads: Gradients) -> Result<()> {
        match grads {
            Gradients::Autograd(grads) => self.optimizer_step_from_store(grads),
            Gradients::Fused => {
                let frozen = &self.config.frozen_filters;
                let filters = self.model.conv1.weights().1.dim(0)?;
                let grads = self.fused.gradients();
                if !frozen.is_empty() {
                    // conv1.kernel [3, 3, 1, 32] and conv1.bias [32]: filter i % 32.
                    for g in &mut grads[..2] {
                        for (i, v) in g.iter_mut().enumerate() {
                            if frozen.contains(&(i % filters)) {
                                *v *= 0.0; // as the tensors' `g · keep` below
                            }
                        }
                    }
                }
                Ok(self.optimizer.step_from(&grads[..])?)
            }
        }
    }

    fn optimizer_step_from_store(&mut self, mut grads: GradStore) -> Result<()> {
        if !self.config.frozen_filters.is_empty() {
            let vars = self.model.vars(); // conv1.kernel [3, 3, 1, 32], conv1.bias [32]
            for var in &vars[..2] {
                let Some(g) = grads.remove(var.as_tensor()) else {
                    continue;
                };
                let n = g.dims().last().copied().unwrap_or(0);
                let keep: Vec<f32> = (0..n)
                    .map(|i| !self.config.frozen_filters.contains(&i) as u8 as f32)
                    .collect();
                let keep = Tensor::from_vec(keep, n, g.device())?.to_dtype(g.dtype())?;
                grads.insert(var.as_tensor(), g.broadcast_mul(&keep)?);
            }
        }
        Ok(candle_nn::Optimizer::step(&mut self.optimizer, &grads)?)
    }
}
