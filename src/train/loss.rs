//! The loss (Keras 2's clipped cross-entropy) and how a model scores.

use crate::data::Mnist;
use crate::error::{Error, Result};
use crate::model::fused_step::FusedStep;
use crate::model::MnistCnn;
use candle_core::{DType, Tensor};

/// Keras 2's clip of probabilities in the cross-entropy: `[1e-7, 1 - 1e-7]`.
pub const LOSS_EPSILON: f64 = 1e-7;

/// Keras 2's categorical cross-entropy of logits `[b, 10]` against labels
/// `[b]` (any integer dtype), averaged over the batch:
///
/// `L = -mean_i log(clip(p_i[label_i], 1e-7, 1 - 1e-7))` with `p_i = softmax(logits_i)`
///
/// The clip caps each example's loss at `-log(1e-7) ≈ 16.1` and, as
/// TensorFlow's `clip_by_value`, passes no gradient for a probability
/// outside the range: an example the model already gets right with
/// `p > 1 - 1e-7` (or hopelessly wrong with `p < 1e-7`) moves no weight.
/// Elsewhere the gradient with respect to the logits is `p - onehot`.
pub fn loss(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let labels = labels.to_dtype(DType::U32)?.to_device(logits.device())?;
    let p = candle_nn::ops::softmax(logits, 1)?; // [b, 10]
    let p_label = p.gather(&labels.unsqueeze(1)?, 1)?.squeeze(1)?; // [b]
                                                                   // 1 - 1e-7 in the logits' precision, as Keras computes it.
    let (low, high) = (LOSS_EPSILON, 1.0 - LOSS_EPSILON);
    let high = match logits.dtype() {
        DType::F32 => high as f32 as f64,
        _ => high,
    };
    let detached = p_label.detach();
    let inside = detached
        .ge(low)?
        .mul(&detached.le(high)?)?
        .to_dtype(logits.dtype())?; // [b], no gradient
                                    // Inside the range the probability itself (its gradient flows); outside,
                                    // the bound, a constant. A NaN stays NaN (NaN · 0 is NaN).
    let clipped = (detached.clamp(low, high)? * (1.0 - &inside)?)?;
    let kept = (p_label.mul(&inside)? + clipped)?;
    Ok(kept.log()?.neg()?.mean_all()?)
}

/// Number of rows of `logits` `[b, 10]` whose argmax is the label.
pub(super) fn correct(logits: &Tensor, labels: &Tensor) -> Result<usize> {
    let pred = logits.argmax(1)?;
    let hits = pred.eq(&labels.to_dtype(DType::U32)?.to_device(logits.device())?)?;
    Ok(hits.to_dtype(DType::U32)?.sum_all()?.to_scalar::<u32>()? as usize)
}

/// Test loss and accuracy of `model` on `data`'s test set.
pub fn evaluate(model: &MnistCnn, data: &Mnist) -> Result<(f32, f32)> {
    evaluate_with(model, data, &mut FusedStep::default())
}

/// [`evaluate`], on the CPU in `step`'s buffers (the same logits as
/// [`MnistCnn::forward_t`], without its graph, a training batch at a time).
pub(super) fn evaluate_with(
    model: &MnistCnn,
    data: &Mnist,
    step: &mut FusedStep,
) -> Result<(f32, f32)> {
    let (mut total, mut hits, mut n) = (0.0f64, 0usize, 0usize);
    for batch in data.test_batches(1000)? {
        let (x, y) = batch?;
        let logits = if FusedStep::fits(model) {
            step.score(model, &x)?
        } else {
            model.forward_t(&x, false)?
        };
        let b = y.dim(0)?;
        total += loss(&logits, &y)?.to_scalar::<f32>()? as f64 * b as f64;
        hits += correct(&logits, &y)?;
        n += b;
    }
    if n == 0 {
        return Err(Error::BadArgument("the test set is empty".into()));
    }
    Ok(((total / n as f64) as f32, hits as f32 / n as f32))
}
