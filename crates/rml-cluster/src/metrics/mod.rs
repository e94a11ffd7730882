//! Clustering metrics: silhouette (per-sample coefficients from chunked pairwise distances),
//! and the per-cluster statistics behind Calinski-Harabasz and Davies-Bouldin.
//!
//! Labels are encoded `0..n_clusters` (the Python layer applies scikit-learn's
//! `LabelEncoder`, so noise `-1` is just another label). Every kernel is parallel with
//! fixed-order reductions: results do not depend on the number of threads.

pub mod dispersion;
pub mod silhouette;

pub use dispersion::{cluster_dispersion, Dispersion};
pub use silhouette::{silhouette_samples, silhouette_samples_precomputed};

use rml_core::{ensure, RmlResult};

/// Check `labels` (all `< n_clusters`, length `n`) and return the cluster sizes.
pub(crate) fn label_counts(labels: &[usize], n: usize, n_clusters: usize) -> RmlResult<Vec<usize>> {
    ensure!(labels.len() == n, "labels has {} entries, expected {}", labels.len(), n);
    let mut counts = vec![0usize; n_clusters];
    for &l in labels {
        ensure!(l < n_clusters, "label {} out of range for {} clusters", l, n_clusters);
        counts[l] += 1;
    }
    Ok(counts)
}

/// Stable counting sort of sample indices by label: `(order, offsets)` with cluster `c`'s
/// samples at `order[offsets[c]..offsets[c + 1]]`, in increasing sample order.
pub(crate) fn group_by_label(labels: &[usize], counts: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let mut offsets = Vec::with_capacity(counts.len() + 1);
    offsets.push(0);
    for &c in counts {
        offsets.push(offsets.last().copied().unwrap_or(0) + c);
    }
    let mut next = offsets[..counts.len()].to_vec();
    let mut order = vec![0usize; labels.len()];
    for (i, &l) in labels.iter().enumerate() {
        order[next[l]] = i;
        next[l] += 1;
    }
    (order, offsets)
}
