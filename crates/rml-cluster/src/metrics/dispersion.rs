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

/// Per-cluster sizes, sums, and sums of (squared) euclidean distances to the centroid.
///
/// Samples are grouped by label with a counting sort (O(n) indices); each cluster is cut into
/// fixed-size pieces processed in parallel and merged in order: pass 1 sums the rows (centroid
/// = sum / count), pass 2 accumulates ‖x − c‖² and ‖x − c‖ computed directly (no norm trick).
/// Memory: O(n) indices plus O(k·d).
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
    fn bad_labels_are_errors() {
        let x = array![[0.0f32], [1.0]];
        assert!(cluster_dispersion(x.view(), &[0, 2], 2, &Cancel::new()).is_err());
        assert!(cluster_dispersion(x.view(), &[0], 2, &Cancel::new()).is_err());
    }
}
