//! The 3×3 convolution of the second block by Winograd's minimal filtering
//! F(2×2, 3×3) (Lavin and Gray, 2015), one 2×2 block of outputs at a time.
//!
//! A 2×2 block of outputs of a 3×3 kernel `g` depends on a 4×4 tile `d` of
//! the input. With
//!
//! ```text
//!      ⎡1  0 -1  0⎤        ⎡ 1    0    0 ⎤
//! Bᵀ = ⎢0  1  1  0⎥    G = ⎢1/2  1/2  1/2⎥    Aᵀ = ⎡1  1  1  0⎤
//!      ⎢0 -1  1  0⎥        ⎢1/2 -1/2  1/2⎥         ⎣0  1 -1 -1⎦
//!      ⎣0  1  0 -1⎦        ⎣ 0    0    1 ⎦
//! ```
//!
//! the block is `Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A`, summed over input channels:
//! 16 products per tile and channel pair instead of 36. Summed over channels,
//! the 16 elementwise products become 16 matrix products
//! `M[ξ] = V[ξ] · U[ξ]`, with `V[ξ]` `[tiles, c]` the transformed input and
//! `U[ξ]` `[c, o]` the transformed kernel. The 2×2 output blocks are exactly
//! the windows of the 2×2 max-pooling that follows, which this module also
//! does. Rounding differs from the direct sum's in the last bits.

use super::matmul::matmul;
use candle_core::WithDType;

/// `U[ξ = 4a + b][ci][co] = (G g Gᵀ)[a][b]` for the kernel `w` `[3, 3, c, o]`.
pub(super) fn transform_kernel<T: WithDType>(w: &[T], c: usize, o: usize) -> Vec<T> {
    let half = T::from_f64(0.5);
    let mut u = vec![T::zero(); 16 * c * o];
    for ci in 0..c {
        for co in 0..o {
            let g = |ky: usize, kx: usize| w[((ky * 3 + kx) * c + ci) * o + co];
            let mut t = [[T::zero(); 3]; 4]; // G g, [4, 3]
            for (kx, col) in (0..3).map(|kx| (kx, [g(0, kx), g(1, kx), g(2, kx)])) {
                t[0][kx] = col[0];
                t[1][kx] = (col[0] + col[1] + col[2]) * half;
                t[2][kx] = (col[0] - col[1] + col[2]) * half;
                t[3][kx] = col[2];
            }
            for (a, r) in t.iter().enumerate() {
                let row = [
                    r[0],
                    (r[0] + r[1] + r[2]) * half,
                    (r[0] - r[1] + r[2]) * half,
                    r[2],
                ];
                for (b, &v) in row.iter().enumerate() {
                    u[((a * 4 + b) * c + ci) * o + co] = v;
                }
            }
        }
    }
    u
}

/// Scratch buffers of one image: the transformed input `V` `[16, tiles, c]`,
/// the products `M` `[16, tiles, o]` and `Bᵀ d` of one tile, `[16, c]`.
pub(super) struct Scratch<T> {
    v: Vec<T>,
    m: Vec<T>,
    r: Vec<T>,
}

impl<T: WithDType> Scratch<T> {
    pub(super) fn new(tiles: usize, c: usize, o: usize) -> Self {
        Self {
            v: vec![T::zero(); 16 * tiles * c],
            m: vec![T::zero(); 16 * tiles * o],
            r: vec![T::zero(); 16 * c],
        }
    }
}

/// `out[i] = f(a[i], b[i])` for every channel `i`.
#[inline(always)]
fn combine<T: WithDType>(out: &mut [T], a: &[T], b: &[T], f: impl Fn(T, T) -> T) {
    for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
        *o = f(a, b);
    }
}

/// Four disjoint runs of `len` values of `s`, `stride` apart, the first at `start`.
#[inline(always)]
fn four_runs<T>(s: &mut [T], start: usize, stride: usize, len: usize) -> [&mut [T]; 4] {
    let (a, rest) = s[start..].split_at_mut(stride);
    let (b, rest) = rest.split_at_mut(stride);
    let (c, d) = rest.split_at_mut(stride);
    [&mut a[..len], &mut b[..len], &mut c[..len], &mut d[..len]]
}

/// Convolves `img` `[h, w, c]` with the transformed kernel `u` and hands each
/// 2×2 output block to `window(tile, [z00, z01, z10, z11])`, each `z` the `o`
/// outputs of one position; tiles are numbered row by row, `(h - 2) / 2` by
/// `(w - 2) / 2` of them.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // the indices follow the matrix formulas
pub(super) fn conv_blocks<T: WithDType>(
    img: &[T],
    (h, w, c): (usize, usize, usize),
    u: &[T],
    o: usize,
    s: &mut Scratch<T>,
    mut window: impl FnMut(usize, [&[T]; 4]),
) {
    let (ph, pw) = ((h - 2) / 2, (w - 2) / 2);
    let tiles = ph * pw;
    // V = Bᵀ d B for every tile, all channels at once: each step combines
    // two runs of `c` values (one per channel), which vectorizes.
    let (r, v) = (&mut s.r, &mut s.v);
    for p in 0..ph {
        for q in 0..pw {
            let t = p * pw + q;
            let d = |i: usize, j: usize| {
                let at = ((2 * p + i) * w + 2 * q + j) * c;
                &img[at..at + c]
            };
            // r = Bᵀ d, column by column: r[i][j] is run `4j + i` of `r`.
            for j in 0..4 {
                let (d0, d1, d2, d3) = (d(0, j), d(1, j), d(2, j), d(3, j));
                let [r0, r1, r2, r3] = four_runs(r, 4 * j * c, c, c);
                combine(r0, d0, d2, |a, b| a - b);
                combine(r1, d1, d2, |a, b| a + b);
                combine(r2, d2, d1, |a, b| a - b);
                combine(r3, d1, d3, |a, b| a - b);
            }
            // V = r B, row by row: V[i][j] is run `t` of V[4i + j].
            for i in 0..4 {
                let r = |j: usize| &r[(4 * j + i) * c..(4 * j + i + 1) * c];
                let (r0, r1, r2, r3) = (r(0), r(1), r(2), r(3));
                let [v0, v1, v2, v3] = four_runs(v, (4 * i * tiles + t) * c, tiles * c, c);
                combine(v0, r0, r2, |a, b| a - b);
                combine(v1, r1, r2, |a, b| a + b);
                combine(v2, r2, r1, |a, b| a - b);
                combine(v3, r1, r3, |a, b| a - b);
            }
        }
    }
    // M[ξ] = V[ξ] · U[ξ].
    for xi in 0..16 {
        let v = &s.v[xi * tiles * c..(xi + 1) * tiles * c];
        let uu = &u[xi * c * o..(xi + 1) * c * o];
        let m = &mut s.m[xi * tiles * o..(xi + 1) * tiles * o];
        matmul(m, (v, c), uu, (tiles, c, o), false);
    }
    // Y = Aᵀ M A, tile by tile, all output channels at once.
    let mut y = vec![T::zero(); 4 * o];
    for t in 0..tiles {
        let m = |xi: usize| &s.m[(xi * tiles + t) * o..(xi * tiles + t + 1) * o];
        let ms: [&[T]; 16] = std::array::from_fn(m);
        let (y00, rest) = y.split_at_mut(o);
        let (y01, rest) = rest.split_at_mut(o);
        let (y10, y11) = rest.split_at_mut(o);
        for co in 0..o {
            let e = |i: usize, j: usize| ms[i * 4 + j][co];
            // s = Aᵀ M, then Y = s A.
            let s0: [T; 4] = std::array::from_fn(|j| e(0, j) + e(1, j) + e(2, j));
            let s1: [T; 4] = std::array::from_fn(|j| e(1, j) - e(2, j) - e(3, j));
            y00[co] = s0[0] + s0[1] + s0[2];
            y01[co] = s0[1] - s0[2] - s0[3];
            y10[co] = s1[0] + s1[1] + s1[2];
            y11[co] = s1[1] - s1[2] - s1[3];
        }
        window(t, [y00, y01, y10, y11]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::conformance::{random, values};
    use candle_core::DType;

    /// Every 2×2 block of `conv_blocks` against the direct sum
    /// `Σ img[2p + dy + ky, 2q + dx + kx, ci] · w[ky, kx, ci, co]`.
    fn check<T: WithDType>(h: usize, w: usize, c: usize, o: usize, dtype: DType, tol: f64) {
        let img: Vec<f64> = values(&random(&[h, w, c], (h * w + c * o) as u64, dtype));
        let ker: Vec<f64> = values(&random(&[3, 3, c, o], 7, dtype));
        let as_t = |v: &[f64]| v.iter().map(|&x| T::from_f64(x)).collect::<Vec<T>>();
        let (img_t, ker_t) = (as_t(&img), as_t(&ker));
        let u = transform_kernel(&ker_t, c, o);
        let (ph, pw) = ((h - 2) / 2, (w - 2) / 2);
        let mut scratch = Scratch::new(ph * pw, c, o);
        let mut seen = 0;
        conv_blocks(&img_t, (h, w, c), &u, o, &mut scratch, |t, z| {
            let (p, q) = (t / pw, t % pw);
            for (k, z) in z.iter().enumerate() {
                let (i, j) = (2 * p + k / 2, 2 * q + k % 2);
                for (co, z) in z.iter().enumerate() {
                    let mut sum = 0f64;
                    for ky in 0..3 {
                        for kx in 0..3 {
                            for ci in 0..c {
                                sum += img[((i + ky) * w + j + kx) * c + ci]
                                    * ker[((ky * 3 + kx) * c + ci) * o + co];
                            }
                        }
                    }
                    let scale = (9 * c) as f64;
                    let z = z.to_f64();
                    assert!((z - sum).abs() <= tol * scale, "{h}x{w}x{c}->{o} {dtype:?} tile {t} at ({i}, {j}) channel {co}: {z} vs {sum}");
                }
            }
            seen += 1;
        });
        assert_eq!(seen, ph * pw, "every tile handed over once");
    }

    #[test]
    fn winograd_blocks_are_the_direct_sums() {
        for (h, w) in [(4, 4), (5, 5), (6, 9), (28, 28), (26, 26)] {
            for (c, o) in [(1, 1), (1, 32), (3, 5), (32, 17), (2, 33)] {
                check::<f32>(h, w, c, o, DType::F32, 1e-5);
                check::<f64>(h, w, c, o, DType::F64, 1e-13);
            }
        }
    }
}
