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
