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
fn streaming<F: Float, C: Fn(usize) -> usize + Sync>(
    xs: &[F],
    d: usize,
    n: usize,
    label: C,
    counts: Vec<usize>,
    cancel: &Cancel,
) -> RmlResult<Dispersion> {
    let k = counts.len();
    let blocks: Vec<usize> = (0..n).step_by(STREAM_ROWS).collect();
    let rows = |b: usize| b..(b + STREAM_ROWS).min(n);
    cancel.check()?;
    let partial: Vec<Vec<f64>> = blocks
        .par_iter()
        .map(|&b| {
            let mut acc = vec![0.0f64; k * d];
            for i in rows(b) {
                let l = label(i);
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
                let l = label(i);
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
    let x = if x.is_standard_layout() { ndarray::CowArray::from(x) } else { ndarray::CowArray::from(x.as_standard_layout().into_owned()) };
    let xs = x.as_slice().ok_or_else(|| RmlError::Internal("not contiguous".into()))?;
    if n_clusters.saturating_mul(d.max(1)) <= STREAM_MAX_KD {
        return streaming(xs, d, n, |i| labels[i], counts, cancel);
    }
    let (order, offsets) = group_by_label(labels, &counts);
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

/// Integer labels encoded as scikit-learn's `LabelEncoder` encodes them (code = rank of the
/// value among the sorted distinct values), in `O(n + span)` without sorting: a count per
/// value of `lo..=hi` and a prefix sum over the values present.
#[derive(Debug, Clone)]
pub struct DenseCodes {
    /// Smallest label.
    pub lo: i64,
    /// `code[v - lo]` for every value `v` in `lo..=hi` (meaningful where the value occurs).
    pub code: Vec<u32>,
    /// Samples per code (per distinct label, in sorted label order).
    pub counts: Vec<usize>,
}

impl DenseCodes {
    /// Number of distinct labels.
    pub fn n_labels(&self) -> usize {
        self.counts.len()
    }

    #[inline(always)]
    fn of(&self, label: i64) -> usize {
        self.code[(label - self.lo) as usize] as usize
    }
}

/// Rows per block of the label passes (fixed, so nothing depends on the thread count).
const LABEL_ROWS: usize = 65536;

/// [`DenseCodes`] of `labels`, or `None` when the value span exceeds `2 n + 1024` (the caller
/// then sorts, as `LabelEncoder` does) or `labels` is empty.
pub fn dense_codes(labels: &[i64], cancel: &Cancel) -> RmlResult<Option<DenseCodes>> {
    let n = labels.len();
    if n == 0 {
        return Ok(None);
    }
    cancel.check()?;
    let (lo, hi) = labels
        .par_chunks(LABEL_ROWS)
        .map(|c| c.iter().fold((i64::MAX, i64::MIN), |(a, b), &v| (a.min(v), b.max(v))))
        .reduce(|| (i64::MAX, i64::MIN), |(a, b), (c, e)| (a.min(c), b.max(e)));
    let span = (hi as i128 - lo as i128) as u128;
    if span > (2 * n as u128 + 1024) || span >= u32::MAX as u128 {
        return Ok(None);
    }
    let width = span as usize + 1;
    // Histogram over the span: per block when the span is small, else one sequential pass.
    let hist: Vec<usize> = if width <= 4096 {
        let parts: Vec<Vec<usize>> = labels
            .par_chunks(LABEL_ROWS)
            .map(|c| {
                let mut h = vec![0usize; width];
                for &v in c {
                    h[(v - lo) as usize] += 1;
                }
                h
            })
            .collect();
        let mut h = vec![0usize; width];
        for p in &parts {
            for (a, &b) in h.iter_mut().zip(p) {
                *a += b;
            }
        }
        h
    } else {
        let mut h = rml_core::size::try_zeroed_vec::<usize>(width, 1, "label histogram")?;
        for &v in labels {
            h[(v - lo) as usize] += 1;
        }
        h
    };
    let mut code = rml_core::size::try_zeroed_vec::<u32>(width, 1, "label codes")?;
    let mut counts = Vec::new();
    for (v, &c) in hist.iter().enumerate() {
        if c > 0 {
            code[v] = counts.len() as u32;
            counts.push(c);
        }
    }
    Ok(Some(DenseCodes { lo, code, counts }))
}

/// [`cluster_dispersion`] straight from integer labels (any values, e.g. `-1` for noise),
/// encoded as `LabelEncoder` does by [`dense_codes`]; `None` when the labels are too sparse
/// for that (the caller encodes them by sorting). Returns the number of distinct labels too.
/// With few clusters (`k·d <= 8192`) the codes are looked up on the fly during the two
/// streaming passes; otherwise they are materialised for the grouped schedule.
pub fn cluster_dispersion_labels<F: Float>(
    x: ArrayView2<'_, F>,
    labels: &[i64],
    cancel: &Cancel,
) -> RmlResult<Option<(usize, Dispersion)>> {
    let (n, d) = x.dim();
    ensure!(labels.len() == n, "labels has {} entries, expected {}", labels.len(), n);
    let Some(codes) = dense_codes(labels, cancel)? else {
        return Ok(None);
    };
    let k = codes.n_labels();
    if k.saturating_mul(d.max(1)) <= STREAM_MAX_KD {
        let x = if x.is_standard_layout() { ndarray::CowArray::from(x) } else { ndarray::CowArray::from(x.as_standard_layout().into_owned()) };
        let xs = x.as_slice().ok_or_else(|| RmlError::Internal("not contiguous".into()))?;
        let counts = codes.counts.clone();
        let disp = streaming(xs, d, n, |i| codes.of(labels[i]), counts, cancel)?;
        return Ok(Some((k, disp)));
    }
    let enc: Vec<usize> = labels.iter().map(|&l| codes.of(l)).collect();
    Ok(Some((k, cluster_dispersion(x, &enc, k, cancel)?)))
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
    fn raw_labels_encode_as_label_encoder() {
        let x = array![[0.0f64, 0.0], [10.0, 10.0], [2.0, 0.0], [14.0, 10.0], [1.0, 1.0]];
        // values -7, 40, -7, 40, 3 -> sorted distinct [-7, 3, 40] -> codes 0, 2, 0, 2, 1
        let raw = [-7i64, 40, -7, 40, 3];
        let (k, a) = cluster_dispersion_labels(x.view(), &raw, &Cancel::new()).unwrap().unwrap();
        assert_eq!(k, 3);
        let b = cluster_dispersion(x.view(), &[0, 2, 0, 2, 1], 3, &Cancel::new()).unwrap();
        assert_eq!(a, b);
        // too sparse for the dense encoding: the caller sorts
        assert!(cluster_dispersion_labels(x.view(), &[0, i64::MAX, 0, 1, 1], &Cancel::new()).unwrap().is_none());
        assert!(cluster_dispersion_labels(x.view(), &[i64::MIN, i64::MAX, 0, 1, 1], &Cancel::new()).unwrap().is_none());
        assert!(cluster_dispersion_labels(x.view(), &[0, 1], &Cancel::new()).is_err());
        // many clusters (grouped schedule) and a wide histogram
        let n = 30000;
        let xb = Array2::from_shape_fn((n, 3), |(i, j)| ((i * 13 + j * 7) % 97) as f64);
        let raw: Vec<i64> = (0..n).map(|i| ((i * 7919) % 5003) as i64 * 3 - 4000).collect();
        let (k, a) = cluster_dispersion_labels(xb.view(), &raw, &Cancel::new()).unwrap().unwrap();
        let mut sorted = raw.clone();
        sorted.sort_unstable();
        sorted.dedup();
        let enc: Vec<usize> = raw.iter().map(|v| sorted.binary_search(v).unwrap()).collect();
        assert_eq!(k, sorted.len());
        assert_eq!(a, cluster_dispersion(xb.view(), &enc, k, &Cancel::new()).unwrap());
    }

    #[test]
    fn bad_labels_are_errors() {
        let x = array![[0.0f32], [1.0]];
        assert!(cluster_dispersion(x.view(), &[0, 2], 2, &Cancel::new()).is_err());
        assert!(cluster_dispersion(x.view(), &[0], 2, &Cancel::new()).is_err());
    }
}
