//! The matrix product the fused blocks use for their dense parts.

use candle_core::WithDType;

/// `dst (+)= a · b` for `b` row-major `[k, n]` and `a` `[m, k]` whose rows
/// start `a_rs` entries apart (they may overlap), on this thread; with
/// `accumulate` the product is added to `dst`, otherwise it replaces it.
pub(super) fn matmul<T: WithDType>(
    dst: &mut [T],
    (a, a_rs): (&[T], usize),
    b: &[T],
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
) {
    assert!(m > 0 && dst.len() >= m * n && b.len() >= k * n);
    assert!(a.len() >= (m - 1) * a_rs + k);
    // SAFETY: every entry the strides reach lies inside the three slices
    // (checked above); dst does not overlap the inputs (it is borrowed mutably).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            1,
            a_rs as isize,
            b.as_ptr(),
            1,
            n as isize,
            T::one(),
            T::one(),
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// `dst = a · b`, `[m, n]` row-major, for `a` `[m, k]` and `b` `[k, n]`
/// given with their strides `(column, row)`: exactly the call to gemm that
/// candle's CPU `matmul` makes (threads included), so the bits are those of
/// candle's product, transposed operands too (a transpose is the same
/// numbers with the strides swapped).
pub(crate) fn matmul_as_candle(
    dst: &mut [f32],
    (a, a_cs, a_rs): (&[f32], usize, usize),
    (b, b_cs, b_rs): (&[f32], usize, usize),
    (m, k, n): (usize, usize, usize),
) {
    assert!(dst.len() == m * n && m * k <= a.len() && k * n <= b.len());
    assert!(m > 0 && k > 0 && n > 0);
    assert!((m - 1) * a_rs + (k - 1) * a_cs < a.len() && (k - 1) * b_rs + (n - 1) * b_cs < b.len());
    let threads = candle_core::utils::get_num_threads();
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: every entry the strides reach lies inside the slices (checked
    // above); dst does not overlap the inputs (it is borrowed mutably).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            a_cs as isize,
            a_rs as isize,
            b.as_ptr(),
            b_cs as isize,
            b_rs as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}
