//! Wider vector instructions where the CPU has them.
//!
//! Rust compiles for a baseline x86-64 CPU (SSE2, four floats at a time)
//! unless told otherwise. [`wide!`](wide) runs a block of code compiled a
//! second time for AVX2 + FMA (eight floats at a time) when the CPU supports
//! them, decided once, at run time; elsewhere the baseline code runs. The
//! loops in the fused layers are written plainly and left to the compiler to
//! vectorize. The code is the same at both widths and no sum is reordered,
//! so both give the same results, bit for bit.

/// `wide!({ ... })` runs the block through [`run_wide`], as a closure
/// marked `#[inline(always)]`: only code inlined into the wider function is
/// compiled for the wider instructions, and the compiler may otherwise keep
/// a big closure apart (it then runs as baseline code, one float at a time).
macro_rules! wide {
    ($body:block) => {
        $crate::ops::run_wide(
            #[inline(always)]
            || $body,
        )
    };
}
pub(crate) use wide;

/// Runs `f`, compiled for AVX2 + FMA when this CPU has them (call it through
/// [`wide!`](wide), which makes sure `f` is compiled inside).
#[inline(always)]
pub(crate) fn run_wide<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx2_fma() {
            // SAFETY: the CPU supports the enabled features (checked above).
            return unsafe { avx2_fma(f) };
        }
    }
    f()
}

#[cfg(target_arch = "x86_64")]
fn has_avx2_fma() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    })
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2_fma<R>(f: impl FnOnce() -> R) -> R {
    f()
}

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
