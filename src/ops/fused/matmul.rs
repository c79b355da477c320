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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use candle_core::{Device, Tensor};

    fn numbers(n: usize, rng: &mut Rng) -> Vec<f32> {
        (0..n).map(|_| rng.uniform(-1.0, 1.0)).collect()
    }

    #[test]
    fn matmul_is_the_plain_product_with_overlapping_rows_and_accumulating() {
        let mut rng = Rng::new(9);
        for (m, k, n, a_rs) in [
            (1, 1, 1, 1),
            (7, 3, 5, 3),
            (20, 9, 33, 2),
            (64, 96, 17, 96),
            (5, 4, 1, 1),
        ] {
            let a = numbers((m - 1) * a_rs + k, &mut rng);
            let b = numbers(k * n, &mut rng);
            let start = numbers(m * n, &mut rng);
            for accumulate in [false, true] {
                let mut dst = start.clone();
                matmul(&mut dst, (&a, a_rs), &b, (m, k, n), accumulate);
                for i in 0..m {
                    for j in 0..n {
                        let sum: f64 = (0..k)
                            .map(|l| a[i * a_rs + l] as f64 * b[l * n + j] as f64)
                            .sum();
                        let want = sum
                            + if accumulate {
                                start[i * n + j] as f64
                            } else {
                                0.0
                            };
                        let got = dst[i * n + j] as f64;
                        assert!((got - want).abs() < 1e-5 * (k as f64 + 1.0), "{m}x{k}x{n} (rows {a_rs} apart, accumulate {accumulate}) [{i}, {j}]: {got} vs {want}");
                    }
                }
            }
        }
    }

    #[test]
    fn matmul_as_candle_gives_candles_bits_transposed_operands_too() {
        let mut rng = Rng::new(10);
        for (m, k, n) in [(1, 1, 1), (3, 5, 2), (128, 9, 32), (33, 800, 10)] {
            let a = Tensor::from_vec(numbers(m * k, &mut rng), (m, k), &Device::Cpu).unwrap();
            let b = Tensor::from_vec(numbers(k * n, &mut rng), (k, n), &Device::Cpu).unwrap();
            let at = a.t().unwrap().contiguous().unwrap(); // [k, m]
            let bt = b.t().unwrap().contiguous().unwrap(); // [n, k]
            let want: Vec<f32> = a
                .matmul(&b)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            // (a, column stride, row stride) for a and its transpose read back.
            for ((av, a_cs, a_rs), (bv, b_cs, b_rs)) in [
                ((flat(&a), 1, k), (flat(&b), 1, n)),
                ((flat(&at), m, 1), (flat(&b), 1, n)),
                ((flat(&a), 1, k), (flat(&bt), k, 1)),
            ] {
                let mut dst = vec![0f32; m * n];
                matmul_as_candle(&mut dst, (&av, a_cs, a_rs), (&bv, b_cs, b_rs), (m, k, n));
                let wanted: Vec<f32> = if (a_cs, b_cs) == (1, 1) {
                    want.clone()
                } else {
                    let a2 = Tensor::from_vec(
                        av.clone(),
                        if a_cs == 1 { (m, k) } else { (k, m) },
                        &Device::Cpu,
                    )
                    .unwrap();
                    let b2 = Tensor::from_vec(
                        bv.clone(),
                        if b_cs == 1 { (k, n) } else { (n, k) },
                        &Device::Cpu,
                    )
                    .unwrap();
                    let a2 = if a_cs == 1 { a2 } else { a2.t().unwrap() };
                    let b2 = if b_cs == 1 { b2 } else { b2.t().unwrap() };
                    a2.matmul(&b2)
                        .unwrap()
                        .flatten_all()
                        .unwrap()
                        .to_vec1()
                        .unwrap()
                };
                assert_eq!(
                    dst, wanted,
                    "{m}x{k}x{n} strides ({a_cs}, {a_rs}) ({b_cs}, {b_rs})"
                );
            }
        }
    }
}
