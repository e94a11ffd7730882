//! Brute-force neighbour search: every query row against every training row, parallel over
//! query chunks (in the caller's rayon pool), results sorted by `(distance, training index)`.
//!
//! Euclidean searches use the GEMM identity `|x|^2 + |y|^2 - 2 x.y` on cache-sized tiles only
//! as a *filter*: a candidate that might beat the current k-th best (within a rigorous
//! floating-point error bound) has its distance recomputed directly in `f64`, and only direct
//! values are ever ranked or returned. So results are exact for float32 and float64 alike and
//! identical for any thread count. Other metrics compute direct distances.

use crate::exact::{exact_rdist, key_to_dist, row_norm};
use crate::topk::TopK;
use crate::{KnnResult, Metric, RadiusResult};
use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use rml_core::size::try_zeroed_vec;
use rml_core::{ensure, ensure_param, Cancel, Float, RmlResult};
use std::borrow::Cow;

/// Query rows per parallel task of the direct kernels.
const DIRECT_QUERY_CHUNK: usize = 32;

/// A C-contiguous view of `a` (borrowed when it already is, copied otherwise), as a slice.
pub(crate) fn contiguous<'a, F: Float>(a: &'a ArrayView2<'a, F>) -> Cow<'a, [F]> {
    match a.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(a.iter().copied().collect()),
    }
}

pub(crate) fn check_shapes<F: Float>(x: &ArrayView2<F>, fit_x: &ArrayView2<F>) -> RmlResult<()> {
    ensure!(
        x.ncols() == fit_x.ncols(),
        "X has {} features, but the fitted data has {} features",
        x.ncols(),
        fit_x.ncols()
    );
    Ok(())
}

pub(crate) fn check_k(k: usize, n_fit: usize) -> RmlResult<()> {
    ensure_param!(k >= 1, "n_neighbors must be >= 1, got {}", k);
    ensure!(
        k <= n_fit,
        "Expected n_neighbors <= n_samples_fit, but n_neighbors = {}, n_samples_fit = {}, n_samples = {}",
        k,
        n_fit,
        n_fit
    );
    Ok(())
}

/// Row norms (cosine needs them; other metrics get an empty vector).
fn norms_for<F: Float>(metric: Metric, data: &[F], d: usize, n: usize) -> Vec<f64> {
    if metric == Metric::Cosine && d > 0 {
        data.par_chunks(d).map(row_norm).collect()
    } else if metric == Metric::Cosine {
        vec![0.0; n]
    } else {
        Vec::new()
    }
}

/// The `k` nearest training rows of every query row.
///
/// Returns `n_queries x k` true distances (euclidean, not squared; an empty `0 x 0` array
/// when `return_distance` is false) and training indices, each row sorted by
/// `(distance, index)` ascending. Errors (never panics) when `k == 0`, `k > n_fit` or the
/// feature counts differ. Runs in the caller's rayon pool; polls `cancel` between chunks.
pub fn brute_kneighbors<F: Float>(
    x: ArrayView2<F>,
    fit_x: ArrayView2<F>,
    k: usize,
    metric: Metric,
    return_distance: bool,
    cancel: &Cancel,
) -> RmlResult<KnnResult<F>> {
    check_shapes(&x, &fit_x)?;
    check_k(k, fit_x.nrows())?;
    crate::gemm_knn::kneighbors(x, fit_x, k, metric, return_distance, cancel)
}

/// The direct (non-GEMM) k-nearest kernel: any metric, exact `f64` keys.
pub(crate) fn direct_kneighbors<F: Float>(
    x: ArrayView2<F>,
    fit_x: ArrayView2<F>,
    k: usize,
    metric: Metric,
    return_distance: bool,
    cancel: &Cancel,
) -> RmlResult<KnnResult<F>> {
    let (m, d, n) = (x.nrows(), x.ncols(), fit_x.nrows());
    let xs = contiguous(&x);
    let ys = contiguous(&fit_x);
    let (xs, ys): (&[F], &[F]) = (&xs, &ys);
    let xn = norms_for(metric, xs, d, m);
    let yn = norms_for(metric, ys, d, n);
    let mut ind = try_zeroed_vec::<i64>(m, k, "kneighbors indices")?;
    let mut dist = if return_distance {
        try_zeroed_vec::<F>(m, k, "kneighbors distances")?
    } else {
        Vec::new()
    };
    let chunk = DIRECT_QUERY_CHUNK;
    let work = |(c, ind_c): (usize, &mut [i64]), dist_c: Option<&mut [F]>| -> RmlResult<()> {
        cancel.check()?;
        let mut top = TopK::new(k);
        let mut sorted = Vec::with_capacity(k);
        let r0 = c * chunk;
        let rows = ind_c.len() / k;
        let mut dist_c = dist_c;
        for r in 0..rows {
            let i = r0 + r;
            let a = &xs[i * d..(i + 1) * d];
            let na = if xn.is_empty() { 0.0 } else { xn[i] };
            top.clear();
            for j in 0..n {
                let b = &ys[j * d..(j + 1) * d];
                let nb = if yn.is_empty() { 0.0 } else { yn[j] };
                let key = exact_rdist(metric, a, b, na, nb);
                // Cheap reject; the exact (key, index) comparison happens in push.
                if key <= top.threshold() || !top.is_full() || key.is_nan() {
                    top.push(key, j as i64);
                }
            }
            top.drain_sorted(&mut sorted);
            for (t, &(key, j)) in sorted.iter().enumerate() {
                ind_c[r * k + t] = j;
                if let Some(dc) = dist_c.as_deref_mut() {
                    dc[r * k + t] = key_to_dist(metric, key);
                }
            }
        }
        Ok(())
    };
    if m > 0 {
        if return_distance {
            ind.par_chunks_mut(chunk * k)
                .zip(dist.par_chunks_mut(chunk * k))
                .enumerate()
                .try_for_each(|(c, (ic, dc))| work((c, ic), Some(dc)))?;
        } else {
            ind.par_chunks_mut(chunk * k).enumerate().try_for_each(|(c, ic)| work((c, ic), None))?;
        }
    }
    Ok(finish_knn(m, k, ind, dist, return_distance))
}

pub(crate) fn finish_knn<F: Float>(
    m: usize,
    k: usize,
    ind: Vec<i64>,
    dist: Vec<F>,
    return_distance: bool,
) -> KnnResult<F> {
    let indices = Array2::from_shape_vec((m, k), ind).expect("m * k elements");
    let distances = if return_distance {
        Array2::from_shape_vec((m, k), dist).expect("m * k elements")
    } else {
        Array2::zeros((0, 0))
    };
    KnnResult { distances, indices }
}

/// Every training row within `radius` (distance `<= radius`, as scikit-learn) of each query
/// row, CSR-shaped. Within a row, neighbours are in training order, or sorted by
/// `(distance, index)` when `sort_results`. `radius` must be `>= 0` (may be +inf).
pub fn brute_radius_neighbors<F: Float>(
    x: ArrayView2<F>,
    fit_x: ArrayView2<F>,
    radius: F,
    metric: Metric,
    return_distance: bool,
    sort_results: bool,
    cancel: &Cancel,
) -> RmlResult<RadiusResult<F>> {
    check_shapes(&x, &fit_x)?;
    ensure_param!(radius >= F::zero(), "radius must be a non-negative number, got {}", radius);
    crate::gemm_knn::radius_neighbors(x, fit_x, radius, metric, return_distance, sort_results, cancel)
}

/// Per-chunk radius output, concatenated in chunk order at the end (deterministic).
pub(crate) struct RadiusChunk<F> {
    pub dist: Vec<F>,
    pub ind: Vec<i64>,
    pub counts: Vec<usize>,
}

pub(crate) fn finish_radius<F: Float>(
    chunks: Vec<RadiusChunk<F>>,
    m: usize,
    return_distance: bool,
) -> RmlResult<RadiusResult<F>> {
    let nnz: usize = chunks.iter().map(|c| c.ind.len()).sum();
    let mut ind = Vec::new();
    ind.try_reserve_exact(nnz).map_err(|_| {
        rml_core::RmlError::TooLarge(format!("cannot allocate {nnz} radius neighbours"))
    })?;
    let mut dist = Vec::new();
    if return_distance {
        dist.try_reserve_exact(nnz).map_err(|_| {
            rml_core::RmlError::TooLarge(format!("cannot allocate {nnz} radius distances"))
        })?;
    }
    let mut offsets = Vec::with_capacity(m + 1);
    offsets.push(0usize);
    let mut acc = 0usize;
    for c in chunks {
        ind.extend_from_slice(&c.ind);
        if return_distance {
            dist.extend_from_slice(&c.dist);
        }
        for cnt in c.counts {
            acc += cnt;
            offsets.push(acc);
        }
    }
    Ok(RadiusResult { distances: dist, indices: ind, offsets })
}

/// Sort one row's `(key, index)` pairs and emit them.
pub(crate) fn emit_row<F: Float>(
    metric: Metric,
    row: &mut [(f64, i64)],
    sort_results: bool,
    return_distance: bool,
    out: &mut RadiusChunk<F>,
) {
    if sort_results {
        row.sort_unstable_by(|a, b| crate::topk::cmp_pair(*a, *b));
    }
    for &(key, j) in row.iter() {
        out.ind.push(j);
        if return_distance {
            out.dist.push(key_to_dist(metric, key));
        }
    }
    out.counts.push(row.len());
}

/// The direct radius kernel: any metric, exact `f64` keys.
pub(crate) fn direct_radius_neighbors<F: Float>(
    x: ArrayView2<F>,
    fit_x: ArrayView2<F>,
    radius: F,
    metric: Metric,
    return_distance: bool,
    sort_results: bool,
    cancel: &Cancel,
) -> RmlResult<RadiusResult<F>> {
    let (m, d, n) = (x.nrows(), x.ncols(), fit_x.nrows());
    let xs = contiguous(&x);
    let ys = contiguous(&fit_x);
    let (xs, ys): (&[F], &[F]) = (&xs, &ys);
    let xn = norms_for(metric, xs, d, m);
    let yn = norms_for(metric, ys, d, n);
    let rkey = metric.dist_to_rdist(radius.as_f64());
    let n_chunks = m.div_ceil(DIRECT_QUERY_CHUNK);
    let chunks: Vec<RadiusChunk<F>> = (0..n_chunks)
        .into_par_iter()
        .map(|c| -> RmlResult<RadiusChunk<F>> {
            cancel.check()?;
            let r0 = c * DIRECT_QUERY_CHUNK;
            let r1 = (r0 + DIRECT_QUERY_CHUNK).min(m);
            let mut out = RadiusChunk { dist: Vec::new(), ind: Vec::new(), counts: Vec::new() };
            let mut row = Vec::new();
            for i in r0..r1 {
                let a = &xs[i * d..(i + 1) * d];
                let na = if xn.is_empty() { 0.0 } else { xn[i] };
                row.clear();
                for j in 0..n {
                    let b = &ys[j * d..(j + 1) * d];
                    let nb = if yn.is_empty() { 0.0 } else { yn[j] };
                    let key = exact_rdist(metric, a, b, na, nb);
                    if key <= rkey {
                        row.push((key, j as i64));
                    }
                }
                emit_row(metric, &mut row, sort_results, return_distance, &mut out);
            }
            Ok(out)
        })
        .collect::<RmlResult<Vec<_>>>()?;
    finish_radius(chunks, m, return_distance)
}
