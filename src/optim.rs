//! Adadelta (Zeiler, 2012), with the defaults of Keras 2.0 (2017).
//!
//! For each weight `p` with gradient `g`, two running averages start at zero:
//! `a` of squared gradients and `d` of squared updates. Each step:
//!
//! ```text
//! a = rho·a + (1 - rho)·g²
//! u = g · sqrt(d + eps) / sqrt(a + eps)
//! p = p - lr·u
//! d = rho·d + (1 - rho)·u²
//! ```
//!
//! with `lr = 1.0`, `rho = 0.95`, `eps = 1e-8` (Keras 2.0.0 to 2.1.2; PyTorch's
//! `torch.optim.Adadelta` computes the same update). The state is computed from
//! detached gradients, so it never keeps an autograd graph alive. On the CPU
//! a step updates `p`, `a` and `d` in place, in three parallel passes over
//! memory and no new buffers (each pass recomputes `u` the same way).
//!
//! ```
//! use candle_core::{Device, Tensor, Var};
//! use candle_nn::Optimizer;
//! use filters_are_weights::optim::{Adadelta, AdadeltaConfig};
//! # fn main() -> candle_core::Result<()> {
//! let w = Var::new(&[1f32, -2.], &Device::Cpu)?;
//! let mut opt = Adadelta::new(vec![w.clone()], AdadeltaConfig::default())?;
//! let loss = w.as_tensor().sqr()?.sum_all()?; // gradient 2w
//! opt.backward_step(&loss)?;
//! // First step: u = g · sqrt(eps) / sqrt(0.05 g² + eps) ≈ sign(g) · 4.47e-4
//! let moved = w.as_tensor().to_vec1::<f32>()?;
//! assert!((moved[0] - (1.0 - 4.4721e-4)).abs() < 1e-6);
//! # Ok(()) }
//! ```

use crate::ops::{self, Backend};
use candle_core::backprop::GradStore;
use candle_core::{DType, Result, Tensor, Var};
use candle_nn::Optimizer;
use serde::{Deserialize, Serialize};

/// Adadelta's hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdadeltaConfig {
    /// Learning rate (Keras 2017: 1.0).
    pub lr: f64,
    /// Decay of the running averages (0.95).
    pub rho: f64,
    /// Added under the square roots (1e-8 in Keras 2.0; 1e-7 from 2.1.3).
    pub eps: f64,
}

impl Default for AdadeltaConfig {
    fn default() -> Self {
        Self {
            lr: 1.0,
            rho: 0.95,
            eps: 1e-8,
        }
    }
}

#[derive(Debug)]
struct Slot {
    var: Var,
    /// Running average of squared gradients, `a`.
    avg_sq_grad: Tensor,
    /// Running average of squared updates, `d`.
    avg_sq_update: Tensor,
}

/// The Adadelta optimizer.
#[derive(Debug)]
pub struct Adadelta {
    slots: Vec<Slot>,
    config: AdadeltaConfig,
}

impl Slot {
    /// One step with candle's tensor operations (any device; on the CPU
    /// `ops::adadelta_in_place` computes the same in three passes).
    fn step_with_tensors(&mut self, g: &Tensor, config: AdadeltaConfig) -> Result<()> {
        let AdadeltaConfig { lr, rho, eps } = config;
        let a = ((&self.avg_sq_grad * rho)? + (g.sqr()? * (1.0 - rho))?)?;
        let u = ((g * (&self.avg_sq_update + eps)?.sqrt()?)? / (&a + eps)?.sqrt()?)?;
        self.var
            .set(&(self.var.as_tensor().detach() - (&u * lr)?)?)?;
        let d = ((&self.avg_sq_update * rho)? + (u.sqr()? * (1.0 - rho))?)?;
        self.avg_sq_grad = a.detach();
        self.avg_sq_update = d.detach();
        Ok(())
    }

    /// The same step in place on the CPU (`ops::adadelta_in_place`): `a`
    /// first, then `p` (from the new `a` and the old `d`), then `d`.
    fn step_in_place(&mut self, g: &Tensor, config: AdadeltaConfig) -> Result<()> {
        let AdadeltaConfig { lr, rho, eps } = config;
        let (a, d) = (&self.avg_sq_grad, &self.avg_sq_update);
        ops::adadelta_in_place(&self.var, g, a, d, (lr, rho, eps))
    }
}

impl Optimizer for Adadelta {
    type Config = AdadeltaConfig;

    fn new(vars: Vec<Var>, config: AdadeltaConfig) -> Result<Self> {
        let slots = vars
            .into_iter()
            .filter(|v| v.dtype().is_float())
            .map(|var| {
                // Two buffers: the CPU step writes them in place.
                Ok(Slot {
                    avg_sq_grad: var.as_tensor().zeros_like()?,
                    avg_sq_update: var.as_tensor().zeros_like()?,
                    var,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { slots, config })
    }

    fn step(&mut self, grads: &GradStore) -> Result<()> {
        for slot in &mut self.slots {
            let Some(g) = grads.get(slot.var.as_tensor()) else {
                continue;
            };
            let g = g.detach();
            let in_place = Backend::of(slot.var.device()) == Backend::Fused
                && matches!(slot.var.dtype(), DType::F32 | DType::F64)
                && slot.var.is_contiguous();
            if in_place {
                slot.step_in_place(&g.contiguous()?, self.config)?;
            } else {
                slot.step_with_tensors(&g, self.config)?;
            }
        }
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.config.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.config.lr = lr;
    }
}

impl Adadelta {
    /// The optimizer's configuration.
    pub fn config(&self) -> AdadeltaConfig {
        self.config
    }

    /// Replaces the running averages (as returned by [`Adadelta::state`]),
    /// to continue a run from a checkpoint.
    pub fn set_state(&mut self, state: Vec<(Tensor, Tensor)>) -> Result<()> {
        if state.len() != self.slots.len() {
            candle_core::bail!(
                "Adadelta state for {} variables, the optimizer has {}",
                state.len(),
                self.slots.len()
            )
        }
        for (slot, (a, d)) in self.slots.iter_mut().zip(state) {
            if a.shape() != slot.var.shape() || d.shape() != slot.var.shape() {
                candle_core::bail!(
                    "Adadelta state of shape {:?} for a variable of shape {:?}",
                    a.shape(),
                    slot.var.shape()
                )
            }
            // Own, contiguous copies: the CPU step writes them in place.
            slot.avg_sq_grad = a.detach().to_dtype(slot.var.dtype())?.copy()?;
            slot.avg_sq_update = d.detach().to_dtype(slot.var.dtype())?.copy()?;
        }
        Ok(())
    }

    /// The running averages `(a, d)` of each variable, in order (copies:
    /// later steps do not change them).
    pub fn state(&self) -> Result<Vec<(Tensor, Tensor)>> {
        self.slots
            .iter()
            .map(|s| Ok((s.avg_sq_grad.copy()?, s.avg_sq_update.copy()?)))
            .collect()
    }
}

impl Adadelta {
    /// One step with the gradients as plain numbers, `grads[i]` for the
    /// `i`-th variable (the fused training step's buffers; CPU, f32, in
    /// place, the same arithmetic as [`Optimizer::step`]).
    pub(crate) fn step_from(&mut self, grads: &[Vec<f32>]) -> Result<()> {
        if grads.len() != self.slots.len() {
            candle_core::bail!(
                "Adadelta: {} gradients for {} variables",
                grads.len(),
                self.slots.len()
            )
        }
        let AdadeltaConfig { lr, rho, eps } = self.config;
        for (slot, g) in self.slots.iter().zip(grads) {
            let (a, d) = (&slot.avg_sq_grad, &slot.avg_sq_update);
            ops::adadelta_in_place_from(&slot.var, g, a, d, (lr, rho, eps))?;
        }
        Ok(())
    }

    /// The same optimizer state, copied onto `vars` (the variables of a
    /// `MnistCnn::copy`, in the same order).
    pub(crate) fn rebind(&self, vars: Vec<Var>) -> Result<Self> {
        if vars.len() != self.slots.len() {
            candle_core::bail!(
                "Adadelta::rebind: {} variables for {} slots",
                vars.len(),
                self.slots.len()
            )
        }
        let slots = vars
            .into_iter()
            .zip(&self.slots)
            .map(|(var, s)| {
                Ok(Slot {
                    var,
                    avg_sq_grad: s.avg_sq_grad.copy()?,
                    avg_sq_update: s.avg_sq_update.copy()?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            slots,
            config: self.config,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// The in-place CPU step and the tensor-operation step (what other devices
    /// run) give the same weights and state over several steps.
    #[test]
    fn in_place_step_matches_the_tensor_step() {
        let start = [0.5f32, -1.5, 2.0, 0.0, 3.25];
        let grads = [[0.1f32, -0.2, 0.3, 0.0, 5.0], [-0.4, 0.2, 0.0, 1.0, -2.0]];
        let config = AdadeltaConfig::default();
        let slot = || {
            let var = Var::new(&start, &Device::Cpu).unwrap();
            Slot {
                avg_sq_grad: var.as_tensor().zeros_like().unwrap(),
                avg_sq_update: var.as_tensor().zeros_like().unwrap(),
                var,
            }
        };
        let (mut fast, mut plain) = (slot(), slot());
        for _ in 0..3 {
            for g in &grads {
                let g = Tensor::new(g, &Device::Cpu).unwrap();
                fast.step_in_place(&g, config).unwrap();
                plain.step_with_tensors(&g, config).unwrap();
            }
        }
        let v = |t: &Tensor| t.to_vec1::<f32>().unwrap();
        for (a, b) in [
            (fast.var.as_tensor(), plain.var.as_tensor()),
            (&fast.avg_sq_grad, &plain.avg_sq_grad),
            (&fast.avg_sq_update, &plain.avg_sq_update),
        ] {
            for (x, y) in v(a).iter().zip(v(b)) {
                assert!((x - y).abs() <= 1e-6 * (1.0 + y.abs()), "{x} vs {y}");
            }
        }
        assert_ne!(v(fast.var.as_tensor()), start, "the weights did not move");
    }
}
