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
