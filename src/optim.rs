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
//! detached gradients, so it never keeps an autograd graph alive.
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

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};
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

impl Optimizer for Adadelta {
    type Config = AdadeltaConfig;

    fn new(vars: Vec<Var>, config: AdadeltaConfig) -> Result<Self> {
        let slots = vars
            .into_iter()
            .filter(|v| v.dtype().is_float())
            .map(|var| {
                let zeros = var.as_tensor().zeros_like()?;
                Ok(Slot {
                    avg_sq_grad: zeros.clone(),
                    avg_sq_update: zeros,
                    var,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { slots, config })
    }

    fn step(&mut self, grads: &GradStore) -> Result<()> {
        let AdadeltaConfig { lr, rho, eps } = self.config;
        for slot in &mut self.slots {
            let Some(g) = grads.get(slot.var.as_tensor()) else {
                continue;
            };
            let g = g.detach();
            let a = ((&slot.avg_sq_grad * rho)? + (g.sqr()? * (1.0 - rho))?)?;
            let u = ((&g * (&slot.avg_sq_update + eps)?.sqrt()?)? / (&a + eps)?.sqrt()?)?;
            slot.var
                .set(&(slot.var.as_tensor().detach() - (&u * lr)?)?)?;
            let d = ((&slot.avg_sq_update * rho)? + (u.sqr()? * (1.0 - rho))?)?;
            slot.avg_sq_grad = a.detach();
            slot.avg_sq_update = d.detach();
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
            slot.avg_sq_grad = a.detach();
            slot.avg_sq_update = d.detach();
        }
        Ok(())
    }

    /// The running averages `(a, d)` of each variable, in order.
    pub fn state(&self) -> Vec<(Tensor, Tensor)> {
        self.slots
            .iter()
            .map(|s| (s.avg_sq_grad.clone(), s.avg_sq_update.clone()))
            .collect()
    }
}

impl Adadelta {
    /// The same optimizer state, copied onto `vars` (the variables of a
    /// [`crate::model::MnistCnn::fresh_copy`], in the same order).
    pub fn rebind(&self, vars: Vec<Var>) -> Result<Self> {
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
