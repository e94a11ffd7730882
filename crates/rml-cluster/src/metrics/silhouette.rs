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
            let want = naive(&x, &labels, 3, metric);
            for (a, b) in got.iter().zip(&want) {
                // Coefficients live in [-1, 1]; the euclidean GEMM formula (scikit-learn's) has
                // cancellation error on close pairs, so compare absolutely.
                assert!((a - b).abs() <= 1e-9, "{metric:?}: {a} vs {b}");
            }
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
