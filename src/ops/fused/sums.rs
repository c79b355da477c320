//! Sums the fused backward passes are made of, written so that the compiler
//! keeps them in vector registers (run them inside [`crate::simd::wide!`]).

/// `y += x`, elementwise.
#[inline(always)]
pub(super) fn add_assign<T: candle_core::WithDType>(y: &mut [T], x: &[T]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += x;
    }
}

/// `acc[i] += Σ_e g_e · src[base + off_e + i]` for every `i < acc.len()`,
/// over the entries `(off_e, g_e)`: a sum of scaled runs of `src`, kept in
/// registers a block at a time.
#[inline(always)]
pub(super) fn gather_axpy<T: candle_core::WithDType>(
    acc: &mut [T],
    entries: &[(usize, T)],
    src: &[T],
    base: usize,
) {
    let mut start = 0;
    // 96 = a 3-wide kernel row of 32 channels: twelve 8-float registers.
    while acc.len() % 96 == 0 && acc.len() - start >= 96 {
        block::<T, 96>(&mut acc[start..], entries, src, base + start);
        start += 96;
    }
    while acc.len() - start >= 64 {
        block::<T, 64>(&mut acc[start..], entries, src, base + start);
        start += 64;
    }
    while acc.len() - start >= 32 {
        block::<T, 32>(&mut acc[start..], entries, src, base + start);
        start += 32;
    }
    while acc.len() - start >= 16 {
        block::<T, 16>(&mut acc[start..], entries, src, base + start);
        start += 16;
    }
    while acc.len() - start >= 1 {
        block::<T, 1>(&mut acc[start..], entries, src, base + start);
        start += 1;
    }
}

#[inline(always)]
fn block<T: candle_core::WithDType, const N: usize>(
    acc: &mut [T],
    entries: &[(usize, T)],
    src: &[T],
    base: usize,
) {
    let mut a = [T::zero(); N];
    a.copy_from_slice(&acc[..N]);
    for &(off, g) in entries {
        let s: &[T; N] = src[base + off..base + off + N]
            .try_into()
            .expect("N entries");
        for i in 0..N {
            a[i] += g * s[i];
        }
    }
    acc[..N].copy_from_slice(&a);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn gather_axpy_is_the_plain_sum_in_order_for_every_block_width() {
        let mut rng = Rng::new(5);
        // Every length up to past two 96-blocks: each block width and remainder.
        for len in (1..=200).chain([288, 289]) {
            let src: Vec<f32> = (0..len + 64).map(|_| rng.uniform(-1.0, 1.0)).collect();
            let entries: Vec<(usize, f32)> = (0..rng.below(6))
                .map(|_| (rng.below(40), rng.uniform(-2.0, 2.0)))
                .collect();
            let base = rng.below(20);
            let start: Vec<f32> = (0..len).map(|_| rng.uniform(-1.0, 1.0)).collect();
            let mut fast = start.clone();
            gather_axpy(&mut fast, &entries, &src, base);
            let mut plain = start.clone();
            for (i, acc) in plain.iter_mut().enumerate() {
                for &(off, g) in &entries {
                    *acc += g * src[base + off + i];
                }
            }
            assert_eq!(fast, plain, "length {len}: bit for bit");
            let mut sum = start.clone();
            add_assign(&mut sum, &plain);
            assert!(sum
                .iter()
                .zip(start.iter().zip(&plain))
                .all(|(s, (a, b))| *s == a + b));
        }
    }
}
