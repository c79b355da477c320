//! A tiny seeded random number generator.
//!
//! Shuffling, weight initialisation and dropout all draw from this generator,
//! so a run is reproducible from its seed alone, whatever version of `rand`
//! candle happens to use. The algorithm is SplitMix64 (Steele, Lea and Flood,
//! 2014): small, fast and good enough for everything a lesson needs.
//!
//! ```
//! use filters_are_weights::rng::Rng;
//! let mut a = Rng::new(7);
//! let mut b = Rng::new(7);
//! assert_eq!(a.next_u64(), b.next_u64());
//! let x = a.uniform(-1.0, 1.0);
//! assert!((-1.0..1.0).contains(&x));
//! ```

/// SplitMix64's increment of the state, 2^64 divided by the golden ratio.
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function: scrambles one state into 64 random bits.
#[inline(always)]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The top 24 of 64 random bits as a float in `[0, 1)`: every value is
/// exactly representable.
#[inline(always)]
fn unit_f32(bits: u64) -> f32 {
    // Through i32 (exact: below 2^24), which vector instructions convert.
    ((bits >> 40) as i32) as f32 / (1u64 << 24) as f32
}

/// SplitMix64 pseudo-random generator.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose whole sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix(self.state)
    }

    /// A float uniformly drawn from `[0, 1)`.
    pub fn next_f32(&mut self) -> f32 {
        unit_f32(self.next_u64())
    }

    /// Fills `out` with the next `out.len()` draws of [`Rng::next_f32`], in
    /// order. SplitMix64's state only counts (its `k`-th state is the seed
    /// plus `k` times a constant), so every draw is computed from its index,
    /// independently of the others, which vectorizes.
    pub fn fill_f32(&mut self, out: &mut [f32]) {
        let start = self.state;
        crate::simd::wide!({
            for (k, v) in (1u64..).zip(out.iter_mut()) {
                *v = unit_f32(mix(start.wrapping_add(k.wrapping_mul(GOLDEN_GAMMA))));
            }
        });
        let n = out.len() as u64;
        self.state = start.wrapping_add(n.wrapping_mul(GOLDEN_GAMMA));
    }

    /// A float uniformly drawn from `[low, high)`.
    pub fn uniform(&mut self, low: f32, high: f32) -> f32 {
        low + (high - low) * self.next_f32()
    }

    /// An integer uniformly drawn from `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        // Lemire's multiply-shift; the bias is below 2^-32 for any n we use.
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// Shuffles `items` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }

    /// A new generator split off this one, for an independent stream.
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_values() {
        // First outputs of SplitMix64 seeded with 1234567, computed with a Python
        // transcription of the reference C
        // implementation at https://prng.di.unimi.it/splitmix64.c
        let mut r = Rng::new(1234567);
        assert_eq!(r.next_u64(), 6457827717110365317);
        assert_eq!(r.next_u64(), 3203168211198807973);
        assert_eq!(r.next_u64(), 9817491932198370423);
    }

    #[test]
    fn fill_f32_draws_what_next_f32_draws() {
        let (mut a, mut b) = (Rng::new(99), Rng::new(99));
        a.next_u64();
        b.next_u64();
        let mut filled = vec![0f32; 1000];
        a.fill_f32(&mut filled);
        let drawn: Vec<f32> = (0..1000).map(|_| b.next_f32()).collect();
        assert_eq!(filled, drawn);
        // And the stream goes on where the fill stopped.
        assert_eq!(a.next_u64(), b.next_u64());
        a.fill_f32(&mut []);
        assert_eq!(a.next_u64(), b.next_u64());
    }

    #[test]
    fn shuffle_is_a_permutation_and_seeded() {
        let mut a: Vec<usize> = (0..100).collect();
        let mut b = a.clone();
        Rng::new(3).shuffle(&mut a);
        Rng::new(3).shuffle(&mut b);
        assert_eq!(a, b);
        assert_ne!(a, (0..100).collect::<Vec<_>>());
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn below_stays_in_range() {
        let mut r = Rng::new(9);
        let mut seen = [false; 7];
        for _ in 0..1000 {
            let k = r.below(7);
            seen[k] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}
