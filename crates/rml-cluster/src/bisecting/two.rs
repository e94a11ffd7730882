//! The 2-means passes of a bisection over the cluster's rows stored contiguously (a range of
//! X read in place, or the centred copy of the rows): scores with the K-means assignment
//! arithmetic, fixed-order block reductions.
//!
//! ## Label decision (the same arithmetic as `kmeans::lloyd_pass`)
//! For `d > SMALL_D` the score of centre `j` is `fma(-2, dot_j, ||c_j||²)` where `dot_j` is a
//! sequential fused-multiply-add chain `fma(x_f, c_jf, acc)` over the features starting from
//! 0 — what the K-means AVX2 kernel and OpenBLAS's dgemm micro-kernel (scikit-learn's
//! `-2 X Cᵀ + ||c||²` GEMM, `beta = 1`) compute per entry. For `d <= SMALL_D` it is
//! `-2 · dot + ||c||²` with a plain multiply-add loop, as the K-means direct loop. The label
//! is 1 iff `score_1 < score_0` (ties to centre 0). Norms are sequential sums of squares in
//! the input dtype (`kmeans::row_sq_norms`).
//!
//! ## Incremental passes
//! For `d > SMALL_D`, [`iterate_incr`] keeps Hamerly's bounds per row (`bounds.rs`) and
//! running per-centre sums ([`Running`]). A run's first pass scores every row and sums every
//! row from zero (the bits of [`iterate`]). Later passes score only the rows whose bounds do
//! not prove that the kernel would return their current label (strictly, with a margin above
//! the kernel's rounding error; a certified row keeps the label a dense pass would give it,
//! bit for bit), and update the sums by the rows whose label changed only: their term
//! `(x - mu) · w` is subtracted from the old centre's sums and added to the new one's, per
//! block in row order from zero, the blocks' changes merged in block order, then added to the
//! running sums (the same bits for any number of threads). So a pass reads only the rows it
//! scores. The sums are those of the labels up to the rounding of the updates (another
//! summation order than a pass from zero; `run_lloyd` recomputes them from zero when needed).
//! The final pass ([`finalize`]) is dense: it reads every row for the inertia anyway.
//!
//! ## Reductions
//! Rows are processed in blocks of [`BLOCK_ROWS`] rows of the cluster (a constant); each
//! block accumulates in row order from zero, blocks are merged in block order, so the result
//! is bit-identical for any number of threads and equal to what the K-means kernels give on
//! the copied subset `X[indices]`. Within a block, the per-centre sums are accumulated 64 rows
//! at a time: the rows of each label are added in row order into accumulators held in
//! registers (16 features at a time), the same additions in the same order as row by row.

#![allow(clippy::needless_range_loop, clippy::too_many_arguments)]

use super::bounds::{Bounds, Certifier};
use crate::kmeans::{sq_dist_unrolled, BLOCK_ROWS, SMALL_D};
use rayon::prelude::*;
use rml_core::Float;

/// Two centres prepared for the score: interleaved `c0[f], c1[f]` and their squared norms.
pub(crate) struct Pair<F> {
    /// Subtracted from every row before use (scikit-learn centres X by its mean first; the
    /// subtraction is done on the fly, in the input dtype, so the values are the same).
    mu: Vec<F>,
    inter: Vec<F>,
    c0: Vec<F>,
    c1: Vec<F>,
    n0: F,
    n1: F,
    d: usize,
    use_fma: bool,
    hw_fma: bool,
    /// `mu` is all +0.0 (the rows are a centred copy): the subtraction is the identity.
    centred: bool,
}

/// Whether the CPU has hardware FMA (then the FMA chain runs in a function compiled for it).
pub(crate) fn hw_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

impl<F: Float> Pair<F> {
    /// `centers` is `(2, d)` row-major.
    pub(crate) fn new(centers: &[F], mu: &[F], d: usize, hw: bool) -> Self {
        let c0 = centers[..d].to_vec();
        let c1 = centers[d..2 * d].to_vec();
        let norm = |c: &[F]| c.iter().fold(F::zero(), |s, &v| s + v * v);
        let mut inter = Vec::with_capacity(2 * d);
        for f in 0..d {
            inter.push(c0[f]);
            inter.push(c1[f]);
        }
        let (n0, n1) = (norm(&c0), norm(&c1));
        // +0.0 only: x - (+0.0) is x for every x, x - (-0.0) is not for x = -0.0.
        let centred = mu[..d].iter().all(|&m| m == F::zero() && m.is_sign_positive());
        Self { mu: mu[..d].to_vec(), inter, c0, c1, n0, n1, d, use_fma: d > SMALL_D, hw_fma: hw, centred }
    }

    /// Label of one row: 1 iff `s1 < s0` for the scores of [`Pair::scores1`] (compared after
    /// an exact widening to `f64`, so as in `F`; ties to centre 0).
    #[inline(always)]
    fn label1(&self, x: &[F]) -> u8 {
        let (s0, s1, _) = self.scores1::<false>(x);
        (s1 < s0) as u8
    }

    /// Labels of four rows with the FMA chain ([`Pair::scores4_fma`] without the norms).
    #[inline(always)]
    fn label4_fma(&self, r: [&[F]; 4]) -> [u8; 4] {
        self.scores4_fma::<false>(r).map(|(s0, s1, _)| (s1 < s0) as u8)
    }

    /// The scores `(s0, s1)` of one row (scalar; the reference the 4- and 8-row kernels agree
    /// with bit for bit), widened to `f64`, and, if `NORM`, `Σ v_f²` of the centred row in
    /// `f64` (else 0).
    #[inline(always)]
    fn scores1<const NORM: bool>(&self, x: &[F]) -> (f64, f64, f64) {
        let m2 = F::from_f64(-2.0);
        let (mut a0, mut a1) = (F::zero(), F::zero());
        let mut n2 = 0.0f64;
        if self.use_fma {
            for f in 0..self.d {
                let v = x[f] - self.mu[f];
                a0 = v.mul_add(self.inter[2 * f], a0);
                a1 = v.mul_add(self.inter[2 * f + 1], a1);
                if NORM {
                    n2 += v.as_f64() * v.as_f64();
                }
            }
            (m2.mul_add(a0, self.n0).as_f64(), m2.mul_add(a1, self.n1).as_f64(), n2)
        } else {
            for f in 0..self.d {
                let v = x[f] - self.mu[f];
                a0 = a0 + v * self.c0[f];
                a1 = a1 + v * self.c1[f];
                if NORM {
                    n2 += v.as_f64() * v.as_f64();
                }
            }
            ((m2 * a0 + self.n0).as_f64(), (m2 * a1 + self.n1).as_f64(), n2)
        }
    }

    /// [`Pair::scores1`] of four rows with the FMA chain, interleaved for instruction-level
    /// parallelism (eight independent chains).
    #[inline(always)]
    fn scores4_fma<const NORM: bool>(&self, r: [&[F]; 4]) -> [(f64, f64, f64); 4] {
        let m2 = F::from_f64(-2.0);
        let z = F::zero();
        let (mut a00, mut a01, mut a10, mut a11) = (z, z, z, z);
        let (mut a20, mut a21, mut a30, mut a31) = (z, z, z, z);
        let mut n = [0.0f64; 4];
        let d = self.d;
        let (x0, x1, x2, x3) = (&r[0][..d], &r[1][..d], &r[2][..d], &r[3][..d]);
        let cc = &self.inter[..2 * d];
        let mu = &self.mu[..d];
        for f in 0..d {
            let (c0, c1, m) = (cc[2 * f], cc[2 * f + 1], mu[f]);
            let (v0, v1, v2, v3) = (x0[f] - m, x1[f] - m, x2[f] - m, x3[f] - m);
            a00 = v0.mul_add(c0, a00);
            a01 = v0.mul_add(c1, a01);
            a10 = v1.mul_add(c0, a10);
            a11 = v1.mul_add(c1, a11);
            a20 = v2.mul_add(c0, a20);
            a21 = v2.mul_add(c1, a21);
            a30 = v3.mul_add(c0, a30);
            a31 = v3.mul_add(c1, a31);
            if NORM {
                n[0] += v0.as_f64() * v0.as_f64();
                n[1] += v1.as_f64() * v1.as_f64();
                n[2] += v2.as_f64() * v2.as_f64();
                n[3] += v3.as_f64() * v3.as_f64();
            }
        }
        let sc = |a: F, b: F, n: f64| (m2.mul_add(a, self.n0).as_f64(), m2.mul_add(b, self.n1).as_f64(), n);
        [sc(a00, a01, n[0]), sc(a10, a11, n[1]), sc(a20, a21, n[2]), sc(a30, a31, n[3])]
    }
}

/// `&Pair<F>` as `&Pair<f64>` when `F` is `f64`.
fn cast_pair<F: 'static>(p: &Pair<F>) -> Option<&Pair<f64>> {
    if std::any::TypeId::of::<F>() == std::any::TypeId::of::<f64>() {
        // SAFETY: F is f64.
        Some(unsafe { &*(p as *const Pair<F> as *const Pair<f64>) })
    } else {
        None
    }
}

/// Partial results of one block of an iteration pass.
pub(crate) struct IterBlock {
    /// `Σ w x` of the rows labelled 0 then 1 (`2 d` values).
    pub sums: Vec<f64>,
    pub weights: [f64; 2],
    /// Rows whose label changed.
    pub changed: usize,
}

/// Partial results of one block of the final pass.
pub(crate) struct FinalBlock {
    pub inertia: f64,
    pub per_label: [f64; 2],
    pub counts: [usize; 2],
}

/// Requests the cache lines of row `k` of `xs` (`d` features); a no-op past the end.
#[inline(always)]
fn prefetch_nth<F>(xs: &[F], d: usize, k: usize) {
    if let Some(row) = xs.get(k * d..(k + 1) * d) {
        crate::kmeans::prefetch_row(row);
    }
}

/// Rows ahead of the current eight whose cache lines the AVX2 kernel requests.
const PREFETCH_ROWS: usize = 16;

/// View `&[F]` as `&[T]` when `F` is `T`.
fn cast_slice<F: 'static, T: 'static>(s: &[F]) -> Option<&[T]> {
    if std::any::TypeId::of::<F>() == std::any::TypeId::of::<T>() {
        // SAFETY: F and T are the same type.
        Some(unsafe { std::slice::from_raw_parts(s.as_ptr() as *const T, s.len()) })
    } else {
        None
    }
}

/// Loads features `f..f+4` of four rows, subtracts the mean `m` and transposes the 4×4 block:
/// element `k` of the result holds feature `f + k` of the four rows, row `r` in lane `r`.
///
/// # Safety
/// AVX2 must be available and every `rows[r].add(f + 3)` must be in bounds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn centred_4x4_transposed(
    rows: [*const f64; 4],
    f: usize,
    m: std::arch::x86_64::__m256d,
) -> [std::arch::x86_64::__m256d; 4] {
    use std::arch::x86_64::*;
    let r0 = _mm256_sub_pd(_mm256_loadu_pd(rows[0].add(f)), m);
    let r1 = _mm256_sub_pd(_mm256_loadu_pd(rows[1].add(f)), m);
    let r2 = _mm256_sub_pd(_mm256_loadu_pd(rows[2].add(f)), m);
    let r3 = _mm256_sub_pd(_mm256_loadu_pd(rows[3].add(f)), m);
    let t0 = _mm256_unpacklo_pd(r0, r1);
    let t1 = _mm256_unpackhi_pd(r0, r1);
    let t2 = _mm256_unpacklo_pd(r2, r3);
    let t3 = _mm256_unpackhi_pd(r2, r3);
    [
        _mm256_permute2f128_pd(t0, t2, 0x20),
        _mm256_permute2f128_pd(t1, t3, 0x20),
        _mm256_permute2f128_pd(t0, t2, 0x31),
        _mm256_permute2f128_pd(t1, t3, 0x31),
    ]
}

/// Scores of eight rows (`p`, `d` features each) against the two centres, lanes = rows:
/// `[s0 of rows 0..4, s1 of rows 0..4, s0 of rows 4..8, s1 of rows 4..8, Σv² of rows 0..4,
/// Σv² of rows 4..8]` (the last two only when `NORM`, zeros otherwise). Each 4×4 block of
/// (rows × features) is loaded, centred, transposed, and fed to one FMA chain per (row group,
/// centre): lane `r` of a chain computes `fma(v_f, c_f, acc)` for f = 0, 1, … in order, the
/// exact arithmetic of [`Pair::label1`]; the score is `fma(-2, acc, ||c||²)`. The norm is an
/// FMA chain of `v_f²` (only used to bound distances).
///
/// # Safety
/// AVX2 and FMA must be available; every `p[q]` must point at `d` readable values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn scores8_f64<const NORM: bool>(p: &[*const f64; 8], d: usize, pair: &Pair<f64>) -> [std::arch::x86_64::__m256d; 6] {
    use std::arch::x86_64::*;
    let (mu, c0, c1) = (pair.mu.as_ptr(), pair.c0.as_ptr(), pair.c1.as_ptr());
    let m2 = _mm256_set1_pd(-2.0);
    let (n0, n1) = (_mm256_set1_pd(pair.n0), _mm256_set1_pd(pair.n1));
    let full = d / 4 * 4;
    let (mut a0, mut a1, mut b0, mut b1) =
        (_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd());
    let (mut na, mut nb) = (_mm256_setzero_pd(), _mm256_setzero_pd());
    let mut f = 0;
    while f < full {
        let m = _mm256_loadu_pd(mu.add(f));
        // Rows 0..4 and 4..8, each as four feature vectors with rows in the lanes.
        let va = centred_4x4_transposed([p[0], p[1], p[2], p[3]], f, m);
        let vb = centred_4x4_transposed([p[4], p[5], p[6], p[7]], f, m);
        for k in 0..4 {
            let cc0 = _mm256_broadcast_sd(&*c0.add(f + k));
            let cc1 = _mm256_broadcast_sd(&*c1.add(f + k));
            a0 = _mm256_fmadd_pd(va[k], cc0, a0);
            a1 = _mm256_fmadd_pd(va[k], cc1, a1);
            b0 = _mm256_fmadd_pd(vb[k], cc0, b0);
            b1 = _mm256_fmadd_pd(vb[k], cc1, b1);
            if NORM {
                na = _mm256_fmadd_pd(va[k], va[k], na);
                nb = _mm256_fmadd_pd(vb[k], vb[k], nb);
            }
        }
        f += 4;
    }
    while f < d {
        let m = *mu.add(f);
        let va = _mm256_set_pd(*p[3].add(f) - m, *p[2].add(f) - m, *p[1].add(f) - m, *p[0].add(f) - m);
        let vb = _mm256_set_pd(*p[7].add(f) - m, *p[6].add(f) - m, *p[5].add(f) - m, *p[4].add(f) - m);
        let cc0 = _mm256_set1_pd(*c0.add(f));
        let cc1 = _mm256_set1_pd(*c1.add(f));
        a0 = _mm256_fmadd_pd(va, cc0, a0);
        a1 = _mm256_fmadd_pd(va, cc1, a1);
        b0 = _mm256_fmadd_pd(vb, cc0, b0);
        b1 = _mm256_fmadd_pd(vb, cc1, b1);
        if NORM {
            na = _mm256_fmadd_pd(va, va, na);
            nb = _mm256_fmadd_pd(vb, vb, nb);
        }
        f += 1;
    }
    [
        _mm256_fmadd_pd(m2, a0, n0),
        _mm256_fmadd_pd(m2, a1, n1),
        _mm256_fmadd_pd(m2, b0, n0),
        _mm256_fmadd_pd(m2, b1, n1),
        na,
        nb,
    ]
}

/// float64 with AVX2+FMA: labels of eight rows per step ([`scores8_f64`]; label 1 iff
/// `s1 < s0`). Returns the number of rows done (a multiple of 8).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn labels_f64_avx2(xs: &[f64], d: usize, pair: &Pair<f64>, out: &mut [u8]) -> usize {
    use std::arch::x86_64::*;
    let n = out.len();
    assert!(n * d <= xs.len());
    let mut r = 0;
    while r + 8 <= n {
        let mut p = [std::ptr::null::<f64>(); 8];
        for q in 0..8 {
            // In bounds: r + q < n and n * d <= xs.len().
            p[q] = xs.as_ptr().add((r + q) * d);
        }
        {
            // Request the lines of the rows PREFETCH_ROWS ahead (prefetches never fault).
            let ahead = xs.as_ptr().wrapping_add((r + PREFETCH_ROWS) * d) as *const i8;
            let mut off = 0;
            while off < 8 * d * 8 {
                _mm_prefetch(ahead.wrapping_add(off), _MM_HINT_T0);
                off += 64;
            }
        }
        let s = scores8_f64::<false>(&p, d, pair);
        let la = _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_LT_OQ>(s[1], s[0]));
        let lb = _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_LT_OQ>(s[3], s[2]));
        for q in 0..4 {
            out[r + q] = ((la >> q) & 1) as u8;
            out[r + 4 + q] = ((lb >> q) & 1) as u8;
        }
        r += 8;
    }
    r
}

/// float64 with AVX2+FMA: scores `s0`, `s1` and `Σv²` ([`scores8_f64`]) of the rows
/// `rows[q]` of `xs`, eight at a time. Returns the number of entries done (a multiple of 8).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn scores_f64_avx2(
    xs: &[f64],
    d: usize,
    pair: &Pair<f64>,
    rows: &[u32],
    s0: &mut [f64],
    s1: &mut [f64],
    xn2: &mut [f64],
) -> usize {
    use std::arch::x86_64::*;
    let n = rows.len();
    assert!(s0.len() >= n && s1.len() >= n && xn2.len() >= n);
    let mut r = 0;
    while r + 8 <= n {
        let mut p = [std::ptr::null::<f64>(); 8];
        for q in 0..8 {
            let t = rows[r + q] as usize;
            assert!((t + 1) * d <= xs.len());
            p[q] = xs.as_ptr().add(t * d);
        }
        // Request the lines of the next eight listed rows (prefetches never fault).
        for q in r + 8..(r + 16).min(n) {
            let ahead = xs.as_ptr().wrapping_add(rows[q] as usize * d) as *const i8;
            let mut off = 0;
            while off < d * 8 {
                _mm_prefetch(ahead.wrapping_add(off), _MM_HINT_T0);
                off += 64;
            }
        }
        let s = scores8_f64::<true>(&p, d, pair);
        _mm256_storeu_pd(s0.as_mut_ptr().add(r), s[0]);
        _mm256_storeu_pd(s1.as_mut_ptr().add(r), s[1]);
        _mm256_storeu_pd(s0.as_mut_ptr().add(r + 4), s[2]);
        _mm256_storeu_pd(s1.as_mut_ptr().add(r + 4), s[3]);
        _mm256_storeu_pd(xn2.as_mut_ptr().add(r), s[4]);
        _mm256_storeu_pd(xn2.as_mut_ptr().add(r + 4), s[5]);
        r += 8;
    }
    r
}

/// Scores (widened to `f64`) and `f64` sums of squares of the centred rows `rows[q]` of `xs`,
/// with the label arithmetic of [`labels_of`] (the label is `(s1 < s0)`).
#[inline(always)]
fn scores_of<F: Float>(xs: &[F], d: usize, pair: &Pair<F>, rows: &[u32], s0: &mut [f64], s1: &mut [f64], xn2: &mut [f64]) {
    let n = rows.len();
    let row = |q: usize| {
        let t = rows[q] as usize;
        &xs[t * d..(t + 1) * d]
    };
    let mut r = 0;
    #[cfg(target_arch = "x86_64")]
    if pair.use_fma && pair.hw_fma {
        if let (Some(x64), Some(p64)) = (cast_slice::<F, f64>(xs), cast_pair(pair)) {
            // SAFETY: hw_fma is only set when AVX2 and FMA were detected at run time.
            r = unsafe { scores_f64_avx2(x64, d, p64, rows, s0, s1, xn2) };
        }
    }
    if pair.use_fma {
        while r + 4 <= n {
            let s = pair.scores4_fma::<true>([row(r), row(r + 1), row(r + 2), row(r + 3)]);
            for q in 0..4 {
                (s0[r + q], s1[r + q], xn2[r + q]) = s[q];
            }
            r += 4;
        }
    }
    while r < n {
        (s0[r], s1[r], xn2[r]) = pair.scores1::<true>(row(r));
        r += 1;
    }
}

/// Labels of the `out.len()` rows of `xs` (row-major, `d` features).
#[inline(always)]
pub(crate) fn labels_of<F: Float>(xs: &[F], d: usize, pair: &Pair<F>, out: &mut [u8]) {
    let n = out.len();
    let row = |i: usize| &xs[i * d..(i + 1) * d];
    let mut r = 0;
    #[cfg(target_arch = "x86_64")]
    if pair.use_fma && pair.hw_fma {
        if let (Some(x64), Some(p64)) = (cast_slice::<F, f64>(xs), cast_pair(pair)) {
            // SAFETY: hw_fma is only set when AVX2 and FMA were detected at run time.
            r = unsafe { labels_f64_avx2(x64, d, p64, out) };
        }
    }
    if pair.use_fma {
        while r + 4 <= n {
            let l = pair.label4_fma([row(r), row(r + 1), row(r + 2), row(r + 3)]);
            out[r..r + 4].copy_from_slice(&l);
            r += 4;
        }
    }
    while r < n {
        out[r] = pair.label1(row(r));
        r += 1;
    }
}

/// Adds `(x[t] - mu) * w[t]` (in `F`, then widened) to `sums` for the rows `t` of `rows`, in
/// that order, and `Σ w[t]` to `weight` in that order: per feature, the same additions in the
/// same order as a row-by-row loop, with the accumulators in registers. `C`: `mu` is +0.0
/// (the subtraction is skipped: `x - 0.0 == x`); `U`: the weights of these rows are all 1
/// (the product is skipped: `v * 1 == v`). Both give the same bits as the general case.
/// While adding its `k`-th row, the loop requests the lines of row `k` of `ahead` (the rows
/// the caller reads next; empty: none).
#[inline(always)]
fn accumulate<F: Float, const C: bool, const U: bool>(
    xs: &[F],
    d: usize,
    mu: &[F],
    sw: &[F],
    rows: &[u8],
    sums: &mut [f64],
    weight: &mut f64,
    ahead: &[F],
) {
    #[inline(always)]
    fn term<F: Float, const C: bool, const U: bool>(x: F, m: F, w: F) -> f64 {
        let v = if C { x } else { x - m };
        (if U { v } else { v * w }).as_f64()
    }
    const G: usize = 32;
    const H: usize = 16;
    let sums = &mut sums[..d];
    let mu = &mu[..d];
    let mut g = 0;
    while g + G <= d {
        let mut acc = [0.0f64; G];
        acc.copy_from_slice(&sums[g..g + G]);
        let m: &[F; G] = mu[g..g + G].try_into().expect("G features");
        for (k, &t) in rows.iter().enumerate() {
            if g == 0 {
                prefetch_nth(ahead, d, k);
            }
            let t = t as usize;
            let x: &[F; G] = xs[t * d + g..t * d + g + G].try_into().expect("G features");
            let w = sw[t];
            for f in 0..G {
                acc[f] += term::<F, C, U>(x[f], m[f], w);
            }
        }
        sums[g..g + G].copy_from_slice(&acc);
        g += G;
    }
    while g + H <= d {
        let mut acc = [0.0f64; H];
        acc.copy_from_slice(&sums[g..g + H]);
        let m: &[F; H] = mu[g..g + H].try_into().expect("H features");
        for (k, &t) in rows.iter().enumerate() {
            if g == 0 {
                prefetch_nth(ahead, d, k);
            }
            let t = t as usize;
            let x: &[F; H] = xs[t * d + g..t * d + g + H].try_into().expect("H features");
            let w = sw[t];
            for f in 0..H {
                acc[f] += term::<F, C, U>(x[f], m[f], w);
            }
        }
        sums[g..g + H].copy_from_slice(&acc);
        g += H;
    }
    while g + 4 <= d {
        let mut acc = [0.0f64; 4];
        acc.copy_from_slice(&sums[g..g + 4]);
        let m: &[F; 4] = mu[g..g + 4].try_into().expect("4 features");
        for (k, &t) in rows.iter().enumerate() {
            if g == 0 {
                prefetch_nth(ahead, d, k);
            }
            let t = t as usize;
            let x: &[F; 4] = xs[t * d + g..t * d + g + 4].try_into().expect("4 features");
            let w = sw[t];
            for f in 0..4 {
                acc[f] += term::<F, C, U>(x[f], m[f], w);
            }
        }
        sums[g..g + 4].copy_from_slice(&acc);
        g += 4;
    }
    for f in g..d {
        let mut acc = sums[f];
        for (k, &t) in rows.iter().enumerate() {
            if f == 0 {
                prefetch_nth(ahead, d, k);
            }
            let t = t as usize;
            acc += term::<F, C, U>(xs[t * d + f], mu[f], sw[t]);
        }
        sums[f] = acc;
    }
    // Bounds checked once, so that the sum stays in a register.
    let sw = &sw[..64.min(sw.len())];
    let mut wsum = *weight;
    for &t in rows {
        wsum += sw.get(t as usize).map_or(0.0, |w| w.as_f64());
    }
    *weight = wsum;
}

/// [`accumulate`] with the variant chosen by `centred` and `unit`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn accumulate_any<F: Float>(
    centred: bool,
    unit: bool,
    xs: &[F],
    d: usize,
    mu: &[F],
    sw: &[F],
    rows: &[u8],
    sums: &mut [f64],
    weight: &mut f64,
    ahead: &[F],
) {
    match (centred, unit) {
        (true, true) => accumulate::<F, true, true>(xs, d, mu, sw, rows, sums, weight, ahead),
        (true, false) => accumulate::<F, true, false>(xs, d, mu, sw, rows, sums, weight, ahead),
        (false, true) => accumulate::<F, false, true>(xs, d, mu, sw, rows, sums, weight, ahead),
        (false, false) => accumulate::<F, false, false>(xs, d, mu, sw, rows, sums, weight, ahead),
    }
}

/// Adds the rows of one chunk (the `lc.len() <= 64` rows of `xc`, labels 0/1 in `lc`) to
/// the per-centre sums `s0`, `s1` and `weights`: the rows of each label in row order.
/// Meanwhile the lines of the rows of `next` (the next chunk, or empty) are requested, one
/// row per row added.
#[inline(always)]
fn sum_chunk<F: Float>(
    xc: &[F],
    d: usize,
    swc: &[F],
    pair: &Pair<F>,
    lc: &[u8],
    s0: &mut [f64],
    s1: &mut [f64],
    weights: &mut [f64; 2],
    next: &[F],
) {
    let (mut rows0, mut rows1) = ([0u8; 64], [0u8; 64]);
    let (mut n0, mut n1) = (0, 0);
    for t in 0..lc.len().min(64) {
        // Branch-free: the labels of neighbouring rows are not predictable.
        let l = lc[t];
        rows0[n0] = t as u8;
        rows1[n1] = t as u8;
        n0 += (l == 0) as usize;
        n1 += (l != 0) as usize;
    }
    let unit = swc.iter().all(|&w| w == F::one());
    let [w0, w1] = weights;
    let split = (n0 * d).min(next.len());
    accumulate_any(pair.centred, unit, xc, d, &pair.mu, swc, &rows0[..n0], s0, w0, &next[..split]);
    accumulate_any(pair.centred, unit, xc, d, &pair.mu, swc, &rows1[..n1], s1, w1, &next[split..]);
}

/// Label and accumulate one block of rows (`labels.len()` rows of `xs`): `labels` holds the
/// previous labels on entry (anything not 0/1 counts as changed), the new ones on exit.
#[inline(always)]
fn iter_block_impl<F: Float>(xs: &[F], d: usize, sw: &[F], pair: &Pair<F>, labels: &mut [u8]) -> IterBlock {
    let mut out = IterBlock { sums: vec![0.0; 2 * d], weights: [0.0; 2], changed: 0 };
    let mut new = [0u8; 64];
    let (s0, s1) = out.sums.split_at_mut(d);
    for (c, lc) in labels.chunks_mut(64).enumerate() {
        let m = lc.len();
        let xc = &xs[c * 64 * d..(c * 64 + m) * d];
        let swc = &sw[c * 64..c * 64 + m];
        labels_of(xc, d, pair, &mut new[..m]);
        let mut changed = 0;
        for t in 0..m {
            changed += (new[t] != lc[t]) as usize;
            lc[t] = new[t];
        }
        out.changed += changed;
        sum_chunk(xc, d, swc, pair, lc, s0, s1, &mut out.weights, &[]);
    }
    out
}

/// Partial results of one block of an incremental pass ([`iterate_incr`]).
pub(crate) struct IncrBlock {
    /// A run's first pass (every row scored): the block's per-centre sums `Σ w x` from zero
    /// (`2 d` values, as [`iter_block_impl`] adds them). Later passes: the change of those sums
    /// by the rows whose label changed, added in row order from zero.
    pub sums: Vec<f64>,
    /// Likewise for `Σ w` per centre.
    pub weights: [f64; 2],
    /// Likewise for the rows per centre and the rows with a non-zero weight per centre.
    pub rows: [i64; 2],
    pub nonzero: [i64; 2],
    /// `Σ |w|` of the rows whose label changed (0 in a first pass).
    pub moved: f64,
    /// Rows whose label changed.
    pub changed: usize,
    /// Rows scored by the kernel (the others were certified).
    pub scored: usize,
    /// The largest `f64` sum of squares of the scored rows.
    pub xn2_max: f64,
}

/// A primed pass scores every row of a block when more than `1 / DENSE_FRACTION` of them are
/// not certified.
const DENSE_FRACTION: usize = 2;

/// Moves the bounds (`uc`, `lo`) of a chunk's rows (labels `lc`, at most 64, the first at
/// position `base` of the block) by `cert`'s shifts and writes the positions of the rows
/// they do not certify to `todo[nt..]`, in row order; returns the new `nt`. `todo` has room
/// for every row of the block.
#[inline(always)]
fn uncertified(cert: &Certifier, lc: &[u8], uc: &mut [f64], lo: &mut [f64], base: usize, todo: &mut [u32], mut nt: usize) -> usize {
    let m = lc.len().min(64);
    let mut ok = [0u8; 64];
    cert.update(&lc[..m], &mut uc[..m], &mut lo[..m], &mut ok[..m]);
    for (g, oks) in ok[..m].chunks(8).enumerate() {
        // Eight certified rows at once (the common case once the centres settle).
        if oks.len() == 8 && oks.iter().all(|&c| c == 1) {
            continue;
        }
        for (q, &c) in oks.iter().enumerate() {
            // Branch-free: written always, kept when not certified.
            todo[nt] = (base + g * 8 + q) as u32;
            nt += (c == 0) as usize;
        }
    }
    nt
}

/// Listed rows a primed pass scores, settles and applies at a time (their values stay in
/// cache from the scores to the sums).
const BATCH: usize = 128;

/// One block of [`iterate_incr`] (`labels.len()` rows of `xs`, their bounds `up`, `lo`).
///
/// Unprimed `cert` (a run's first pass): every row is scored, its label and bounds set, and
/// every row added to the block's sums from zero, chunk by chunk while its rows are in cache,
/// in the order of [`iter_block_impl`] (the same bits). Primed: the bounds of every row are
/// moved first and the rows they do not certify listed (a certified row keeps the label the
/// kernel would give it); only the listed rows are read, scored eight at a time with their
/// lines requested ahead; a row whose label changed is subtracted from its old centre's sums
/// and added to its new one's, in row order from zero (its values in cache).
#[inline(always)]
fn iter_block_incr_impl<F: Float>(
    xs: &[F],
    d: usize,
    sw: &[F],
    pair: &Pair<F>,
    cert: &Certifier,
    labels: &mut [u8],
    up: &mut [f64],
    lo: &mut [f64],
) -> IncrBlock {
    let mut out = IncrBlock {
        sums: vec![0.0; 2 * d],
        weights: [0.0; 2],
        rows: [0; 2],
        nonzero: [0; 2],
        moved: 0.0,
        changed: 0,
        scored: 0,
        xn2_max: 0.0,
    };
    let mu = &pair.mu[..d];
    let (sa, sb) = out.sums.split_at_mut(d);
    if !cert.primed {
        let all: Vec<u32> = (0..64u32).collect();
        let (mut s0, mut s1, mut xn2) = ([0.0f64; 64], [0.0f64; 64], [0.0f64; 64]);
        let (mut nu, mut nl, mut nlab) = ([0.0f64; 64], [0.0f64; 64], [0u8; 64]);
        let next_chunk = |c: usize| &xs[((c + 1) * 64 * d).min(xs.len())..((c + 2) * 64 * d).min(xs.len())];
        for (c, ((lc, uc), lw)) in labels.chunks_mut(64).zip(up.chunks_mut(64)).zip(lo.chunks_mut(64)).enumerate() {
            let m = lc.len();
            let xc = &xs[c * 64 * d..(c * 64 + m) * d];
            let swc = &sw[c * 64..c * 64 + m];
            scores_of(xc, d, pair, &all[..m], &mut s0, &mut s1, &mut xn2);
            cert.settle(&s0, &s1, &xn2, &mut nlab[..m], &mut nu, &mut nl);
            for t in 0..m {
                out.xn2_max = out.xn2_max.max(xn2[t]);
                out.changed += (nlab[t] != lc[t]) as usize;
            }
            lc.copy_from_slice(&nlab[..m]);
            uc.copy_from_slice(&nu[..m]);
            lw.copy_from_slice(&nl[..m]);
            out.scored += m;
            sum_chunk(xc, d, swc, pair, lc, sa, sb, &mut out.weights, next_chunk(c));
            for (&l, &w) in lc.iter().zip(swc) {
                let j = (l & 1) as usize;
                out.rows[j] += 1;
                out.nonzero[j] += (w != F::zero()) as i64;
            }
        }
        return out;
    }
    let mut todo = vec![0u32; labels.len()];
    let mut nt = 0;
    for (c, ((lc, uc), lw)) in labels.chunks(64).zip(up.chunks_mut(64)).zip(lo.chunks_mut(64)).enumerate() {
        nt = uncertified(cert, lc, uc, lw, c * 64, &mut todo, nt);
    }
    if nt * DENSE_FRACTION > labels.len() {
        // Most rows to read anyway: read the block in order (streaming beats scattered
        // reads), which also makes every row's bounds tight again.
        for (t, v) in todo.iter_mut().enumerate() {
            *v = t as u32;
        }
        nt = labels.len();
    }
    out.scored = nt;
    let (mut s0, mut s1, mut xn2) = ([0.0f64; BATCH], [0.0f64; BATCH], [0.0f64; BATCH]);
    let (mut nu, mut nl, mut nlab) = ([0.0f64; BATCH], [0.0f64; BATCH], [0u8; BATCH]);
    for list in todo[..nt].chunks(BATCH) {
        let k = list.len();
        scores_of(xs, d, pair, list, &mut s0, &mut s1, &mut xn2);
        cert.settle(&s0, &s1, &xn2, &mut nlab[..k], &mut nu, &mut nl);
        apply(xs, d, sw, mu, list, &nlab[..k], &nu, &nl, labels, up, lo, &mut out);
    }
    out
}

/// Sets the labels and bounds of the scored rows `list` (new labels `nlab`, bounds `nu`,
/// `nl`) and moves the terms of the rows whose label changed between the two centres' sums
/// of `out`, in row order.
#[inline(always)]
fn apply<F: Float>(
    xs: &[F],
    d: usize,
    sw: &[F],
    mu: &[F],
    list: &[u32],
    nlab: &[u8],
    nu: &[f64],
    nl: &[f64],
    labels: &mut [u8],
    up: &mut [f64],
    lo: &mut [f64],
    out: &mut IncrBlock,
) {
    let (sa, sb) = out.sums.split_at_mut(d);
    for (q, &t) in list.iter().enumerate() {
        let t = t as usize;
        up[t] = nu[q];
        lo[t] = nl[q];
        let (new, old) = (nlab[q], labels[t]);
        if new == old {
            continue;
        }
        labels[t] = new;
        out.changed += 1;
        // Moved from `old` to `new`: the term `(x - mu) * w` of `accumulate`, the same bits.
        let w = sw[t];
        let x = &xs[t * d..(t + 1) * d];
        let (add, sub) = if new == 1 { (&mut *sb, &mut *sa) } else { (&mut *sa, &mut *sb) };
        for f in 0..d {
            let v = ((x[f] - mu[f]) * w).as_f64();
            add[f] += v;
            sub[f] -= v;
        }
        let (n, o) = (new as usize & 1, old as usize & 1);
        let wf = w.as_f64();
        out.weights[n] += wf;
        out.weights[o] -= wf;
        out.rows[n] += 1;
        out.rows[o] -= 1;
        let nz = (w != F::zero()) as i64;
        out.nonzero[n] += nz;
        out.nonzero[o] -= nz;
        out.moved += wf.abs();
    }
}

/// float64 with AVX2: `out[t] = sq_dist_unrolled(x[t] - mu, centers[labels[t]])` for rows
/// `t` four at a time (lanes = rows; each lane computes scikit-learn's `_euclidean_dense_dense`
/// order: per group of four features `((d0² + d1²) + d2²) + d3²` added to the running
/// sum, then the remaining features one by one; multiplies and adds separately rounded, as
/// the scalar code). Returns the number of rows done (a multiple of 4).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dists_f64_avx2(xs: &[f64], d: usize, mu: &[f64], centers: &[f64], labels: &[u8], out: &mut [f64]) -> usize {
    use std::arch::x86_64::*;
    let n = labels.len();
    assert!(n * d <= xs.len() && centers.len() >= 2 * d && mu.len() >= d && out.len() >= n);
    let (c0, c1, mp) = (centers.as_ptr(), centers.as_ptr().add(d), mu.as_ptr());
    let full = d / 4 * 4;
    let mut r = 0;
    while r + 4 <= n {
        // In bounds: r + 3 < n and n * d <= xs.len().
        let p = [xs.as_ptr().add(r * d), xs.as_ptr().add((r + 1) * d), xs.as_ptr().add((r + 2) * d), xs.as_ptr().add((r + 3) * d)];
        // all ones in the lanes of the rows labelled 1 (labels are 0 or 1)
        let lane = |q: usize| -((labels[r + q] & 1) as i64);
        let mask = _mm256_castsi256_pd(_mm256_set_epi64x(lane(3), lane(2), lane(1), lane(0)));
        let centre = |f: usize| _mm256_blendv_pd(_mm256_broadcast_sd(&*c0.add(f)), _mm256_broadcast_sd(&*c1.add(f)), mask);
        let mut res = _mm256_setzero_pd();
        let mut f = 0;
        while f < full {
            let v = centred_4x4_transposed(p, f, _mm256_loadu_pd(mp.add(f)));
            let d0 = _mm256_sub_pd(v[0], centre(f));
            let d1 = _mm256_sub_pd(v[1], centre(f + 1));
            let d2 = _mm256_sub_pd(v[2], centre(f + 2));
            let d3 = _mm256_sub_pd(v[3], centre(f + 3));
            let s01 = _mm256_add_pd(_mm256_mul_pd(d0, d0), _mm256_mul_pd(d1, d1));
            let s012 = _mm256_add_pd(s01, _mm256_mul_pd(d2, d2));
            res = _mm256_add_pd(res, _mm256_add_pd(s012, _mm256_mul_pd(d3, d3)));
            f += 4;
        }
        while f < d {
            let m = *mp.add(f);
            let v = _mm256_set_pd(*p[3].add(f) - m, *p[2].add(f) - m, *p[1].add(f) - m, *p[0].add(f) - m);
            let dd = _mm256_sub_pd(v, centre(f));
            res = _mm256_add_pd(res, _mm256_mul_pd(dd, dd));
            f += 1;
        }
        _mm256_storeu_pd(out.as_mut_ptr().add(r), res);
        r += 4;
    }
    r
}

#[inline(always)]
fn final_block_impl<F: Float>(
    xs: &[F],
    d: usize,
    sw: &[F],
    pair: &Pair<F>,
    centers: &[F],
    labels: &mut [u8],
    relabel: bool,
) -> FinalBlock {
    final_dists(xs, d, sw, pair, centers, labels, relabel)
}

/// Inertia (all rows, per label) and label counts of a block with its final labels.
#[inline(always)]
fn final_dists<F: Float>(xs: &[F], d: usize, sw: &[F], pair: &Pair<F>, centers: &[F], labels: &mut [u8], relabel: bool) -> FinalBlock {
    let mut out = FinalBlock { inertia: 0.0, per_label: [0.0; 2], counts: [0; 2] };
    let mut row = vec![F::zero(); d];
    let mut dist = [F::zero(); 64];
    for (c, lc) in labels.chunks_mut(64).enumerate() {
        let m = lc.len();
        let xc = &xs[c * 64 * d..(c * 64 + m) * d];
        if relabel {
            // Labels then distances of the chunk while its rows are in cache.
            labels_of(xc, d, pair, lc);
        }
        let lc = &*lc;
        let mut done = 0;
        #[cfg(target_arch = "x86_64")]
        if pair.hw_fma {
            if let (Some(x64), Some(mu64), Some(c64)) =
                (cast_slice::<F, f64>(xc), cast_slice::<F, f64>(&pair.mu), cast_slice::<F, f64>(centers))
            {
                let mut d64 = [0.0f64; 64];
                // SAFETY: hw_fma is only set when AVX2 and FMA were detected at run time.
                done = unsafe { dists_f64_avx2(x64, d, mu64, c64, lc, &mut d64) };
                for (o, &v) in dist.iter_mut().zip(&d64[..done]) {
                    *o = F::from_f64(v);
                }
            }
        }
        for t in done..m {
            let l = lc[t] as usize;
            for ((r, &v), &mm) in row.iter_mut().zip(&xc[t * d..(t + 1) * d]).zip(&pair.mu) {
                *r = v - mm;
            }
            dist[t] = sq_dist_unrolled(&row, &centers[l * d..(l + 1) * d]);
        }
        for t in 0..m {
            let l = lc[t] as usize;
            let v = (dist[t] * sw[c * 64 + t]).as_f64();
            out.inertia += v;
            out.per_label[l] += v;
            out.counts[l] += 1;
        }
    }
    out
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn iter_block_fma<F: Float>(xs: &[F], d: usize, sw: &[F], pair: &Pair<F>, labels: &mut [u8]) -> IterBlock {
    iter_block_impl(xs, d, sw, pair, labels)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn final_block_fma<F: Float>(
    xs: &[F],
    d: usize,
    sw: &[F],
    pair: &Pair<F>,
    centers: &[F],
    labels: &mut [u8],
    relabel: bool,
) -> FinalBlock {
    final_block_impl(xs, d, sw, pair, centers, labels, relabel)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn iter_block_incr_fma<F: Float>(
    xs: &[F],
    d: usize,
    sw: &[F],
    pair: &Pair<F>,
    cert: &Certifier,
    labels: &mut [u8],
    up: &mut [f64],
    lo: &mut [f64],
) -> IncrBlock {
    iter_block_incr_impl(xs, d, sw, pair, cert, labels, up, lo)
}

fn iter_block_incr<F: Float>(
    xs: &[F],
    d: usize,
    sw: &[F],
    pair: &Pair<F>,
    cert: &Certifier,
    labels: &mut [u8],
    up: &mut [f64],
    lo: &mut [f64],
) -> IncrBlock {
    #[cfg(target_arch = "x86_64")]
    if pair.hw_fma {
        // SAFETY: hw_fma is only set when AVX2 and FMA were detected at run time.
        return unsafe { iter_block_incr_fma(xs, d, sw, pair, cert, labels, up, lo) };
    }
    iter_block_incr_impl(xs, d, sw, pair, cert, labels, up, lo)
}
fn iter_block<F: Float>(xs: &[F], d: usize, sw: &[F], pair: &Pair<F>, labels: &mut [u8]) -> IterBlock {
    #[cfg(target_arch = "x86_64")]
    if pair.hw_fma {
        // SAFETY: hw_fma is only set when AVX2 and FMA were detected at run time.
        return unsafe { iter_block_fma(xs, d, sw, pair, labels) };
    }
    iter_block_impl(xs, d, sw, pair, labels)
}

#[allow(clippy::too_many_arguments)]
fn final_block<F: Float>(
    xs: &[F],
    d: usize,
    sw: &[F],
    pair: &Pair<F>,
    centers: &[F],
    labels: &mut [u8],
    relabel: bool,
) -> FinalBlock {
    #[cfg(target_arch = "x86_64")]
    if pair.hw_fma {
        // SAFETY: as above.
        return unsafe { final_block_fma(xs, d, sw, pair, centers, labels, relabel) };
    }
    final_block_impl(xs, d, sw, pair, centers, labels, relabel)
}

/// One Lloyd E-step over the cluster's rows (the `labels.len()` rows of `xs`, weights `sw`)
/// with the per-centre sums of the M-step:
/// `(Σ w x per centre (2 d), Σ w per centre, rows whose label changed)`.
pub(crate) fn iterate<F: Float>(xs: &[F], d: usize, sw: &[F], pair: &Pair<F>, labels: &mut [u8]) -> (Vec<f64>, [f64; 2], usize) {
    let m = labels.len();
    let (xs, sw) = (&xs[..m * d], &sw[..m]);
    let blocks: Vec<IterBlock> = labels
        .par_chunks_mut(BLOCK_ROWS)
        .enumerate()
        .map(|(b, lc)| {
            let r = b * BLOCK_ROWS;
            iter_block(&xs[r * d..(r + lc.len()) * d], d, &sw[r..r + lc.len()], pair, lc)
        })
        .collect();
    let mut sums = vec![0.0f64; 2 * d];
    let mut weights = [0.0f64; 2];
    let mut changed = 0;
    for b in &blocks {
        for (a, &v) in sums.iter_mut().zip(&b.sums) {
            *a += v;
        }
        weights[0] += b.weights[0];
        weights[1] += b.weights[1];
        changed += b.changed;
    }
    (sums, weights, changed)
}

/// Final pass: optionally relabel with `centers`, then the inertia (all rows, and per label)
/// and the label counts, each merged in block order.
#[allow(clippy::too_many_arguments)]
pub(crate) fn finalize<F: Float>(
    xs: &[F],
    d: usize,
    sw: &[F],
    pair: &Pair<F>,
    centers: &[F],
    labels: &mut [u8],
    relabel: bool,
) -> FinalBlock {
    let m = labels.len();
    let (xs, sw) = (&xs[..m * d], &sw[..m]);
    let blocks: Vec<FinalBlock> = labels
        .par_chunks_mut(BLOCK_ROWS)
        .enumerate()
        .map(|(b, lc)| {
            let r = b * BLOCK_ROWS;
            final_block(&xs[r * d..(r + lc.len()) * d], d, &sw[r..r + lc.len()], pair, centers, lc, relabel)
        })
        .collect();
    let mut out = FinalBlock { inertia: 0.0, per_label: [0.0; 2], counts: [0; 2] };
    for b in &blocks {
        out.inertia += b.inertia;
        out.per_label[0] += b.per_label[0];
        out.per_label[1] += b.per_label[1];
        out.counts[0] += b.counts[0];
        out.counts[1] += b.counts[1];
    }
    out
}

/// What an incremental pass did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PassStats {
    /// Rows scored by the kernel.
    pub scored: usize,
    /// The largest `f64` sum of squares of the scored rows.
    pub xn2_max: f64,
}

/// The running per-centre sums of a run with incremental passes: the sums of the current
/// labels, up to the rounding of the updates.
#[derive(Debug, Clone)]
pub(crate) struct Running {
    /// `Σ w x` per centre (`2 d`).
    pub sums: Vec<f64>,
    /// `Σ w` per centre.
    pub weights: [f64; 2],
    /// Rows per centre.
    pub rows: [i64; 2],
    /// Rows with a non-zero weight per centre (none: the centre's weight is exactly 0).
    pub nonzero: [i64; 2],
    /// `Σ |w|` of the rows moved since the sums were last computed from zero.
    pub moved: f64,
}

/// One Lloyd E-step with the `bounds` of the rows (see `bounds.rs` and
/// [`iter_block_incr_impl`]), updating `run`. Unprimed `cert`: `run` is set to the sums of
/// every row from zero, the bits of [`iterate`]. Primed: the blocks' changes, merged in block
/// order, are added to `run` (deterministic: the same bits for any number of threads).
/// Returns the rows whose label changed and what the pass did.
pub(crate) fn iterate_incr<F: Float>(
    xs: &[F],
    d: usize,
    sw: &[F],
    pair: &Pair<F>,
    cert: &Certifier,
    labels: &mut [u8],
    bounds: &mut Bounds,
    run: &mut Running,
) -> (usize, PassStats) {
    let m = labels.len();
    let (xs, sw) = (&xs[..m * d], &sw[..m]);
    let (up, lo) = bounds.halves(m);
    let blocks: Vec<IncrBlock> = labels
        .par_chunks_mut(BLOCK_ROWS)
        .zip(up.par_chunks_mut(BLOCK_ROWS))
        .zip(lo.par_chunks_mut(BLOCK_ROWS))
        .enumerate()
        .map(|(b, ((lc, uc), lw))| {
            let r = b * BLOCK_ROWS;
            iter_block_incr(&xs[r * d..(r + lc.len()) * d], d, &sw[r..r + lc.len()], pair, cert, lc, uc, lw)
        })
        .collect();
    let mut delta = vec![0.0f64; 2 * d];
    let mut weights = [0.0f64; 2];
    let mut stats = PassStats { scored: 0, xn2_max: 0.0 };
    let mut changed = 0;
    let (mut rows, mut nonzero, mut moved) = ([0i64; 2], [0i64; 2], 0.0f64);
    for b in &blocks {
        for (a, &v) in delta.iter_mut().zip(&b.sums) {
            *a += v;
        }
        for j in 0..2 {
            weights[j] += b.weights[j];
            rows[j] += b.rows[j];
            nonzero[j] += b.nonzero[j];
        }
        moved += b.moved;
        changed += b.changed;
        stats.scored += b.scored;
        stats.xn2_max = stats.xn2_max.max(b.xn2_max);
    }
    if cert.primed {
        for (a, &v) in run.sums.iter_mut().zip(&delta) {
            *a += v;
        }
        for j in 0..2 {
            run.weights[j] += weights[j];
            run.rows[j] += rows[j];
            run.nonzero[j] += nonzero[j];
        }
        run.moved += moved;
    } else {
        *run = Running { sums: delta, weights, rows, nonzero, moved: 0.0 };
    }
    (changed, stats)
}

/// The per-centre sums and weights of the current `labels` from zero, without relabelling:
/// the bits [`iterate`] gives when it finds these labels.
pub(crate) fn sums_of_labels<F: Float>(xs: &[F], d: usize, sw: &[F], pair: &Pair<F>, labels: &[u8]) -> (Vec<f64>, [f64; 2]) {
    let m = labels.len();
    let (xs, sw) = (&xs[..m * d], &sw[..m]);
    let blocks: Vec<IterBlock> = labels
        .par_chunks(BLOCK_ROWS)
        .enumerate()
        .map(|(b, lc)| {
            let r = b * BLOCK_ROWS;
            sums_block(&xs[r * d..(r + lc.len()) * d], d, &sw[r..r + lc.len()], pair, lc)
        })
        .collect();
    let mut sums = vec![0.0f64; 2 * d];
    let mut weights = [0.0f64; 2];
    for b in &blocks {
        for (a, &v) in sums.iter_mut().zip(&b.sums) {
            *a += v;
        }
        weights[0] += b.weights[0];
        weights[1] += b.weights[1];
    }
    (sums, weights)
}

/// One block of [`sums_of_labels`].
fn sums_block<F: Float>(xs: &[F], d: usize, sw: &[F], pair: &Pair<F>, labels: &[u8]) -> IterBlock {
    let mut out = IterBlock { sums: vec![0.0; 2 * d], weights: [0.0; 2], changed: 0 };
    let (s0, s1) = out.sums.split_at_mut(d);
    let next_chunk = |c: usize| &xs[((c + 1) * 64 * d).min(xs.len())..((c + 2) * 64 * d).min(xs.len())];
    for (c, lc) in labels.chunks(64).enumerate() {
        let m = lc.len();
        sum_chunk(&xs[c * 64 * d..(c * 64 + m) * d], d, &sw[c * 64..c * 64 + m], pair, lc, s0, s1, &mut out.weights, next_chunk(c));
    }
    out
}

