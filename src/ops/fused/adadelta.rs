//! Adadelta's step on the CPU, in place: three parallel passes over memory
//! and no new buffers (each pass recomputes the update `u` the same way),
//! or, for the fused training step's gradients, one pass.
//! The algorithm, and the same step from tensor operations, are in
//! [`crate::optim`].

use crate::simd::wide;
use candle_core::{
    bail, CpuStorage, DType, InplaceOp1, InplaceOp2, InplaceOp3, Layout, Result, Tensor,
};
use num_traits::Float;
use rayon::prelude::*;

/// Adadelta's hyper-parameters `(lr, rho, eps)`.
pub(crate) type Hyper = (f64, f64, f64);

/// One step on weight `p` with gradient `g`, in place: `a` first, then `p`
/// (from the new `a` and the old `d`), then `d`.
pub(crate) fn adadelta_in_place(
    p: &Tensor,
    g: &Tensor,
    a: &Tensor,
    d: &Tensor,
    h: Hyper,
) -> Result<()> {
    a.inplace_op2(g, &InPlace(Pass::AvgSqGrad, h))?;
    p.inplace_op3(g, a, &InPlace(Pass::Weight(d.clone()), h))?;
    d.inplace_op3(g, a, &InPlace(Pass::AvgSqUpdate, h))
}

/// [`adadelta_in_place`] with the gradient `g` as plain numbers (the fused
/// training step's own buffer), in one parallel pass: each value of `a`,
/// `p` and `d` is read and written once, by the three passes' arithmetic in
/// their order (`a`, then `p` from the new `a` and the old `d`, then `d`),
/// so the numbers are theirs.
pub(crate) fn adadelta_in_place_from(
    p: &Tensor,
    g: &[f32],
    a: &Tensor,
    d: &Tensor,
    h: Hyper,
) -> Result<()> {
    with_mut(p, |p| {
        with_mut(a, |a| with_mut(d, |d| one_pass(p, a, d, g, h)))
    })
}

/// Runs `f` on the data of `t` (contiguous, f32, on the CPU), in place.
fn with_mut(t: &Tensor, f: impl FnOnce(&mut [f32]) -> Result<()>) -> Result<()> {
    struct Op<F>(std::cell::Cell<Option<F>>);
    impl<F: FnOnce(&mut [f32]) -> Result<()>> InplaceOp1 for Op<F> {
        fn name(&self) -> &'static str {
            "adadelta"
        }

        fn cpu_fwd(&self, s: &mut CpuStorage, l: &Layout) -> Result<()> {
            let (CpuStorage::F32(x), Some((start, end))) = (s, l.contiguous_offsets()) else {
                bail!("Adadelta: contiguous f32 tensors expected")
            };
            match self.0.take() {
                Some(f) => f(&mut x[start..end]),
                None => bail!("Adadelta: a pass ran twice"),
            }
        }
    }
    t.inplace_op1(&Op(std::cell::Cell::new(Some(f))))
}

/// `a = rho·a + (1 - rho)·g²`, `p -= lr·u`, `d = rho·d + (1 - rho)·u²`,
/// value by value.
fn one_pass(p: &mut [f32], a: &mut [f32], d: &mut [f32], g: &[f32], h: Hyper) -> Result<()> {
    if [a.len(), d.len(), g.len()].iter().any(|&n| n != p.len()) {
        bail!("Adadelta: state and gradient sizes differ")
    }
    let c = |v: f64| <f32 as num_traits::NumCast>::from(v).expect("f32 holds the config");
    let (lr, rho, eps) = (c(h.0), c(h.1), c(h.2));
    let one = 1.0f32;
    p.par_chunks_mut(CHUNK)
        .zip(a.par_chunks_mut(CHUNK))
        .zip(d.par_chunks_mut(CHUNK).zip(g.par_chunks(CHUNK)))
        .for_each(|((p, a), (d, g))| {
            wide!({
                for (((p, a), d), &g) in p.iter_mut().zip(a).zip(d).zip(g) {
                    *a = rho * *a + (one - rho) * g * g;
                    let u = update(g, *a, *d, eps);
                    *p -= lr * u;
                    *d = rho * *d + (one - rho) * u * u;
                }
            })
        });
    Ok(())
}

/// The update `u = g · sqrt(d + eps) / sqrt(a + eps)`, computed the same way
/// by every pass that needs it.
#[inline(always)]
fn update<T: Float>(g: T, a: T, d: T, eps: T) -> T {
    g * (d + eps).sqrt() / (a + eps).sqrt()
}

/// Elements per parallel task of the in-place passes (each run with vector
/// instructions where the CPU has them: see `simd::wide!`).
const CHUNK: usize = 1 << 14;

enum Pass {
    /// `a = rho·a + (1 - rho)·g²`; arguments `(a, g)`.
    AvgSqGrad,
    /// `p -= lr·u`; arguments `(p, g, a)` and `d`.
    Weight(Tensor),
    /// `d = rho·d + (1 - rho)·u²`; arguments `(d, g, a)`.
    AvgSqUpdate,
}

struct InPlace(Pass, Hyper);

impl InPlace {
    /// Runs pass `self.0` on `dst` with the other vectors `srcs` (g, then a, then d).
    fn run<T: Float + Send + Sync>(&self, dst: &mut [T], srcs: &[&[T]]) -> Result<()> {
        if srcs.iter().any(|s| s.len() != dst.len()) {
            bail!("Adadelta: state and gradient sizes differ")
        }
        let c = |v: f64| T::from(v).expect("f32 and f64 hold any f64 config");
        let (lr, rho, eps) = (c(self.1 .0), c(self.1 .1), c(self.1 .2));
        let one = T::one();
        let g = srcs[0];
        match self.0 {
            Pass::AvgSqGrad => {
                dst.par_chunks_mut(CHUNK)
                    .zip(g.par_chunks(CHUNK))
                    .for_each(|(a, g)| {
                        wide!({
                            for (a, &g) in a.iter_mut().zip(g) {
                                *a = rho * *a + (one - rho) * g * g;
                            }
                        })
                    })
            }
            Pass::Weight(_) => dst
                .par_chunks_mut(CHUNK)
                .zip(g.par_chunks(CHUNK))
                .zip(srcs[1].par_chunks(CHUNK).zip(srcs[2].par_chunks(CHUNK)))
                .for_each(|((p, g), (a, d))| {
                    wide!({
                        for (((p, &g), &a), &d) in p.iter_mut().zip(g).zip(a).zip(d) {
                            *p = *p - lr * update(g, a, d, eps);
                        }
                    })
                }),
            Pass::AvgSqUpdate => dst
                .par_chunks_mut(CHUNK)
                .zip(g.par_chunks(CHUNK).zip(srcs[1].par_chunks(CHUNK)))
                .for_each(|(d, (g, a))| {
                    wide!({
                        for ((d, &g), &a) in d.iter_mut().zip(g).zip(a) {
                            let u = update(g, a, *d, eps);
                            *d = rho * *d + (one - rho) * u * u;
                        }
                    })
                }),
        }
        Ok(())
    }
}

/// The contiguous data of a CPU storage.
fn slice<'a, T>(v: &'a [T], l: &Layout) -> Result<&'a [T]> {
    match l.contiguous_offsets() {
        Some((start, end)) => Ok(&v[start..end]),
        None => bail!("Adadelta: tensors must be contiguous"),
    }
}

impl InplaceOp2 for InPlace {
    fn name(&self) -> &'static str {
        "adadelta"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<()> {
        let Some((start, end)) = l1.contiguous_offsets() else {
            bail!("Adadelta: tensors must be contiguous")
        };
        match (s1, s2) {
            (CpuStorage::F32(x), CpuStorage::F32(g)) => {
                self.run(&mut x[start..end], &[slice(g, l2)?])
            }
            (CpuStorage::F64(x), CpuStorage::F64(g)) => {
                self.run(&mut x[start..end], &[slice(g, l2)?])
            }
            _ => bail!("Adadelta: f32 or f64 tensors of one dtype expected"),
        }
    }
}

impl InplaceOp3 for InPlace {
    fn name(&self) -> &'static str {
        "adadelta"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<()> {
        let Some((start, end)) = l1.contiguous_offsets() else {
            bail!("Adadelta: tensors must be contiguous")
        };
        // The weight pass also reads d, a fourth tensor.
        let d = match &self.0 {
            Pass::Weight(d) => Some(d.storage_and_layout()),
            _ => None,
        };
        macro_rules! go {
            ($v:ident) => {{
                let (CpuStorage::$v(x), CpuStorage::$v(g), CpuStorage::$v(a)) = (s1, s2, s3) else {
                    bail!("Adadelta: f32 or f64 tensors of one dtype expected")
                };
                let mut srcs = vec![slice(g, l2)?, slice(a, l3)?];
                if let Some((storage, layout)) = &d {
                    let candle_core::Storage::Cpu(CpuStorage::$v(d)) = &**storage else {
                        bail!("Adadelta: state on another device or dtype")
                    };
                    srcs.push(slice(d, layout)?);
                }
                self.run(&mut x[start..end], &srcs)
            }};
        }
        match candle_core::backend::BackendStorage::dtype(s2) {
            DType::F32 => go!(F32),
            DType::F64 => go!(F64),
            other => bail!("Adadelta: unsupported dtype {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use candle_core::Device;

    const H: Hyper = (1.0, 0.95, 1e-7);

    fn state(n: usize, seed: u64) -> [Vec<f32>; 4] {
        let mut rng = Rng::new(seed);
        let mut v = |low: f32| (0..n).map(|_| rng.uniform(low, 1.0)).collect::<Vec<f32>>();
        [v(-1.0), v(-1.0), v(0.0), v(0.0)] // p, g, a, d
    }

    fn tensor(v: &[f32]) -> Tensor {
        Tensor::from_slice(v, v.len(), &Device::Cpu).unwrap()
    }

    fn read(t: &Tensor) -> Vec<f32> {
        t.to_vec1().unwrap()
    }

    #[test]
    fn one_pass_three_passes_and_the_formula_agree_bit_for_bit() {
        // One chunk, a chunk boundary, and several chunks with a remainder.
        for n in [1, 5, CHUNK - 1, CHUNK + 3, 3 * CHUNK + 17] {
            let [p, g, a, d] = state(n, n as u64);
            let (p3, g3, a3, d3) = (tensor(&p), tensor(&g), tensor(&a), tensor(&d));
            adadelta_in_place(&p3, &g3, &a3, &d3, H).unwrap();
            let (p1, a1, d1) = (tensor(&p), tensor(&a), tensor(&d));
            adadelta_in_place_from(&p1, &g, &a1, &d1, H).unwrap();
            let (mut pf, mut af, mut df) = (p.clone(), a.clone(), d.clone());
            let (lr, rho, eps) = (H.0 as f32, H.1 as f32, H.2 as f32);
            for i in 0..n {
                af[i] = rho * af[i] + (1.0 - rho) * g[i] * g[i];
                let u = g[i] * (df[i] + eps).sqrt() / (af[i] + eps).sqrt();
                pf[i] -= lr * u;
                df[i] = rho * df[i] + (1.0 - rho) * u * u;
            }
            for (what, three, one, formula) in [
                ("p", &p3, &p1, &pf),
                ("a", &a3, &a1, &af),
                ("d", &d3, &d1, &df),
            ] {
                assert_eq!(&read(three), formula, "{n}: {what}, three passes");
                assert_eq!(&read(one), formula, "{n}: {what}, one pass");
            }
        }
    }

    #[test]
    fn three_passes_in_f64_follow_the_formula() {
        let [p, g, a, d] =
            state(1000, 3).map(|v| v.iter().map(|&x| x as f64).collect::<Vec<f64>>());
        let t = |v: &[f64]| Tensor::from_slice(v, v.len(), &Device::Cpu).unwrap();
        let (pt, gt, at, dt) = (t(&p), t(&g), t(&a), t(&d));
        adadelta_in_place(&pt, &gt, &at, &dt, H).unwrap();
        let got: Vec<f64> = pt.to_vec1().unwrap();
        for i in 0..p.len() {
            let a = H.1 * a[i] + (1.0 - H.1) * g[i] * g[i];
            let u = g[i] * (d[i] + H.2).sqrt() / (a + H.2).sqrt();
            assert_eq!(got[i], p[i] - H.0 * u, "{i}");
        }
    }

    #[test]
    fn sizes_dtypes_and_layouts_that_do_not_fit_are_refused() {
        let [p, g, a, d] = state(8, 4);
        let (pt, at, dt) = (tensor(&p), tensor(&a), tensor(&d));
        let err = adadelta_in_place_from(&pt, &g[..7], &at, &dt, H).unwrap_err();
        assert!(err.to_string().contains("sizes differ"), "{err}");
        let err = adadelta_in_place(&pt, &tensor(&g[..7]), &at, &dt, H).unwrap_err();
        assert!(err.to_string().contains("sizes differ"), "{err}");
        let g64 = tensor(&g).to_dtype(DType::F64).unwrap();
        assert!(
            adadelta_in_place(&pt, &g64, &at, &dt, H).is_err(),
            "mixed dtypes"
        );
        let square = Tensor::from_slice(&[1f32, 2., 3., 4.], (2, 2), &Device::Cpu).unwrap();
        let strided = square.t().unwrap();
        let err = adadelta_in_place_from(
            &strided,
            &[0.0; 4],
            &tensor(&[0.0; 4]),
            &tensor(&[0.0; 4]),
            H,
        )
        .unwrap_err();
        assert!(err.to_string().contains("contiguous"), "{err}");
        assert_eq!(p, read(&pt), "a refused step changes nothing");
    }
}
