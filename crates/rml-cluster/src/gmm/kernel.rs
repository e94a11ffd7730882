//! The fused per-row E-step (+ M-step accumulation) of the diagonal Gaussian mixture.
//!
//! Per row: weighted log-probabilities for all components (feature-major tables so the inner
//! loop runs over components and vectorises), a log-sum-exp with scikit-learn's formulation
//! (`max + ln(m) + ln_1p(sum of the other exps / m)`, `m` = number of maximal entries), the
//! responsibilities, and the M-step sums. The code is written once and compiled twice: with
//! AVX2 + FMA (chosen at run time when the CPU has them) and for the baseline target.

use super::{Prepared, Sums};
use rml_core::Float;

/// `a * b + c`, fused or not.
trait MulAdd {
    fn fma(a: f64, b: f64, c: f64) -> f64;
}

struct Plain;
impl MulAdd for Plain {
    #[inline(always)]
    fn fma(a: f64, b: f64, c: f64) -> f64 {
        a * b + c
    }
}

#[cfg(target_arch = "x86_64")]
struct Fused;
#[cfg(target_arch = "x86_64")]
impl MulAdd for Fused {
    #[inline(always)]
    fn fma(a: f64, b: f64, c: f64) -> f64 {
        a.mul_add(b, c)
    }
}

/// `exp(x)` for the E-step, branch-free so a loop over it vectorises. Relative error below
/// 4e-16 on `[-708, 709]`; returns exactly 0 below -708 (where the true value is a subnormal
/// under 3.3e-308) and exactly 1 at 0.
#[inline(always)]
fn exp_impl<M: MulAdd>(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-01;
    const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
    const SHIFT: f64 = 6_755_399_441_055_744.0; // 1.5 * 2^52: adding it rounds to an integer
    let xc = x.clamp(-708.0, 709.0);
    let t = M::fma(xc, LOG2E, SHIFT);
    let n = t - SHIFT;
    let r = M::fma(-n, LN2_HI, xc);
    let r = M::fma(-n, LN2_LO, r);
    // Taylor series of exp on |r| <= ln(2)/2, degree 12 (truncation < 2e-16 relative).
    let mut p = 1.0 / 479_001_600.0;
    p = M::fma(p, r, 1.0 / 39_916_800.0);
    p = M::fma(p, r, 1.0 / 3_628_800.0);
    p = M::fma(p, r, 1.0 / 362_880.0);
    p = M::fma(p, r, 1.0 / 40_320.0);
    p = M::fma(p, r, 1.0 / 5_040.0);
    p = M::fma(p, r, 1.0 / 720.0);
    p = M::fma(p, r, 1.0 / 120.0);
    p = M::fma(p, r, 1.0 / 24.0);
    p = M::fma(p, r, 1.0 / 6.0);
    p = M::fma(p, r, 0.5);
    p = M::fma(p, r, 1.0);
    p = M::fma(p, r, 1.0);
    // 2^n from the low bits of t (n + 1023 is in [1, 2046] after the clamp).
    let scale = f64::from_bits(t.to_bits().wrapping_add(1023) << 52);
    let y = p * scale;
    if x < -708.0 {
        0.0
    } else {
        y
    }
}

/// [`exp_impl`] on the baseline target (exposed for tests).
pub fn exp_nonpositive(x: f64) -> f64 {
    exp_impl::<Plain>(x)
}

/// Components per register tile (two AVX2 vectors of f64).
pub(crate) const TILE: usize = 8;
/// Rows per block: each tile of the tables is loaded once per block.
const ROWS: usize = 4;

/// Weighted log-probabilities of `RR` rows into `lp[r * kp + c]`; `xb[j * RR + r]` and
/// `x2b` receive the rows (feature-major) and their squares in f64.
#[inline(always)]
fn weighted_log_prob<F: Float, M: MulAdd, const RR: usize>(
    rows: &[F],
    prep: &Prepared,
    xb: &mut [f64],
    x2b: &mut [f64],
    lp: &mut [f64],
) {
    let (kp, d) = (prep.kp, prep.d);
    for r in 0..RR {
        for (j, &v) in rows[r * d..(r + 1) * d].iter().enumerate() {
            let v = v.as_f64();
            xb[j * RR + r] = v;
            x2b[j * RR + r] = v * v;
        }
    }
    for t in (0..kp).step_by(TILE) {
        let c0 = &prep.cst[t..t + TILE];
        let mut acc = [[0.0f64; TILE]; RR];
        for a in acc.iter_mut() {
            a.copy_from_slice(c0);
        }
        for j in 0..d {
            let mt = &prep.m[j * kp + t..j * kp + t + TILE];
            let ht = &prep.h[j * kp + t..j * kp + t + TILE];
            let xj = &xb[j * RR..j * RR + RR];
            let x2j = &x2b[j * RR..j * RR + RR];
            for r in 0..RR {
                let (xv, x2v) = (xj[r], x2j[r]);
                for c in 0..TILE {
                    acc[r][c] = M::fma(x2v, ht[c], M::fma(xv, mt[c], acc[r][c]));
                }
            }
        }
        for (r, a) in acc.iter().enumerate() {
            lp[r * kp + t..r * kp + t + TILE].copy_from_slice(a);
        }
    }
}

/// Replace `acc` by `exp(acc - max)` and return `(lse, 1 / sum of exps, argmax)` with
/// scikit-learn's log-sum-exp formulation; the argmax (first maximum) is over the first `k`
/// entries (the rest is padding at -inf).
#[inline(always)]
fn normalise<M: MulAdd, const ARG: bool>(acc: &mut [f64], k: usize) -> (f64, f64, usize) {
    // Maximum over the first k entries: lane-wise over tiles (vectorises), then 8 lanes.
    // Padding entries are -inf, so the lanes may run over the whole padded row.
    let mut lanes = [f64::NEG_INFINITY; TILE];
    let mut nan = false;
    for tile in acc.chunks_exact(TILE) {
        for c in 0..TILE {
            let a = tile[c];
            nan |= a.is_nan();
            lanes[c] = if a > lanes[c] { a } else { lanes[c] };
        }
    }
    let mut mx = f64::NEG_INFINITY;
    for &l in lanes.iter() {
        if l > mx {
            mx = l;
        }
    }
    let mut arg = 0usize;
    if ARG || nan {
        mx = f64::NEG_INFINITY;
        for (c, &a) in acc[..k].iter().enumerate() {
            if a > mx {
                mx = a;
                arg = c;
            }
        }
    }
    if !mx.is_finite() || nan {
        // Every component has -inf (or +inf/NaN) log-probability: mirror numpy's result.
        let lse = if mx == f64::NEG_INFINITY { f64::NEG_INFINITY } else { mx };
        for a in acc.iter_mut() {
            *a = f64::NAN;
        }
        return (if nan { f64::NAN } else { lse }, f64::NAN, arg);
    }
    // exp in its own loop (no reduction in it, so it vectorises); exactly 1.0 at the maxima.
    let mut m_lanes = [0.0f64; TILE];
    let mut o_lanes = [0.0f64; TILE];
    for tile in acc.chunks_exact_mut(TILE) {
        for c in 0..TILE {
            let e = exp_impl::<M>(tile[c] - mx);
            tile[c] = e;
            let is_max = e == 1.0;
            m_lanes[c] += if is_max { 1.0 } else { 0.0 };
            o_lanes[c] += if is_max { 0.0 } else { e };
        }
    }
    let mut others = 0.0;
    let mut m = 0.0;
    for c in 0..TILE {
        others += o_lanes[c];
        m += m_lanes[c];
    }
    let lse = if m == 1.0 { (others).ln_1p() + mx } else { (others / m).ln_1p() + m.ln() + mx };
    (lse, 1.0 / (m + others), arg)
}

#[inline(always)]
fn accumulate_block<F: Float, M: MulAdd, const RR: usize>(
    rows: &[F],
    prep: &Prepared,
    s: &mut Sums,
    xb: &mut [f64],
    x2b: &mut [f64],
    lp: &mut [f64],
) {
    let (k, kp, d) = (prep.k, prep.kp, prep.d);
    weighted_log_prob::<F, M, RR>(rows, prep, xb, x2b, lp);
    for r in 0..RR {
        let row = &mut lp[r * kp..(r + 1) * kp];
        let (lse, inv, _) = normalise::<M, false>(row, k);
        s.lse += lse;
        for (a, nk) in row.iter_mut().zip(s.nk.iter_mut()) {
            *a *= inv;
            *nk += *a;
        }
    }
    for t in (0..kp).step_by(TILE) {
        for j in 0..d {
            let mut sx = [0.0f64; TILE];
            let mut sxx = [0.0f64; TILE];
            sx.copy_from_slice(&s.sx[j * kp + t..j * kp + t + TILE]);
            sxx.copy_from_slice(&s.sxx[j * kp + t..j * kp + t + TILE]);
            let xj = &xb[j * RR..j * RR + RR];
            let x2j = &x2b[j * RR..j * RR + RR];
            for r in 0..RR {
                let rt = &lp[r * kp + t..r * kp + t + TILE];
                let (xv, x2v) = (xj[r], x2j[r]);
                for c in 0..TILE {
                    sx[c] = M::fma(rt[c], xv, sx[c]);
                    sxx[c] = M::fma(rt[c], x2v, sxx[c]);
                }
            }
            s.sx[j * kp + t..j * kp + t + TILE].copy_from_slice(&sx);
            s.sxx[j * kp + t..j * kp + t + TILE].copy_from_slice(&sxx);
        }
    }
}

#[inline(always)]
fn accumulate_impl<F: Float, M: MulAdd>(xs: &[F], prep: &Prepared, s: &mut Sums) {
    let (kp, d) = (prep.kp, prep.d);
    if d == 0 {
        return;
    }
    let mut xb = vec![0.0; d * ROWS];
    let mut x2b = vec![0.0; d * ROWS];
    let mut lp = vec![0.0; kp * ROWS];
    let mut blocks = xs.chunks_exact(d * ROWS);
    for rows in &mut blocks {
        accumulate_block::<F, M, ROWS>(rows, prep, s, &mut xb, &mut x2b, &mut lp);
    }
    for row in blocks.remainder().chunks_exact(d) {
        accumulate_block::<F, M, 1>(row, prep, s, &mut xb, &mut x2b, &mut lp);
    }
}

#[inline(always)]
fn estimate_block<F: Float, M: MulAdd, const RR: usize>(
    rows: &[F],
    prep: &Prepared,
    bufs: (&mut [f64], &mut [f64], &mut [f64]),
    lpn: &mut [f64],
    labels: &mut [i64],
    resp: Option<&mut [f64]>,
) {
    let (k, kp) = (prep.k, prep.kp);
    let (xb, x2b, lp) = bufs;
    weighted_log_prob::<F, M, RR>(rows, prep, xb, x2b, lp);
    let mut resp = resp;
    for r in 0..RR {
        let row = &mut lp[r * kp..(r + 1) * kp];
        let (lse, inv, arg) = normalise::<M, true>(row, k);
        lpn[r] = lse;
        labels[r] = arg as i64;
        if let Some(out) = resp.as_deref_mut() {
            for (o, &a) in out[r * k..(r + 1) * k].iter_mut().zip(row.iter()) {
                *o = a * inv;
            }
        }
    }
}

#[inline(always)]
fn estimate_impl<F: Float, M: MulAdd>(
    xs: &[F],
    prep: &Prepared,
    lpn: &mut [f64],
    labels: &mut [i64],
    mut resp: Option<&mut [f64]>,
) {
    let (k, kp, d) = (prep.k, prep.kp, prep.d.max(1));
    let mut xb = vec![0.0; d * ROWS];
    let mut x2b = vec![0.0; d * ROWS];
    let mut lp = vec![0.0; kp * ROWS];
    let n = xs.len() / d;
    let mut i = 0;
    while i < n {
        let rr = if n - i >= ROWS { ROWS } else { 1 };
        let rows = &xs[i * d..(i + rr) * d];
        let r = resp.as_deref_mut().map(|r| &mut r[i * k..(i + rr) * k]);
        let bufs = (&mut xb[..], &mut x2b[..], &mut lp[..]);
        if rr == ROWS {
            estimate_block::<F, M, ROWS>(rows, prep, bufs, &mut lpn[i..i + rr], &mut labels[i..i + rr], r);
        } else {
            estimate_block::<F, M, 1>(rows, prep, bufs, &mut lpn[i..i + rr], &mut labels[i..i + rr], r);
        }
        i += rr;
    }
}

#[cfg(target_arch = "x86_64")]
fn has_avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn accumulate_avx2<F: Float>(xs: &[F], prep: &Prepared, s: &mut Sums) {
    accumulate_impl::<F, Fused>(xs, prep, s)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn estimate_avx2<F: Float>(
    xs: &[F],
    prep: &Prepared,
    lpn: &mut [f64],
    labels: &mut [i64],
    resp: Option<&mut [f64]>,
) {
    estimate_impl::<F, Fused>(xs, prep, lpn, labels, resp)
}

/// E-step over the rows of `xs` (row-major, `prep.d` columns) adding the M-step sums to `s`.
pub(crate) fn accumulate<F: Float>(xs: &[F], prep: &Prepared, s: &mut Sums) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above).
        unsafe { accumulate_avx2(xs, prep, s) };
        return;
    }
    accumulate_impl::<F, Plain>(xs, prep, s)
}

/// E-step only: `lpn[i] = log p(x_i)`, `labels[i] = argmax`, optional responsibilities.
pub(crate) fn estimate<F: Float>(
    xs: &[F],
    prep: &Prepared,
    lpn: &mut [f64],
    labels: &mut [i64],
    resp: Option<&mut [f64]>,
) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above).
        unsafe { estimate_avx2(xs, prep, lpn, labels, resp) };
        return;
    }
    estimate_impl::<F, Plain>(xs, prep, lpn, labels, resp)
}
