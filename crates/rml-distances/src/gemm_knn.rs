//! The Euclidean brute-force kernels: a GEMM filter on cache-sized tiles, exact keys.
//!
//! For a query chunk (`QB` rows) and a training block (`TB` rows) one GEMM gives
//! `C = -2 X Y^T`; `|y|^2 + C[i, j]` is `|x_i - y_j|^2 - |x_i|^2` up to rounding. A candidate
//! is looked at only if that approximate value is within a rigorous rounding bound of the
//! row's current k-th best exact key (or of the radius); a candidate that is looked at gets
//! its exact squared distance recomputed directly in `f64` (from the original rows), and only
//! exact keys are ranked and returned. So the result equals the direct kernel's for float32
//! and float64, and the GEMM's blocking or the thread count cannot change it.
//!
//! The data are centred on the training mean before the GEMM (distances are shift-invariant)
//! so the rounding bound, which scales with `|x|^2 + |y|^2`, stays small for data far from
//! the origin. Inputs whose (centred) norms could overflow the GEMM fall back to the direct
//! kernel, which orders overflowed (+inf) distances exactly.
//!
//! Memory per task: a `QB x d` query copy and a `QB x TB` tile; plus one centred copy of the
//! training data (skipped, with a slower but exact path, when it would not fit the
//! working-memory budget).

use crate::brute::{
    contiguous, direct_kneighbors, direct_radius_neighbors, emit_row, finish_knn, finish_radius,
    RadiusChunk,
};
use crate::exact::{key_to_dist, sq_l2, with_simd};
use crate::topk::TopK;
use crate::{KnnResult, Metric, RadiusResult};
use ndarray::ArrayView2;
use rayon::prelude::*;
use rml_core::size::{try_zeroed_vec, DEFAULT_WORKING_MEMORY_BYTES};
use rml_core::{Cancel, Float, RmlResult};
use std::borrow::Cow;

/// Query rows per task (one GEMM's `m`), at most; a multiple of the GEMM microkernel's
/// 6-wide column block (the GEMM runs transposed: queries are its columns).
const QB: usize = 132;
/// Query rows per task, at least (fewer queries than tasks x this run on fewer threads).
const QB_MIN: usize = 8;

/// Query rows per task: `QB`, or smaller so that every thread gets a few tasks.
fn query_block(m: usize) -> usize {
    (m.div_ceil(4 * rayon::current_num_threads()).div_ceil(6) * 6).clamp(QB_MIN, QB)
}
/// Training rows per tile (one GEMM's `n`); the tile `QB x TB` stays in L2.
const TB: usize = 1024;
/// Below this many training rows or features the direct kernel is as fast.
const MIN_FIT_ROWS: usize = 64;

/// Everything the GEMM kernels share: centred training data, its norms, per-block maxima.
struct Prepared<'a, F: Float> {
    d: usize,
    n: usize,
    /// Original rows (exact keys are computed from these).
    xs: Cow<'a, [F]>,
    ys: Cow<'a, [F]>,
    /// Centring shift (training mean, rounded to F); zeros when not centring.
    mu: Vec<F>,
    /// Centred training rows (`None` when not centring: the filter then uses `ys`).
    yc: Option<Vec<F>>,
    /// Centred squared norms, in F (used in the filter) and per-block maxima in f64.
    yn: Vec<F>,
    yn_block_max: Vec<f64>,
}

fn sq_norm<F: Float>(a: &[F]) -> f64 {
    let mut s = 0.0f64;
    for &v in a {
        let v = v.as_f64();
        s += v * v;
    }
    s
}

/// Largest centred squared norm the F-precision GEMM may see without overflowing anywhere
/// (`|x.y| <= |x||y|`, every partial sum bounded likewise).
fn safe_norm_limit<F: Float>() -> f64 {
    F::max_value().as_f64() / 64.0
}

fn prepare<'a, F: Float>(
    x: &'a ArrayView2<'a, F>,
    fit_x: &'a ArrayView2<'a, F>,
    allow_centre: bool,
) -> Option<Prepared<'a, F>> {
    let (d, n) = (fit_x.ncols(), fit_x.nrows());
    let xs = contiguous(x);
    let ys = contiguous(fit_x);
    // Centre when the copy fits comfortably in the working-memory budget.
    let copy_bytes = n.checked_mul(d)?.checked_mul(std::mem::size_of::<F>())?;
    let centre = allow_centre && copy_bytes <= DEFAULT_WORKING_MEMORY_BYTES / 2;
    let (mu, yc): (Vec<F>, Option<Vec<F>>) = if centre {
        let sums = ys
            .par_chunks(d * 4096)
            .map(|blk| {
                let mut s = vec![0.0f64; d];
                for row in blk.chunks_exact(d) {
                    for (a, &v) in s.iter_mut().zip(row) {
                        *a += v.as_f64();
                    }
                }
                s
            })
            .collect::<Vec<_>>();
        let mut tot = vec![0.0f64; d];
        for s in sums {
            for (a, b) in tot.iter_mut().zip(s) {
                *a += b;
            }
        }
        let mu: Vec<F> = tot.iter().map(|&s| F::from_f64(s / n as f64)).collect();
        let mut yc = Vec::new();
        yc.try_reserve_exact(n * d).ok()?;
        yc.extend_from_slice(&ys);
        yc.par_chunks_mut(d).for_each(|row| {
            for (v, &m) in row.iter_mut().zip(&mu) {
                *v = *v - m;
            }
        });
        (mu, Some(yc))
    } else {
        (vec![F::zero(); d], None)
    };
    let yn64: Vec<f64> = yc
        .as_deref()
        .unwrap_or(&ys)
        .par_chunks(d)
        .map(sq_norm)
        .collect();
    let limit = safe_norm_limit::<F>();
    if !yn64.iter().all(|&v| v <= limit) {
        return None;
    }
    let yn: Vec<F> = yn64.iter().map(|&v| F::from_f64(v)).collect();
    let yn_block_max = yn64
        .chunks(TB)
        .map(|c| c.iter().copied().fold(0.0, f64::max))
        .collect();
    Some(Prepared {
        d,
        n,
        xs,
        ys,
        mu,
        yc,
        yn,
        yn_block_max,
    })
}

impl<F: Float> Prepared<'_, F> {
    /// The training rows the GEMM filter sees (centred when centring).
    fn filter_rows(&self) -> &[F] {
        self.yc.as_deref().unwrap_or(&self.ys)
    }
}

/// Centre a chunk of query rows into `buf`, returning their centred squared norms, or `None`
/// when a norm is beyond the safe limit (the caller then uses exact keys only).
fn centre_queries<F: Float>(
    p: &Prepared<F>,
    rows: &[F],
    buf: &mut Vec<F>,
    norms: &mut Vec<f64>,
) -> bool {
    buf.clear();
    buf.extend_from_slice(rows);
    norms.clear();
    let limit = safe_norm_limit::<F>();
    let mut ok = true;
    for row in buf.chunks_exact_mut(p.d) {
        for (v, &m) in row.iter_mut().zip(&p.mu) {
            *v = *v - m;
        }
        let s = sq_norm(row);
        ok &= s <= limit;
        norms.push(s);
    }
    ok
}

/// `C[0..mq, 0..nb] = -2 * Xq * Yb^T` with C row-major of leading dimension `TB`.
fn tile_gemm<F: Float>(mq: usize, nb: usize, d: usize, xq: &[F], yb: &[F], c: &mut [F]) {
    debug_assert!(xq.len() >= mq * d && yb.len() >= nb * d && c.len() >= (mq - 1) * TB + nb);
    // SAFETY: the slices cover every element the strides address (checked above); dst does
    // not alias lhs or rhs; F is f32 or f64, which gemm supports.
    unsafe {
        gemm::gemm::<F>(
            mq,
            nb,
            d,
            c.as_mut_ptr(),
            1,
            TB as isize,
            false,
            xq.as_ptr(),
            1,
            d as isize,
            yb.as_ptr(),
            d as isize,
            1,
            F::zero(),
            F::from_f64(-2.0),
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// The filter bound for one query row against one training block: any training row whose
/// exact key `E <= thr` has `yn[j] + C[i, j] <= returned value` (see the module docs).
#[inline]
fn filter_bound<F: Float>(thr: f64, xn: f64, yn_max: f64, d: usize) -> F {
    if !(thr < f64::INFINITY) {
        return F::infinity();
    }
    let u = F::epsilon().as_f64();
    let s = xn + yn_max;
    let slack = 2.0 * (d as f64 + 10.0) * u * s
        + 4.0 * (d as f64 + 2.0) * f64::EPSILON * thr.abs()
        + 8.0 * (d as f64 + 2.0) * F::min_positive_value().as_f64();
    let t = thr - xn + slack;
    // Round-to-nearest into F may lose up to u|t|: widen first.
    F::from_f64(t + 4.0 * u * t.abs())
}

pub(crate) fn kneighbors<F: Float>(
    x: ArrayView2<F>,
    fit_x: ArrayView2<F>,
    k: usize,
    metric: Metric,
    return_distance: bool,
    cancel: &Cancel,
) -> RmlResult<KnnResult<F>> {
    kneighbors_with(x, fit_x, k, metric, return_distance, cancel, true)
}

/// [`kneighbors`] with centring optionally disabled (tests exercise both filter variants).
pub(crate) fn kneighbors_with<F: Float>(
    x: ArrayView2<F>,
    fit_x: ArrayView2<F>,
    k: usize,
    metric: Metric,
    return_distance: bool,
    cancel: &Cancel,
    allow_centre: bool,
) -> RmlResult<KnnResult<F>> {
    let (m, d, n) = (x.nrows(), x.ncols(), fit_x.nrows());
    let euclid = matches!(metric, Metric::Euclidean | Metric::SqEuclidean);
    if !euclid || d == 0 || n < MIN_FIT_ROWS || m == 0 {
        return direct_kneighbors(x, fit_x, k, metric, return_distance, cancel);
    }
    let p = match prepare(&x, &fit_x, allow_centre) {
        Some(p) => p,
        None => return direct_kneighbors(x, fit_x, k, metric, return_distance, cancel),
    };
    let mut ind = try_zeroed_vec::<i64>(m, k, "kneighbors indices")?;
    let mut dist = if return_distance {
        try_zeroed_vec::<F>(m, k, "kneighbors distances")?
    } else {
        Vec::new()
    };

    let qb = query_block(m);
    let work = |c: usize, ind_c: &mut [i64], mut dist_c: Option<&mut [F]>| -> RmlResult<()> {
        let r0 = c * qb;
        let mq = ind_c.len() / k;
        let xrows = &p.xs[r0 * d..(r0 + mq) * d];
        let mut xq = Vec::with_capacity(mq * d);
        let mut xn = Vec::with_capacity(mq);
        let safe = centre_queries(&p, xrows, &mut xq, &mut xn);
        let mut tops: Vec<TopK> = (0..mq).map(|_| TopK::new(k)).collect();
        let mut tile = vec![F::zero(); mq * TB];
        for (b, c0) in (0..p.n).step_by(TB).enumerate() {
            cancel.check()?;
            let nb = TB.min(p.n - c0);
            if safe {
                tile_gemm(
                    mq,
                    nb,
                    d,
                    &xq,
                    &p.filter_rows()[c0 * d..(c0 + nb) * d],
                    &mut tile,
                );
            }
            let ynb = &p.yn[c0..c0 + nb];
            with_simd(|| {
                for (i, top) in tops.iter_mut().enumerate() {
                    let a = &xrows[i * d..(i + 1) * d];
                    if !safe {
                        for j in 0..nb {
                            let key = sq_l2(a, &p.ys[(c0 + j) * d..(c0 + j + 1) * d]);
                            top.push(key, (c0 + j) as i64);
                        }
                        continue;
                    }
                    let crow = &tile[i * TB..i * TB + nb];
                    let (xni, ynmax) = (xn[i], p.yn_block_max[b]);
                    let mut t: F = filter_bound(top.threshold(), xni, ynmax, d);
                    scan_block(crow, ynb, &mut t, |j| {
                        let key = sq_l2(a, &p.ys[(c0 + j) * d..(c0 + j + 1) * d]);
                        top.push(key, (c0 + j) as i64);
                        filter_bound(top.threshold(), xni, ynmax, d)
                    });
                }
            });
        }
        let mut sorted = Vec::with_capacity(k);
        for (i, top) in tops.iter_mut().enumerate() {
            top.drain_sorted(&mut sorted);
            for (t, &(key, j)) in sorted.iter().enumerate() {
                ind_c[i * k + t] = j;
                if let Some(dc) = dist_c.as_deref_mut() {
                    dc[i * k + t] = key_to_dist(metric, key);
                }
            }
        }
        Ok(())
    };
    if return_distance {
        ind.par_chunks_mut(qb * k)
            .zip(dist.par_chunks_mut(qb * k))
            .enumerate()
            .try_for_each(|(c, (ic, dc))| work(c, ic, Some(dc)))?;
    } else {
        ind.par_chunks_mut(qb * k)
            .enumerate()
            .try_for_each(|(c, ic)| work(c, ic, None))?;
    }
    Ok(finish_knn(m, k, ind, dist, return_distance))
}

/// Visit every `j` with `ynb[j] + crow[j] <= t`; `hit(j)` handles it and returns the new
/// bound. Groups of 16 are tested branch-free first (vectorises), since most fail.
#[inline(always)]
fn scan_block<F: Float>(crow: &[F], ynb: &[F], t: &mut F, mut hit: impl FnMut(usize) -> F) {
    const G: usize = 16;
    let nb = crow.len();
    let full = nb - nb % G;
    let mut j = 0;
    while j < full {
        let cg = &crow[j..j + G];
        let yg = &ynb[j..j + G];
        let tt = *t;
        let mut any = false;
        for l in 0..G {
            any |= yg[l] + cg[l] <= tt;
        }
        if any {
            for l in 0..G {
                if yg[l] + cg[l] <= *t {
                    *t = hit(j + l);
                }
            }
        }
        j += G;
    }
    for jj in full..nb {
        if ynb[jj] + crow[jj] <= *t {
            *t = hit(jj);
        }
    }
}

pub(crate) fn radius_neighbors<F: Float>(
    x: ArrayView2<F>,
    fit_x: ArrayView2<F>,
    radius: F,
    metric: Metric,
    return_distance: bool,
    sort_results: bool,
    cancel: &Cancel,
) -> RmlResult<RadiusResult<F>> {
    let (m, d, n) = (x.nrows(), x.ncols(), fit_x.nrows());
    let euclid = matches!(metric, Metric::Euclidean | Metric::SqEuclidean);
    if !euclid || d == 0 || n < MIN_FIT_ROWS || m == 0 {
        return direct_radius_neighbors(
            x,
            fit_x,
            radius,
            metric,
            return_distance,
            sort_results,
            cancel,
        );
    }
    let p = match prepare(&x, &fit_x, true) {
        Some(p) => p,
        None => {
            return direct_radius_neighbors(
                x,
                fit_x,
                radius,
                metric,
                return_distance,
                sort_results,
                cancel,
            )
        }
    };
    let rkey = metric.dist_to_rdist(radius.as_f64());
    let qb = query_block(m);
    let n_chunks = m.div_ceil(qb);
    let chunks: Vec<RadiusChunk<F>> = (0..n_chunks)
        .into_par_iter()
        .map(|c| -> RmlResult<RadiusChunk<F>> {
            let r0 = c * qb;
            let mq = qb.min(m - r0);
            let xrows = &p.xs[r0 * d..(r0 + mq) * d];
            let mut xq = Vec::with_capacity(mq * d);
            let mut xn = Vec::with_capacity(mq);
            let safe = centre_queries(&p, xrows, &mut xq, &mut xn);
            let mut rows: Vec<Vec<(f64, i64)>> = vec![Vec::new(); mq];
            let mut tile = vec![F::zero(); mq * TB];
            for (b, c0) in (0..p.n).step_by(TB).enumerate() {
                cancel.check()?;
                let nb = TB.min(p.n - c0);
                if safe {
                    tile_gemm(
                        mq,
                        nb,
                        d,
                        &xq,
                        &p.filter_rows()[c0 * d..(c0 + nb) * d],
                        &mut tile,
                    );
                }
                let ynb = &p.yn[c0..c0 + nb];
                with_simd(|| {
                    for (i, row) in rows.iter_mut().enumerate() {
                        let a = &xrows[i * d..(i + 1) * d];
                        let mut consider = |j: usize| {
                            let key = sq_l2(a, &p.ys[(c0 + j) * d..(c0 + j + 1) * d]);
                            if key <= rkey {
                                row.push((key, (c0 + j) as i64));
                            }
                        };
                        if !safe || !(rkey < f64::INFINITY) {
                            (0..nb).for_each(&mut consider);
                            continue;
                        }
                        let mut t: F = filter_bound(rkey, xn[i], p.yn_block_max[b], d);
                        let t0 = t;
                        scan_block(&tile[i * TB..i * TB + nb], ynb, &mut t, |j| {
                            consider(j);
                            t0
                        });
                    }
                });
            }
            let mut out = RadiusChunk {
                dist: Vec::new(),
                ind: Vec::new(),
                counts: Vec::new(),
            };
            for mut row in rows {
                emit_row(metric, &mut row, sort_results, return_distance, &mut out);
            }
            Ok(out)
        })
        .collect::<RmlResult<Vec<_>>>()?;
    finish_radius(chunks, m, return_distance)
}
