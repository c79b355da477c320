//! Numbers and matrices as text, the way a learner reads them: what the
//! notebooks print and the figures write on kernels.

use crate::error::Result;
use candle_core::Tensor;

/// A number as a learner reads it: whole numbers without decimals, others
/// with up to four decimals (trailing zeros dropped), tiny ones in
/// scientific notation.
pub fn number(v: f32) -> String {
    if v == v.trunc() && v.abs() < 1e7 {
        format!("{v:.0}")
    } else if v.abs() >= 1e-3 {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.2e}")
    }
}

/// A matrix `[rows, cols]` (or a vector) as text, one row a line, the
/// columns aligned: what a notebook prints instead of a debug dump.
///
/// ```
/// use candle_core::{Device, Tensor};
/// let t = Tensor::new(&[[-36f32, 0., 36.], [-36., 0., 36.]], &Device::Cpu)?;
/// assert_eq!(filters_are_weights::text::table(&t)?, "-36  0  36\n-36  0  36");
/// # Ok::<(), filters_are_weights::Error>(())
/// ```
pub fn table(t: &Tensor) -> Result<String> {
    let t = t.to_dtype(candle_core::DType::F32)?;
    let rows: Vec<Vec<f32>> = match t.rank() {
        1 => vec![t.to_vec1()?],
        _ => {
            let cols = t.dims().last().copied().unwrap_or(1);
            let flat = t.flatten_all()?.to_vec1::<f32>()?;
            flat.chunks(cols.max(1)).map(|c| c.to_vec()).collect()
        }
    };
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|&v| number(v)).collect())
        .collect();
    let columns = cells.iter().map(Vec::len).max().unwrap_or(0);
    let width: Vec<usize> = (0..columns)
        .map(|j| {
            let lengths = cells
                .iter()
                .filter_map(|r| r.get(j))
                .map(|c| c.chars().count());
            lengths.max().unwrap_or(1)
        })
        .collect();
    Ok(cells
        .iter()
        .map(|r| {
            r.iter()
                .zip(&width)
                .map(|(c, &w)| format!("{c:>w$}"))
                .collect::<Vec<_>>()
                .join("  ")
        })
        .collect::<Vec<_>>()
        .join("\n"))
}
