//! Per-cluster sizes, centroids and dispersions: everything Calinski-Harabasz and
//! Davies-Bouldin need, from two reads of each cluster's rows.

use super::{group_by_label, label_counts};
use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use rml_core::{ensure, Cancel, Float, RmlError, RmlResult};

/// Per-cluster statistics, all accumulated in `f64`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dispersion {
    /// Samples per cluster.
    pub counts: Vec<usize>,
    /// Per-cluster sum of the rows (k × d); centroid = sums / count.
    pub sums: Array2<f64>,
    /// Σ ‖x − centroid‖² over each cluster (Calinski-Harabasz's within-cluster dispersion).
    pub sum_sq: Vec<f64>,
    /// Σ ‖x − centroid‖ over each cluster (Davies-Bouldin's intra-cluster distance × count).
    pub sum_dist: Vec<f64>,
}

/// Rows per task when a cluster is split for parallelism (a fixed size, so the merge order,
/// hence the result, does not depend on the thread count).
const TASK_ROWS: usize = 16384;

/// Rows per block of the streaming schedule (fixed, so the merge order is too).
const STREAM_ROWS: usize = 8192;
/// Streaming schedule when the per-block accumulators (k × d) are at most this many values.
const STREAM_MAX_KD: usize = 8192;

/// Few clusters: read X in row order (prefetch-friendly), per fixed block of rows accumulate
/// per-cluster sums, merge blocks in order; then a second streaming pass for the dispersions.
fn streaming<F: Float>(
    xs: &[F],
    d: usize,
    labels: &[usize],
    counts: Vec<usize>,
    cancel: &Cancel,
) -> RmlResult<Dispersion> {
    let k = counts.len();
    let n = labels.len();
    let blocks: Vec<usize> = (0..n).step_by(STREAM_ROWS).collect();
    let rows = |b: usize| b..(b + STREAM_ROWS).min(n);
    cancel.check()?;
    let partial: Vec<Vec<f64>> = blocks
        .par_iter()
        .map(|&b| {
            let mut acc = vec![0.0f64; k * d];
            for i in rows(b) {
                let l = labels[i];
                for (a, &v) in acc[l * d..(l + 1) * d].iter_mut().zip(&xs[i * d..(i + 1) * d]) {
                    *a += v.as_f64();
                }
            }
            acc
        })
        .collect();
    let mut sums = Array2::<f64>::zeros((k, d));
    {
        let flat = sums.as_slice_mut().ok_or_else(|| RmlError::Internal("sums".into()))?;
        for p in &partial {
            for (a, &v) in flat.iter_mut().zip(p) {
                *a += v;
            }
        }
    }
    let centroids: Vec<f64> = (0..k)
        .flat_map(|c| {
            let m = counts[c].max(1) as f64;
            sums.row(c).iter().map(move |&s| s / m).collect::<Vec<_>>()
        })
        .collect();
    cancel.check()?;
    let partial: Vec<Vec<f64>> = blocks
        .par_iter()
        .map(|&b| {
            let mut acc = vec![0.0f64; 2 * k];
            for i in rows(b) {
                let l = labels[i];
                let mut r = 0.0f64;
                for (&v, &m) in xs[i * d..(i + 1) * d].iter().zip(&centroids[l * d..(l + 1) * d]) {
                    let t = v.as_f64() - m;
                    r += t * t;
                }
                acc[2 * l] += r;
                acc[2 * l + 1] += r.sqrt();
            }
            acc
        })
        .collect();
    let mut sum_sq = vec![0.0f64; k];
    let mut sum_dist = vec![0.0f64; k];
    for p in &partial {
        for c in 0..k {
            sum_sq[c] += p[2 * c];
            sum_dist[c] += p[2 * c + 1];
        }
    }
    Ok(Dispersion { counts, sums, sum_sq, sum_dist })
}

/// Per-cluster sizes, sums, and sums of (squared) euclidean distances to the centroid.
///
/// Two reads of X: pass 1 sums the rows per cluster (centroid = sum / count), pass 2
/// accumulates ‖x − c‖² and ‖x − c‖ computed directly (no norm trick), all in `f64`.
/// With few clusters (k·d ≤ 8192) X is streamed in row order in fixed blocks of 8192 rows
/// whose per-cluster partials are merged in block order. With many clusters, samples are
/// grouped by label with a counting sort (O(n) indices) and each cluster is cut into
/// fixed-size pieces merged in order. Either way the result is the same for every thread
/// count. Memory: O(n / 8192 · k · d) or O(n + k·d).
pub fn cluster_dispersion<F: Float>(
    x: ArrayView2<'_, F>,
    labels: &[usize],
    n_clusters: usize,
    cancel: &Cancel,
) -> RmlResult<Dispersion> {
    let (n, d) = x.dim();
    ensure!(n_clusters >= 1, "n_clusters must be at least 1");
    let counts = label_counts(labels, n, n_clusters)?;
    let (order, offsets) = group_by_label(labels, &counts);
    let x = if x.is_standard_layout() { ndarray::CowArray::from(x) } else { ndarray::CowArray::from(x.as_standard_layout().into_owned()) };
    let xs = x.as_slice().ok_or_else(|| RmlError::Internal("not contiguous".into()))?;
    if n_clusters.saturating_mul(d.max(1)) <= STREAM_MAX_KD {
        return Ok(streaming(xs, d, labels, counts, cancel)?);
    }
    // Tasks: (cluster, start, end) pieces of `order`.
    let mut tasks = Vec::new();
    for c in 0..n_clusters {
        let (a, b) = (offsets[c], offsets[c + 1]);
        let mut s = a;
        while s < b {
            let e = (s + TASK_ROWS).min(b);
            tasks.push((c, s, e));
            s = e;
        }
    }
    let row = |i: usize| &xs[i * d..(i + 1) * d];
    cancel.check()?;
    let partial_sums: Vec<Vec<f64>> = tasks
        .par_iter()
        .map(|&(_, s, e)| {
            let mut acc = vec![0.0f64; d];
            for &i in &order[s..e] {
                for (a, &v) in acc.iter_mut().zip(row(i)) {
                    *a += v.as_f64();
                }
            }
            acc
        })
        .collect();
    let mut sums = Array2::<f64>::zeros((n_clusters, d));
    for (&(c, _, _), p) in tasks.iter().zip(&partial_sums) {
        for (a, &v) in sums.row_mut(c).iter_mut().zip(p) {
            *a += v;
        }
    }
    let centroids: Vec<Vec<f64>> = (0..n_clusters)
        .map(|c| {
            let m = counts[c].max(1) as f64;
            sums.row(c).iter().map(|&s| s / m).collect()
        })
        .collect();
    cancel.check()?;
    let partial_disp: Vec<(f64, f64)> = tasks
        .par_iter()
        .map(|&(c, s, e)| {
            let cen = &centroids[c];
            let (mut sq, mut dist) = (0.0f64, 0.0f64);
            for &i in &order[s..e] {
                let mut r = 0.0f64;
                for (&v, &m) in row(i).iter().zip(cen) {
                    let t = v.as_f64() - m;
                    r += t * t;
                }
                sq += r;
                dist += r.sqrt();
            }
            (sq, dist)
        })
        .collect();
    let mut sum_sq = vec![0.0f64; n_clusters];
    let mut sum_dist = vec![0.0f64; n_clusters];
    for (&(c, _, _), &(sq, dist)) in tasks.iter().zip(&partial_disp) {
        sum_sq[c] += sq;
        sum_dist[c] += dist;
    }
    Ok(Dispersion { counts, sums, sum_sq, sum_dist })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn two_clusters_by_hand() {
        let x = array![[0.0f64, 0.0], [10.0, 10.0], [2.0, 0.0], [14.0, 10.0]];
        let r = cluster_dispersion(x.view(), &[0, 1, 0, 1], 2, &Cancel::new()).unwrap();
        assert_eq!(r.counts, vec![2, 2]);
        assert_eq!(r.sums, array![[2.0, 0.0], [24.0, 20.0]]);
        assert_eq!(r.sum_sq, vec![2.0, 8.0]);
        assert_eq!(r.sum_dist, vec![2.0, 4.0]);
    }

    #[test]
    fn streaming_and_grouped_schedules_agree() {
        let (n, d, k) = (20000, 3, 5000); // k·d > 8192: grouped
        let x = Array2::from_shape_fn((n, d), |(i, j)| ((i * 31 + j * 17) % 101) as f64 * 0.37);
        let labels: Vec<usize> = (0..n).map(|i| (i * 7) % k).collect();
        let big = cluster_dispersion(x.view(), &labels, k, &Cancel::new()).unwrap();
        let small_labels: Vec<usize> = labels.iter().map(|&l| l % 3).collect();
        let a = cluster_dispersion(x.view(), &small_labels, 3, &Cancel::new()).unwrap();
        // regroup the big result's clusters into 3 by hand and compare sums/counts
        let mut counts = [0usize; 3];
        for c in 0..k {
            counts[c % 3] += big.counts[c];
        }
        assert_eq!(a.counts, counts.to_vec());
        for c in 0..k {
            let n_c = big.counts[c] as f64;
            assert!(big.sum_sq[c] >= 0.0 && big.sum_dist[c] >= 0.0 && n_c > 0.0);
        }
        let total: f64 = big.sums.sum();
        assert!((total - a.sums.sum()).abs() <= 1e-9 * total.abs());
        // grouped path against a naive computation on one cluster
        let c = 11;
        let rows: Vec<usize> = (0..n).filter(|&i| labels[i] == c).collect();
        let cen: Vec<f64> = (0..d).map(|j| rows.iter().map(|&i| x[[i, j]]).sum::<f64>() / rows.len() as f64).collect();
        let sq: f64 = rows.iter().map(|&i| (0..d).map(|j| (x[[i, j]] - cen[j]).powi(2)).sum::<f64>()).sum();
        assert!((big.sum_sq[c] - sq).abs() <= 1e-9 * sq.max(1.0));
    }

    #[test]
    fn bad_labels_are_errors() {
        let x = array![[0.0f32], [1.0]];
        assert!(cluster_dispersion(x.view(), &[0, 2], 2, &Cancel::new()).is_err());
        assert!(cluster_dispersion(x.view(), &[0], 2, &Cancel::new()).is_err());
    }
}
