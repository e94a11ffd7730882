//! Silhouette coefficients of every sample, from chunked pairwise distances.
//!
//! Samples are first grouped by label (a stable counting sort), so that every cluster is a
//! contiguous range of columns of the distance matrix. The distance matrix is then computed
//! tile by tile — `BQ` queries × `BT` targets — and never held whole: for euclidean each tile
//! is one GEMM (`‖x‖² − 2 x·y + ‖y‖²`, scikit-learn's formula, clipped at 0, with the self
//! distance set to exactly 0 as scikit-learn does) followed by a vectorised square root, and
//! each query's per-cluster distance sums are contiguous segment sums of the tile, accumulated
//! in `f64`. Query chunks run in parallel; each query's sums accumulate over target tiles in
//! a fixed order, so results are identical for every thread count.
//!
//! Memory: a sorted `f64` copy of X (n × d), and per worker a `BQ × BT` tile plus `BQ × k`
//! cluster sums. Never n × n.

use super::{group_by_label, label_counts};
use ndarray::{linalg::general_mat_mul, s, Array2, ArrayView2};
use rayon::prelude::*;
use rml_core::{ensure, size::try_zeroed_vec, Cancel, Float, RmlError, RmlResult};
use rml_distances::Metric;

/// Queries per parallel task.
const BQ: usize = 64;
/// Targets per tile.
const BT: usize = 1024;

/// Sum with 8 independent accumulators (vectorises; a fixed order, so deterministic).
#[inline(always)]
fn sum_lanes(v: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = v.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            acc[k] += c[k];
        }
    }
    let mut s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for &r in rest {
        s += r;
    }
    s
}

/// `dist[j] = sqrt(max((-2 g[j] + nq) + nt[j], 0))`: scikit-learn's euclidean formula.
#[inline(always)]
fn euclid_row_generic(g: &[f64], nq: f64, nt: &[f64], dist: &mut [f64]) {
    for ((o, &g), &t) in dist.iter_mut().zip(g).zip(nt) {
        let v = (-2.0 * g + nq) + t;
        *o = if v > 0.0 { v.sqrt() } else { 0.0 };
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn euclid_row_avx2(g: &[f64], nq: f64, nt: &[f64], dist: &mut [f64]) {
    euclid_row_generic(g, nq, nt, dist)
}

#[inline]
fn euclid_row(g: &[f64], nq: f64, nt: &[f64], dist: &mut [f64], avx2: bool) {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: `avx2` is true only when the CPU reports AVX2 (checked at run time).
        unsafe { euclid_row_avx2(g, nq, nt, dist) };
        return;
    }
    let _ = avx2;
    euclid_row_generic(g, nq, nt, dist)
}

fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// scikit-learn's per-sample formula from the per-cluster distance sums of one sample.
#[inline]
fn coefficient(sums: &[f64], own: usize, counts: &[usize]) -> f64 {
    // intra: mean distance to the other members (0/0 = NaN for a singleton, as numpy).
    let intra = sums[own] / (counts[own] as f64 - 1.0);
    let mut inter = f64::INFINITY;
    for (c, (&s, &n)) in sums.iter().zip(counts).enumerate() {
        if c != own {
            let v = s / n as f64;
            if v < inter || v.is_nan() {
                inter = v;
            }
        }
    }
    let den = if intra.is_nan() || inter.is_nan() { f64::NAN } else { intra.max(inter) };
    let sil = (inter - intra) / den;
    // numpy.nan_to_num
    if sil.is_nan() {
        0.0
    } else if sil == f64::INFINITY {
        f64::MAX
    } else if sil == f64::NEG_INFINITY {
        f64::MIN
    } else {
        sil
    }
}

/// Silhouette coefficient of every sample of `x` (n × d) for `labels` in `0..n_clusters`,
/// with a Minkowski-family `metric` (euclidean through the GEMM formula; manhattan, chebyshev
/// and minkowski-p through rml-distances' row kernels). Distances in `f64` (also for `f32`
/// data). Returned in sample order. A singleton cluster's samples get 0, as in scikit-learn.
pub fn silhouette_samples<F: Float>(
    x: ArrayView2<'_, F>,
    labels: &[usize],
    n_clusters: usize,
    metric: Metric,
    cancel: &Cancel,
) -> RmlResult<Vec<f64>> {
    silhouette_impl(x, labels, n_clusters, metric, SYMMETRIC_MAX_SUMS, cancel)
}

fn silhouette_impl<F: Float>(
    x: ArrayView2<'_, F>,
    labels: &[usize],
    n_clusters: usize,
    metric: Metric,
    symmetric_max_sums: usize,
    cancel: &Cancel,
) -> RmlResult<Vec<f64>> {
    let (n, d) = x.dim();
    ensure!(metric.is_minkowski_family() && metric != Metric::SqEuclidean,
        "silhouette: unsupported metric {:?}", metric);
    let counts = label_counts(labels, n, n_clusters)?;
    let (order, offsets) = group_by_label(labels, &counts);
    // Sorted f64 copy: clusters become contiguous column ranges.
    let mut xs_buf = try_zeroed_vec::<f64>(n, d, "the sorted copy of X")?;
    for (r, &i) in order.iter().enumerate() {
        for (o, &v) in xs_buf[r * d..(r + 1) * d].iter_mut().zip(x.row(i)) {
            *o = v.as_f64();
        }
    }
    let xs = Array2::from_shape_vec((n, d), xs_buf).map_err(|e| RmlError::Internal(e.to_string()))?;
    let norms: Vec<f64> = xs.rows().into_iter().map(|r| r.iter().map(|v| v * v).sum()).collect();
    // cluster of each sorted position
    let mut cluster_of = vec![0usize; n];
    for c in 0..n_clusters {
        for p in &mut cluster_of[offsets[c]..offsets[c + 1]] {
            *p = c;
        }
    }
    let avx2 = has_avx2();
    let k = n_clusters;
    let euclid = metric == Metric::Euclidean;
    let ctx = Ctx { xs: &xs, norms: &norms, cluster_of: &cluster_of, offsets: &offsets, k, metric, avx2 };
    if n.checked_mul(k).is_some_and(|nk| nk <= symmetric_max_sums) {
        let sil = symmetric(&ctx, &counts, cancel)?;
        let mut out = vec![0.0f64; n];
        for (r, v) in sil.into_iter().enumerate() {
            out[order[r]] = v;
        }
        return Ok(out);
    }
    let starts: Vec<usize> = (0..n).step_by(BQ).collect();
    let chunks: Vec<RmlResult<Vec<f64>>> = starts
        .par_iter()
        .map(|&q0| {
            let q1 = (q0 + BQ).min(n);
            let bq = q1 - q0;
            let mut sums = try_zeroed_vec::<f64>(bq, k, "per-cluster distance sums")?;
            let mut g = Array2::<f64>::zeros((bq, BT.min(n)));
            let mut dist = vec![0.0f64; BT.min(n)];
            let xq = xs.slice(s![q0..q1, ..]);
            let mut t0 = 0;
            while t0 < n {
                cancel.check()?;
                let t1 = (t0 + BT).min(n);
                let bt = t1 - t0;
                let xt = xs.slice(s![t0..t1, ..]);
                if euclid {
                    let mut gv = g.slice_mut(s![.., 0..bt]);
                    general_mat_mul(1.0, &xq, &xt.t(), 0.0, &mut gv);
                }
                for q in 0..bq {
                    let dist = &mut dist[..bt];
                    if euclid {
                        let grow = g.row(q);
                        let grow = grow.as_slice().ok_or_else(|| RmlError::Internal("tile".into()))?;
                        euclid_row(&grow[..bt], norms[q0 + q], &norms[t0..t1], dist, avx2);
                    } else {
                        let a = xq.row(q);
                        let a = a.as_slice().ok_or_else(|| RmlError::Internal("row".into()))?;
                        for (j, o) in dist.iter_mut().enumerate() {
                            let b = xt.row(j);
                            *o = metric.dist(a, b.as_slice().ok_or_else(|| RmlError::Internal("row".into()))?);
                        }
                    }
                    let me = q0 + q;
                    if (t0..t1).contains(&me) {
                        dist[me - t0] = 0.0;
                    }
                    let srow = &mut sums[q * k..(q + 1) * k];
                    let mut c = cluster_of[t0];
                    let mut p = t0;
                    while p < t1 {
                        let e = offsets[c + 1].min(t1);
                        srow[c] += sum_lanes(&dist[p - t0..e - t0]);
                        p = e;
                        c += 1;
                    }
                }
                t0 = t1;
            }
            Ok((0..bq).map(|q| coefficient(&sums[q * k..(q + 1) * k], cluster_of[q0 + q], &counts)).collect())
        })
        .collect();
    let mut out = vec![0.0f64; n];
    for (ci, chunk) in chunks.into_iter().enumerate() {
        for (q, v) in chunk?.into_iter().enumerate() {
            out[order[starts[ci] + q]] = v;
        }
    }
    Ok(out)
}

/// Largest n × k for which the per-sample cluster sums of the symmetric schedule are held
/// (64 Mi values = 512 MiB); beyond it the query-chunk schedule is used (64 × k per worker).
const SYMMETRIC_MAX_SUMS: usize = 64 << 20;
/// Block size of the symmetric schedule.
const BS: usize = 256;

struct Ctx<'a> {
    xs: &'a Array2<f64>,
    norms: &'a [f64],
    cluster_of: &'a [usize],
    offsets: &'a [usize],
    k: usize,
    metric: Metric,
    avx2: bool,
}

/// Distances between sorted rows `[i0, i1)` and `[j0, j1)` into `d` (row-major, (i1-i0) × (j1-j0)).
fn tile(ctx: &Ctx<'_>, i0: usize, i1: usize, j0: usize, j1: usize, g: &mut Array2<f64>, d: &mut [f64]) -> RmlResult<()> {
    let (bi, bj) = (i1 - i0, j1 - j0);
    let xi = ctx.xs.slice(s![i0..i1, ..]);
    let xj = ctx.xs.slice(s![j0..j1, ..]);
    if ctx.metric == Metric::Euclidean {
        let mut gv = g.slice_mut(s![0..bi, 0..bj]);
        general_mat_mul(1.0, &xi, &xj.t(), 0.0, &mut gv);
        for r in 0..bi {
            let grow = g.row(r);
            let grow = grow.as_slice().ok_or_else(|| RmlError::Internal("tile".into()))?;
            euclid_row(&grow[..bj], ctx.norms[i0 + r], &ctx.norms[j0..j1], &mut d[r * bj..(r + 1) * bj], ctx.avx2);
        }
    } else {
        for r in 0..bi {
            let a = xi.row(r);
            let a = a.as_slice().ok_or_else(|| RmlError::Internal("row".into()))?;
            for (c, o) in d[r * bj..(r + 1) * bj].iter_mut().enumerate() {
                let b = xj.row(c);
                *o = ctx.metric.dist(a, b.as_slice().ok_or_else(|| RmlError::Internal("row".into()))?);
            }
        }
    }
    Ok(())
}

/// Add row `r`'s per-cluster segment sums over columns `[j0, j1)` to `srow`.
#[inline]
fn add_row_segments(ctx: &Ctx<'_>, drow: &[f64], j0: usize, j1: usize, srow: &mut [f64]) {
    let mut c = ctx.cluster_of[j0];
    let mut p = j0;
    while p < j1 {
        let e = ctx.offsets[c + 1].min(j1);
        srow[c] += sum_lanes(&drow[p - j0..e - j0]);
        p = e;
        c += 1;
    }
}

/// Symmetric schedule: each off-diagonal block pair's tile is computed once and feeds both
/// its rows' sums and (by column sums) its columns' sums, halving the GEMM and square-root
/// work. Block pairs are scheduled in round-robin rounds in which every block appears at
/// most once, so the tasks of a round touch disjoint sums (no races) and every sample's sums
/// receive their contributions in the same order whatever the thread count.
fn symmetric(ctx: &Ctx<'_>, counts: &[usize], cancel: &Cancel) -> RmlResult<Vec<f64>> {
    let n = ctx.xs.nrows();
    let k = ctx.k;
    let nb = n.div_ceil(BS);
    let bounds = |b: usize| (b * BS, ((b + 1) * BS).min(n));
    let sums: Vec<std::sync::Mutex<Vec<f64>>> = (0..nb)
        .map(|b| {
            let (a, e) = bounds(b);
            try_zeroed_vec::<f64>(e - a, k, "per-cluster distance sums").map(std::sync::Mutex::new)
        })
        .collect::<RmlResult<_>>()?;
    let lock = |b: usize| sums[b].lock().unwrap_or_else(|p| p.into_inner());
    // Per-worker buffers (a tile is 512 KiB: allocating it per tile would page-fault).
    type Bufs = (Array2<f64>, Vec<f64>, Vec<f64>);
    let init = || -> Bufs { (Array2::<f64>::zeros((BS, BS)), vec![0.0f64; BS * BS], vec![0.0f64; BS]) };
    let work = |bufs: &mut Bufs, i: usize, j: usize| -> RmlResult<()> {
        cancel.check()?;
        let ((i0, i1), (j0, j1)) = (bounds(i), bounds(j));
        let (bi, bj) = (i1 - i0, j1 - j0);
        let (g, d, acc) = bufs;
        let d = &mut d[..bi * bj];
        tile(ctx, i0, i1, j0, j1, g, d)?;
        if i == j {
            for r in 0..bi {
                d[r * bj + r] = 0.0;
            }
        }
        {
            let mut si = lock(i);
            for r in 0..bi {
                add_row_segments(ctx, &d[r * bj..(r + 1) * bj], j0, j1, &mut si[r * k..(r + 1) * k]);
            }
        }
        if i != j {
            // Column sums over each cluster segment of the rows.
            let acc = &mut acc[..bj];
            let mut sj = lock(j);
            let mut c = ctx.cluster_of[i0];
            let mut p = i0;
            while p < i1 {
                let e = ctx.offsets[c + 1].min(i1);
                acc.iter_mut().for_each(|a| *a = 0.0);
                for r in p - i0..e - i0 {
                    for (a, &v) in acc.iter_mut().zip(&d[r * bj..(r + 1) * bj]) {
                        *a += v;
                    }
                }
                for (q, &a) in acc.iter().enumerate() {
                    sj[q * k + c] += a;
                }
                p = e;
                c += 1;
            }
        }
        Ok(())
    };
    // Round 0: the diagonal tiles.
    (0..nb).into_par_iter().try_for_each_init(init, |bufs, b| work(bufs, b, b))?;
    // Round-robin (circle method) over an even number of slots; slot `nb` is a bye.
    let m = if nb % 2 == 0 { nb } else { nb + 1 };
    for r in 0..m.saturating_sub(1) {
        let pairs: Vec<(usize, usize)> = (0..m / 2)
            .map(|i| {
                let a = (r + i) % (m - 1);
                let b = if i == 0 { m - 1 } else { (m - 1 - i + r) % (m - 1) };
                (a.min(b), a.max(b))
            })
            .filter(|&(a, b)| b < nb && a != b)
            .collect();
        pairs.par_iter().try_for_each_init(init, |bufs, &(a, b)| work(bufs, a, b))?;
    }
    let mut out = Vec::with_capacity(n);
    for b in 0..nb {
        let (a, e) = bounds(b);
        let sb = lock(b);
        for r in 0..e - a {
            out.push(coefficient(&sb[r * k..(r + 1) * k], ctx.cluster_of[a + r], counts));
        }
    }
    Ok(out)
}

/// Silhouette coefficients from a precomputed distance matrix `dist` (n × n), scikit-learn's
/// way: row i's per-cluster sums include `dist[i, i]` (the caller checked it is ~0), summed in
/// column order in `f64`. Parallel over rows.
pub fn silhouette_samples_precomputed<F: Float>(
    dist: ArrayView2<'_, F>,
    labels: &[usize],
    n_clusters: usize,
    cancel: &Cancel,
) -> RmlResult<Vec<f64>> {
    let (n, m) = dist.dim();
    ensure!(n == m, "precomputed distances must be square, got {} x {}", n, m);
    let counts = label_counts(labels, n, n_clusters)?;
    let k = n_clusters;
    let rows: Vec<RmlResult<f64>> = (0..n)
        .into_par_iter()
        .map(|i| {
            if i % 256 == 0 {
                cancel.check()?;
            }
            let mut sums = vec![0.0f64; k];
            for (&v, &l) in dist.row(i).iter().zip(labels) {
                sums[l] += v.as_f64();
            }
            // scikit-learn stores the sums in the distance dtype before dividing.
            for s in sums.iter_mut() {
                *s = F::from_f64(*s).as_f64();
            }
            Ok(coefficient(&sums, labels[i], &counts))
        })
        .collect();
    rows.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn naive(x: &Array2<f64>, labels: &[usize], k: usize, metric: Metric) -> Vec<f64> {
        let n = x.nrows();
        let counts = label_counts(labels, n, k).unwrap();
        (0..n)
            .map(|i| {
                let mut sums = vec![0.0; k];
                for j in 0..n {
                    if i != j {
                        sums[labels[j]] += metric.dist(x.row(i).as_slice().unwrap(), x.row(j).as_slice().unwrap());
                    }
                }
                coefficient(&sums, labels[i], &counts)
            })
            .collect()
    }

    fn data(n: usize, d: usize) -> (Array2<f64>, Vec<usize>) {
        let x = Array2::from_shape_fn((n, d), |(i, j)| (((i * 7919 + j * 104729) % 1013) as f64) / 97.0 + (i % 3) as f64);
        let labels = (0..n).map(|i| (i * 5 + i / 7) % 3).collect();
        (x, labels)
    }

    #[test]
    fn matches_naive_for_every_metric_across_tiles() {
        let (x, labels) = data(1100, 4);
        for metric in [Metric::Euclidean, Metric::Manhattan, Metric::Chebyshev, Metric::Minkowski(3.0)] {
            let got = silhouette_samples(x.view(), &labels, 3, metric, &Cancel::new()).unwrap();
            // the query-chunk schedule (used when n x k sums would be too large)
            let chunked = silhouette_impl(x.view(), &labels, 3, metric, 0, &Cancel::new()).unwrap();
            let want = naive(&x, &labels, 3, metric);
            for ((a, b), c) in got.iter().zip(&want).zip(&chunked) {
                assert!((a - c).abs() <= 1e-12, "{metric:?}: {a} vs {c}");
                // Coefficients live in [-1, 1]; the euclidean GEMM formula (scikit-learn's) has
                // cancellation error on close pairs, so compare absolutely.
                assert!((a - b).abs() <= 1e-9, "{metric:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn round_robin_covers_every_block_pair() {
        // 13 blocks (odd: one bye per round) across several rounds; compare with naive.
        let (x, labels) = data(BS * 12 + 17, 2);
        let got = silhouette_samples(x.view(), &labels, 3, Metric::Manhattan, &Cancel::new()).unwrap();
        let chunked = silhouette_impl(x.view(), &labels, 3, Metric::Manhattan, 0, &Cancel::new()).unwrap();
        for (a, b) in got.iter().zip(&chunked) {
            assert!((a - b).abs() <= 1e-12);
        }
    }

    #[test]
    fn singleton_cluster_gets_zero_and_threads_do_not_matter() {
        let x = array![[0.0f64, 0.0], [0.0, 1.0], [5.0, 5.0], [9.0, 9.0]];
        let labels = [0, 0, 1, 2];
        let s = silhouette_samples(x.view(), &labels, 3, Metric::Euclidean, &Cancel::new()).unwrap();
        assert_eq!(s[2], 0.0);
        assert_eq!(s[3], 0.0);
        assert!(s[0] > 0.0);
        let (x, labels) = data(700, 3);
        let a = rml_core::threads::with_n_jobs(Some(1), || {
            silhouette_samples(x.view(), &labels, 3, Metric::Euclidean, &Cancel::new())
        })
        .unwrap()
        .unwrap();
        let b = rml_core::threads::with_n_jobs(Some(3), || {
            silhouette_samples(x.view(), &labels, 3, Metric::Euclidean, &Cancel::new())
        })
        .unwrap()
        .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn precomputed_matches_feature_path() {
        let (x, labels) = data(200, 4);
        let n = x.nrows();
        let dmat = Array2::from_shape_fn((n, n), |(i, j)| {
            Metric::Manhattan.dist(x.row(i).as_slice().unwrap(), x.row(j).as_slice().unwrap())
        });
        let a = silhouette_samples_precomputed(dmat.view(), &labels, 3, &Cancel::new()).unwrap();
        let b = silhouette_samples(x.view(), &labels, 3, Metric::Manhattan, &Cancel::new()).unwrap();
        for (u, v) in a.iter().zip(&b) {
            assert!((u - v).abs() < 1e-12);
        }
        assert!(silhouette_samples_precomputed(dmat.slice(s![..10, ..]), &labels, 3, &Cancel::new()).is_err());
    }
}

#[cfg(test)]
mod timing {
    use super::*;
    use std::time::Instant;

    #[test]
    #[ignore]
    fn time_parts() {
        let (n, d) = (20000usize, 16usize);
        let x = Array2::from_shape_fn((n, d), |(i, j)| ((i * 7919 + j * 104729) % 1013) as f64 / 97.0);
        let xq = x.slice(s![0..BQ, ..]);
        let mut g = Array2::<f64>::zeros((BQ, BT));
        let t = Instant::now();
        let mut t0 = 0;
        while t0 + BT <= n {
            let xt = x.slice(s![t0..t0 + BT, ..]);
            general_mat_mul(1.0, &xq, &xt.t(), 0.0, &mut g);
            t0 += BT;
        }
        let per_chunk = t.elapsed().as_secs_f64();
        println!("gemm one query chunk over all tiles: {:.3} ms -> full n: {:.3} s (1 thread)", per_chunk * 1e3, per_chunk * (n / BQ) as f64);
        let norms = vec![1.0f64; BT];
        let mut dist = vec![0.0f64; BT];
        let avx2 = has_avx2();
        let t = Instant::now();
        let mut acc = 0.0;
        for _ in 0..(n / BT) {
            for q in 0..BQ {
                euclid_row(g.row(q).as_slice().unwrap(), 2.0, &norms, &mut dist, avx2);
                acc += sum_lanes(&dist);
            }
        }
        let e = t.elapsed().as_secs_f64();
        println!("epilogue per chunk {:.3} ms -> full {:.3} s; avx2={avx2} {acc}", e * 1e3, e * (n / BQ) as f64);
    }
}
