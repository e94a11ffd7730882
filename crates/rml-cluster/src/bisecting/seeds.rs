//! The random initialisation of one bisection, as numpy draws it: scikit-learn's
//! `_init_centroids(init="random")` calls `RandomState.choice(m, 2, replace=False,
//! p=w / w.sum())` on the cluster's weights. The uniform draws stay in Python (numpy's own
//! generator, so the stream is consumed exactly as scikit-learn consumes it); this module
//! does the `O(m)` rest of `choice` without copying the weights: the probabilities
//! `w / w.sum()` (numpy's pairwise sum, division in the weights' dtype, widened to float64),
//! numpy's validation of `p`, then for each uniform `x` the position
//! `cdf.searchsorted(x, side="right")` with `cdf = cumsum(p) / cumsum(p)[-1]` (a sequential
//! cumulative sum and an elementwise division, as numpy computes them).

use crate::kmeans::numpy_pairwise_sum_by;
use rml_core::{Float, RmlError, RmlResult};

/// `!(a <= b)`: true when `a > b` or either is NaN (then the exact test decides).
#[inline(always)]
fn not_at_most(a: f64, b: f64) -> bool {
    a > b || a.is_nan() || b.is_nan()
}

/// The uniforms (still open: position `m`) whose `fl(c / last) > x`: their position is `t`.
/// Returns how many were closed. Kept out of line so that the division is only computed near
/// a crossing.
#[cold]
#[inline(never)]
fn crossings(c: f64, last: f64, t: usize, uniforms: &[f64], below: &[f64], pos: &mut [usize], m: usize) -> usize {
    let mut closed = 0;
    for (k, &x) in uniforms.iter().enumerate() {
        if pos[k] == m && not_at_most(c, below[k]) && c / last > x {
            pos[k] = t;
            closed += 1;
        }
    }
    closed
}

/// Positions `cdf.searchsorted(x, side="right")` of `RandomState.choice(m, size,
/// replace=False, p=w / w.sum())` for the uniforms `uniforms` of one round of its sampling
/// loop, where `w[t] = sample_weight[indices[t]]` and the entries at the positions `found`
/// (the picks of the earlier rounds) have their probability set to 0, as numpy does.
/// `size` is the number of picks requested in total (numpy checks it against the non-zero
/// probabilities in the first round, `found` empty). Errors carry numpy's messages.
/// The checks decide as numpy's `kahan_sum` of `p` would. Cost `O(m)`, no allocation of
/// `O(m)`.
pub fn choice_positions<F: Float>(
    sample_weight: &[F],
    indices: &[usize],
    uniforms: &[f64],
    found: &[usize],
    size: usize,
) -> RmlResult<Vec<usize>> {
    let m = indices.len();
    rml_core::ensure!(indices.iter().all(|&i| i < sample_weight.len()), "row index out of range");
    rml_core::ensure!(found.iter().all(|&t| t < m), "found position out of range");
    rml_core::ensure!(m > 0, "'a' cannot be empty unless no samples are taken");
    let w = |t: usize| sample_weight[indices[t]];
    let total = numpy_pairwise_sum_by(&w, 0, m);
    let p = |t: usize| (w(t) / total).as_f64();
    let q = |t: usize| if found.contains(&t) { 0.0 } else { p(t) };
    // The probabilities `q(lo..lo + len)` into `buf`: the weights gathered first, then one
    // division loop the compiler vectorises (the same divisions, elementwise).
    const CHUNK: usize = 256;
    let fill = |lo: usize, buf: &mut [f64; CHUNK], wb: &mut [F; CHUNK]| -> usize {
        let len = CHUNK.min(m - lo);
        for (o, &i) in wb.iter_mut().zip(&indices[lo..lo + len]) {
            *o = sample_weight[i];
        }
        for (o, &v) in buf.iter_mut().zip(&wb[..len]) {
            *o = (v / total).as_f64();
        }
        for &t in found {
            if (lo..lo + len).contains(&t) {
                buf[t - lo] = 0.0;
            }
        }
        len
    };
    let mut buf = [0.0f64; CHUNK];
    let mut wb = [F::zero(); CHUNK];
    // One pass: cdf[-1] (the sequential cumulative sum of the probabilities, np.cumsum) and
    // what numpy's checks of `p` need.
    let (mut negative, mut positive) = (false, 0usize);
    let mut last = 0.0f64;
    let mut lo = 0;
    while lo < m {
        let len = fill(lo, &mut buf, &mut wb);
        for (j, &v) in buf[..len].iter().enumerate() {
            last = if lo + j == 0 { v } else { last + v };
            negative |= v < 0.0;
            positive += (v > 0.0) as usize;
        }
        lo += len;
    }
    if found.is_empty() {
        // numpy checks `kahan_sum(p)`. With no negative entry, it and the plain sum `last`
        // are both within `m · eps · Σp` of the exact sum, so when `last` is that far inside
        // the tolerance the check passes; otherwise compute numpy's Kahan sum itself.
        let atol = f64::EPSILON.sqrt().max(F::epsilon().as_f64().sqrt());
        let margin = (m as f64 + 2.0) * f64::EPSILON * last.abs() * 1.01;
        let p_sum = if !negative && last.is_finite() && (last - 1.0).abs() + margin <= atol * 0.5 {
            last
        } else {
            let (mut ks, mut kc) = (q(0), 0.0f64);
            for t in 1..m {
                let y = q(t) - kc;
                let s = ks + y;
                kc = (s - ks) - y;
                ks = s;
            }
            ks
        };
        if p_sum.is_nan() {
            return Err(RmlError::InvalidParameter("probabilities contain NaN".into()));
        }
        if negative {
            return Err(RmlError::InvalidParameter("probabilities are not non-negative".into()));
        }
        if (p_sum - 1.0).abs() > atol {
            return Err(RmlError::InvalidParameter("probabilities do not sum to 1".into()));
        }
        if size > m {
            return Err(RmlError::InvalidParameter(
                "Cannot take a larger sample than population when 'replace=False'".into(),
            ));
        }
        if positive < size {
            return Err(RmlError::InvalidParameter("Fewer non-zero entries in p than size".into()));
        }
    }
    // searchsorted(x, "right") on the non-decreasing cdf = number of entries <= x; found in
    // one sequential pass that recomputes the cumulative sum, stopping at the largest. The
    // exact `c / last` is only needed near the crossing: `c <= x · last · (1 - 1e-12)`
    // (rounded products included) implies `c / last < x`, hence `fl(c / last) <= x`.
    let mut pos = vec![m; uniforms.len()];
    let mut open = uniforms.len();
    let below: Vec<f64> = uniforms.iter().map(|&x| x * last * (1.0 - 1e-12)).collect();
    // The smallest threshold of the uniforms still open (NaN-safe: NaN never compares).
    let threshold = |pos: &[usize]| {
        below.iter().zip(pos).filter(|(_, &p)| p == m).map(|(&b, _)| b).fold(f64::INFINITY, f64::min)
    };
    let mut thr = threshold(&pos);
    let mut c = 0.0f64;
    let mut lo = 0;
    'outer: while lo < m {
        let len = fill(lo, &mut buf, &mut wb);
        for (j, &v) in buf[..len].iter().enumerate() {
            let t = lo + j;
            c = if t == 0 { v } else { c + v };
            if not_at_most(c, thr) {
                open -= crossings(c, last, t, uniforms, &below, &mut pos, m);
                if open == 0 {
                    break 'outer;
                }
                thr = threshold(&pos);
            }
        }
        lo += len;
    }
    Ok(pos)
}
