//! Wider vector instructions where the CPU has them.
//!
//! Rust compiles for a baseline x86-64 CPU (SSE2, four floats at a time)
//! unless told otherwise. [`wide!`](wide) runs a block of code compiled a
//! second time for AVX2 + FMA (eight floats at a time) when the CPU supports
//! them, decided once, at run time; elsewhere the baseline code runs. The
//! loops in the fused layers (`ops::fused`), the random numbers (`rng`) and
//! Adadelta's passes are written plainly and left to the compiler to
//! vectorize. The code is the same at both widths and no sum is reordered,
//! so both give the same results, bit for bit.

/// `wide!({ ... })` runs the block through [`run_wide`], as a closure
/// marked `#[inline(always)]`: only code inlined into the wider function is
/// compiled for the wider instructions, and the compiler may otherwise keep
/// a big closure apart (it then runs as baseline code, one float at a time).
macro_rules! wide {
    ($body:block) => {
        $crate::simd::run_wide(
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
